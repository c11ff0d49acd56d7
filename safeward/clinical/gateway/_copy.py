"""Bulk inserts for the import: COPY on PostgreSQL, `bulk_create` elsewhere.

The values are the ones `bulk_create` would send, computed by the fields
themselves (`pre_save` derives the blind indexes, prefix tokens and plain
years; `get_db_prep_save` encrypts), so a row written here is byte for byte
what the ORM path writes. COPY skips what makes a large INSERT slow in
Python: a statement of thousands of placeholders that the driver escapes
and splices value by value (ADR 1620). Rows need their primary keys set
beforehand (every clinical model's is a UUID made in Python); a database
default fills an auto-incremented one (the report-to-result link table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# The statement size bulk_create is held to on other databases (SQLite's variable limit).
BULK_BATCH = 500


def insert_rows(model: type[models.Model], rows: Sequence[models.Model]) -> None:
    """Insert `rows` (new instances of `model`) in the current transaction."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create(rows, batch_size=BULK_BATCH)
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not getattr(f, "db_returning", False)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)  # type: ignore[arg-type]
    table = connection.ops.quote_name(meta.db_table)
    # Every value first: encrypting may refresh the keyring from the database,
    # which cannot answer on a connection that is in the middle of a COPY.
    values = [[_db_value(field, row) for field in fields] for row in rows]
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row_values in values:
            copy.write_row(row_values)
    for row in rows:  # as bulk_create leaves them: saved, no longer "adding"
        row._state.adding = False
        row._state.db = connection.alias


def _db_value(field: models.Field[Any, Any], row: models.Model) -> Any:
    return field.get_db_prep_save(field.pre_save(row, True), connection)
