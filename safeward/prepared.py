"""A cursor whose statements PostgreSQL prepares once per connection (ADR 0591).

Django's cursors bind parameters on the client (psycopg's `ClientCursor`),
so the server parses and plans every statement again. A few hot statements
have a fixed text and run on every list and chart: the relationship-facts
statement (a UNION ALL over care team, encounters, appointments, grants and
restrictions, about 0.5 ms to plan) and the audit event's insert. Through
this cursor they are bound on the server and prepared on their first use in
a connection, then only bound and executed.

The cursor is Django's wrapper around a psycopg server-binding cursor, so the
connection's execute wrappers (the one-door guard in the tests, query
counting) and its error translation see these statements like any other.
The settings give psycopg a `prepare_threshold` so that it may prepare at
all (Django's default None turns preparing off, and its own cursors never
prepare). Elsewhere than PostgreSQL it is an ordinary cursor; with
`prepare_threshold` None in the database OPTIONS (behind a transaction-
pooling PgBouncer) the statements are bound on the server, not prepared."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper


class _Preparing(psycopg.Cursor[Any]):
    """psycopg's server-binding cursor, asking to prepare every statement it runs."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = True, **kwargs: Any) -> Any:
        return super().execute(query, params, prepare=prepare, **kwargs)


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose `execute` prepares its statement on the server (PostgreSQL)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as plain:
            yield plain
        return
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _Preparing(connection.connection)
    # Django's own wrapping of a new cursor (thread check, debug logging).
    wrapped: CursorWrapper = connection._prepare_cursor(raw)  # type: ignore[attr-defined]
    with wrapped:
        yield wrapped
