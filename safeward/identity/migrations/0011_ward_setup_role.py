from django.db import migrations


def sync(apps, schema_editor):
    from safeward.identity.roles import sync_roles

    sync_roles(apps.get_model("identity", "Role"))


class Migration(migrations.Migration):
    """The IT administrator sets up wards and beds (facility:ward:manage, ADR 0583)."""

    dependencies = [
        ("identity", "0010_session_created_index"),
    ]

    operations = [
        migrations.RunPython(sync, migrations.RunPython.noop),
    ]
