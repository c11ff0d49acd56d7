"""The event table's single-column indexes on actor_id and patient_id (and
PostgreSQL's `varchar_pattern_ops` twin of the latter) go: every read that
used them has the composite (actor_id, occurred_at) and (patient_id,
occurred_at) indexes, and each was one more index written per event. A
partial (client_id, occurred_at) index finds a bearer token's client's
events without reading every partition (ADR 0204).

The indexes are dropped by name in SQL, and only the model state is
altered: on SQLite, Django's AlterField would rebuild the table, and the
rebuilt table would not carry the append-only triggers (migration 0004)."""

from django.db import migrations, models

TABLE = "audit_auditevent"
SINGLE = {
    "audit_auditevent_actor_id_270bb4b7": "actor_id",
    "audit_auditevent_patient_id_82c45eaf": "patient_id",
}
# PostgreSQL's twin of a CharField's index, for LIKE 'prefix%' (no read of the trail uses one).
PATTERN = "audit_auditevent_patient_id_82c45eaf_like"


def drop_single_column_indexes(apps, schema_editor):
    for name in [*SINGLE, PATTERN]:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_single_column_indexes(apps, schema_editor):
    for name, column in SINGLE.items():
        schema_editor.execute(f'CREATE INDEX "{name}" ON "{TABLE}" ("{column}")')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX "{PATTERN}" ON "{TABLE}" ("patient_id" varchar_pattern_ops)')


class Migration(migrations.Migration):
    dependencies = [("audit", "0008_seal_format_version")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(drop_single_column_indexes, create_single_column_indexes, elidable=False)
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent", name="actor_id", field=models.BigIntegerField(null=True)
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="patient_id",
                    field=models.CharField(blank=True, max_length=64),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("client_id", ""), _negated=True),
                fields=["client_id", "occurred_at"],
                name="audit_event_client_time",
            ),
        ),
    ]
