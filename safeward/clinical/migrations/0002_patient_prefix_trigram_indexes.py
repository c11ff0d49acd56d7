"""Make partial name search indexable on PostgreSQL.

`BlindPrefixField` columns hold space-separated hex tokens and are searched
with `LIKE '%token%'`, which no B-tree can serve: at a million patients that
is a sequential scan. A trigram GIN index (`pg_trgm`) serves `LIKE '%...%'`
directly, with the same query and the same results. PostgreSQL only; on
other databases this migration does nothing (docs/crypto.md, ADR 0510).
"""

from django.db import migrations

INDEXES = (
    ("clin_patient_family_prefix_trgm", "family_name_prefixes"),
    ("clin_patient_given_prefix_trgm", "given_name_prefixes"),
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON clinical_patient USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("clinical", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
