"""The event encoding each seal names (ADR 1610): existing seals were made
with format 1 (canonical JSON) and keep it; new seals use format 2.

On PostgreSQL ADD COLUMN with a default fires no row trigger. On SQLite
Django adds the column by rebuilding the table, which drops the append-only
triggers of 0004 with the old table: they are installed again here (the
statements are idempotent), as in 0006."""

from django.db import migrations, models

from safeward.audit import dbguard


def guard_again(apps, schema_editor):
    for statement in dbguard.install_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_action_vocabulary")]

    operations = [
        migrations.AddField(
            model_name="auditseal",
            name="format_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.RunPython(guard_again, migrations.RunPython.noop, elidable=False),
    ]
