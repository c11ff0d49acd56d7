"""The database refuses UPDATE and DELETE (and on PostgreSQL TRUNCATE) on the
audit tables: a trigger on each engine (safeward/audit/dbguard.py)."""

from django.db import migrations

from safeward.audit import dbguard


def install(apps, schema_editor):
    for statement in dbguard.install_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def remove(apps, schema_editor):
    for statement in dbguard.remove_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_partition_by_time")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
