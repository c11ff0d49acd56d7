"""Issue 18: a signed control run, its results and their resource rows
cannot be updated or deleted in place (a trigger on each engine,
safeward/assessments/dbguard.py, ADR 0941)."""

from django.db import migrations

from safeward.assessments import dbguard


def install(apps, schema_editor):
    for statement in dbguard.install_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def remove(apps, schema_editor):
    for statement in dbguard.remove_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("assessments", "0002_campaigns_risks")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
