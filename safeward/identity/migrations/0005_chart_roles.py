from django.db import migrations


def sync(apps, schema_editor):
    from safeward.identity.roles import sync_roles

    sync_roles(apps.get_model("identity", "Role"))


class Migration(migrations.Migration):
    """The physician decides patients' amendment requests (clinical:amendment:decide)."""

    dependencies = [("identity", "0004_res_roles")]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
