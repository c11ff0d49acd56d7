"""Issue 12: read-only access for the auditor to alerts, incidents and the
review history (`detection:alert:read`, `incident:record:read`,
`audit:review:read`), which the security and privacy officers hold with
their triage and management permissions. Role rows follow the catalog."""

from django.db import migrations


def sync(apps, schema_editor):
    from safeward.identity.roles import sync_roles

    sync_roles(apps.get_model("identity", "Role"))


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0003_signin_single_session_roles"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
