"""PostgreSQL: a manifest's patient list is compressed with lz4 instead of
pglz (ADR 0814). A 1,000-patient list is ~37 KB of JSON, stored out of line
and compressed; pglz took about twice lz4's time on the insert. Values
already stored stay as they are (no rewrite). A server built without lz4
keeps pglz; other databases have nothing to change."""

from collections.abc import Callable

from django.db import NotSupportedError, migrations, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

COLUMN = "ALTER TABLE assets_exportmanifest ALTER COLUMN patient_ids SET COMPRESSION {}"


def _compression(method: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    def apply(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        # A savepoint: a server without lz4 refuses the change and the migration goes on.
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                schema_editor.execute(COLUMN.format(method))
        except NotSupportedError:
            pass  # compiled without lz4 (--without-lz4): pglz, as before

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("assets", "0004_client_links"),
    ]

    operations = [
        migrations.RunPython(_compression("lz4"), _compression("DEFAULT")),
    ]
