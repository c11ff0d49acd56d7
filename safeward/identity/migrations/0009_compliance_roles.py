from django.db import migrations


def sync(apps, schema_editor):
    from safeward.identity.roles import sync_roles

    sync_roles(apps.get_model("identity", "Role"))


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0008_ward_roles"),
    ]

    operations = [
        migrations.RunPython(sync, migrations.RunPython.noop),
    ]
