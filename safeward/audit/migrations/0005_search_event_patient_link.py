"""The patient index of multi-patient events (ADR 0208): one row per patient a
search page, a clinic day or a worklist disclosed. On PostgreSQL it is
partitioned by month of `occurred_at` like the event table (one partition
per month the event table has, a DEFAULT for the rest), and on both engines
the append-only guard of migration 0004 covers it."""

from django.db import migrations, models

from safeward.audit import dbguard

TABLE = dbguard.LINK_TABLE


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> %s",
            [TABLE, f"{TABLE}_pkey"],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT child.relname, pg_get_expr(child.relpartbound, child.oid) FROM pg_inherits "
            "JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE parent.relname = %s AND child.relname <> %s",
            [dbguard.EVENT_TABLE, f"{dbguard.EVENT_TABLE}_default"],
        )
        months = cursor.fetchall()
        statements = [
            f"CREATE TABLE {TABLE}_new (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "PARTITION BY RANGE (occurred_at)",
            f"CREATE SEQUENCE {TABLE}_seq AS bigint",
            f"ALTER TABLE {TABLE}_new ALTER COLUMN id SET DEFAULT nextval('{TABLE}_seq')",
            f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE}_new DEFAULT",
            *(
                f"CREATE TABLE {name.replace(dbguard.EVENT_TABLE, TABLE, 1)} PARTITION OF {TABLE}_new {bounds}"
                for name, bounds in months
            ),
            f"DROP TABLE {TABLE}",
            f"ALTER TABLE {TABLE}_new RENAME TO {TABLE}",
            f"ALTER SEQUENCE {TABLE}_seq OWNED BY {TABLE}.id",
            f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, occurred_at)",
        ]
        for statement in statements:
            cursor.execute(statement)
        for _name, definition in indexes:
            cursor.execute(definition)


def install(apps, schema_editor):
    for statement in dbguard.link_install_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def remove(apps, schema_editor):
    for statement in dbguard.link_remove_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_append_only")]

    operations = [
        migrations.CreateModel(
            name="AuditEventPatient",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("event_id", models.BigIntegerField()),
                ("occurred_at", models.DateTimeField()),
                ("patient_id", models.CharField(max_length=64)),
            ],
            options={
                "ordering": ["event_id", "patient_id"],
                "indexes": [
                    models.Index(
                        fields=["patient_id", "occurred_at", "event_id"], name="audit_link_patient_time"
                    ),
                    models.Index(fields=["event_id"], name="audit_link_event"),
                ],
            },
        ),
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(install, remove, elidable=False),
    ]
