"""Issue 19: the three old states move forward (open -> new, contained and
closed stay) and the chain of custody becomes append-only in the database:
a trigger refuses UPDATE and DELETE on `incidents_custodyevent` (as the
audit trail's guard does, safeward/audit/dbguard.py). TRUNCATE is left
to the test suite's flush (ADR 1401)."""

from django.db import migrations

TABLE = "incidents_custodyevent"
SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, 'the chain of custody is append-only'); END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, 'the chain of custody is append-only'); END",
]
POSTGRES = [
    "CREATE OR REPLACE FUNCTION incidents_custody_refuse() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the chain of custody is append-only'; END; $$ LANGUAGE plpgsql",
    f"DROP TRIGGER IF EXISTS {TABLE}_guard ON {TABLE}",
    f"CREATE TRIGGER {TABLE}_guard BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION incidents_custody_refuse()",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in SQLITE if vendor == "sqlite" else POSTGRES if vendor == "postgresql" else []:
        schema_editor.execute(statement, params=None)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for kind in ("no_update", "no_delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{kind}", params=None)
    elif vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_guard ON {TABLE}", params=None)


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
