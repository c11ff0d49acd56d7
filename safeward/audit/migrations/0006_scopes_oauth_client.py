"""The OAuth client on each audit event (ADR 0208): `client_id` and
`client_name`, empty for everything but requests made with a bearer token.

On PostgreSQL (partitioned by month since 0003) ADD COLUMN reaches every
partition and fires no row trigger. On SQLite Django adds a NOT NULL column by
rebuilding the table, which drops the append-only triggers of 0004 with the
old table: they are installed again here (the statements are idempotent)."""

from django.db import migrations, models

from safeward.audit import dbguard


def guard_again(apps, schema_editor):
    for statement in dbguard.install_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_search_event_patient_link")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="client_id",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="client_name",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.RunPython(guard_again, migrations.RunPython.noop, elidable=False),
    ]
