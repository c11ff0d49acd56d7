from django.db import migrations, models


def sync(apps, schema_editor):
    from safeward.identity.roles import sync_roles

    sync_roles(apps.get_model("identity", "Role"))


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0007_scan_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="department",
            name="clinical",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(sync, migrations.RunPython.noop),
    ]
