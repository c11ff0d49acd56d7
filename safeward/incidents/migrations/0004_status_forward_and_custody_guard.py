"""Issue 19: the three old states move forward (open -> new, contained and
closed stay) and the chain of custody becomes append-only in the database:
a trigger refuses UPDATE and DELETE on `incidents_custodyevent` (safeward/incidents/dbguard.py,
registered with the audit guard so the test flush lifts it, ADR 0941)."""

from django.db import migrations

from safeward.incidents import dbguard


def install(apps, schema_editor):
    for statement in dbguard.install_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def remove(apps, schema_editor):
    for statement in dbguard.remove_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def forward(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    Incident.objects.filter(status="open").update(status="new")


def backward(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    Incident.objects.filter(status__in=["new", "triage"]).update(status="open")
    Incident.objects.filter(status__in=["eradicated", "recovered"]).update(status="contained")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_case_workflow")]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
        migrations.RunPython(install, remove, elidable=False),
    ]
