from django.db import migrations


def sync(apps, schema_editor):
    from safeward.identity.roles import sync_roles

    sync_roles(apps.get_model("identity", "Role"))


class Migration(migrations.Migration):
    """The nurse records doses given against existing orders:
    clinical:medication:administer (issue 19, ADR 1420)."""

    dependencies = [
        ("identity", "0014_rate_counter"),
    ]

    operations = [
        migrations.RunPython(sync, migrations.RunPython.noop),
    ]
