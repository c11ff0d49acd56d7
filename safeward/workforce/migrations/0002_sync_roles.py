from django.db import migrations


def sync(apps, schema_editor):
    # hr_officer gains identity:role:request (position changes request roles).
    from safeward.identity.roles import sync_roles

    sync_roles(apps.get_model("identity", "Role"))


class Migration(migrations.Migration):
    dependencies = [("workforce", "0001_initial"), ("identity", "0002_seed_roles")]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
