"""On PostgreSQL, turn the event table into a table partitioned by month of
`occurred_at` (declarative partitioning). Django keeps inserting into the
parent; a DEFAULT partition takes rows for months nobody created a partition
for, so an access never fails for want of a partition. `safeward audit
partitions` creates the months ahead (docs/audit.md). SQLite is unchanged."""

from django.db import migrations

TABLE = "audit_auditevent"


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
        statements = [
            f"CREATE TABLE {TABLE}_new (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "PARTITION BY RANGE (occurred_at)",
            f"CREATE SEQUENCE {TABLE}_seq AS bigint",
            f"SELECT setval('{TABLE}_seq', COALESCE((SELECT MAX(id) FROM {TABLE}), 0) + 1, false)",  # noqa: S608 - constant
            f"ALTER TABLE {TABLE}_new ALTER COLUMN id SET DEFAULT nextval('{TABLE}_seq')",
            f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE}_new DEFAULT",
            f"INSERT INTO {TABLE}_new SELECT * FROM {TABLE}",  # noqa: S608 - constant table names
            f"DROP TABLE {TABLE}",
            f"ALTER TABLE {TABLE}_new RENAME TO {TABLE}",
            f"ALTER SEQUENCE {TABLE}_seq OWNED BY {TABLE}.id",
            f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, occurred_at)",
        ]
        for statement in statements:
            cursor.execute(statement)
        for _name, definition in indexes:
            cursor.execute(definition)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_sealing")]

    operations = [migrations.RunPython(partition, migrations.RunPython.noop, elidable=False)]
