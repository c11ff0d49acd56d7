from django.db import migrations


def sync(apps, schema_editor):
    from safeward.identity.roles import sync_roles

    sync_roles(apps.get_model("identity", "Role"))


class Migration(migrations.Migration):
    """The biomedical engineer and the security desk; device, facility, vendor, patching and
    continuity permissions for the existing roles (issues 14-17, 19)."""

    dependencies = [
        ("identity", "0011_ward_setup_role"),
    ]

    operations = [
        migrations.RunPython(sync, migrations.RunPython.noop),
    ]
