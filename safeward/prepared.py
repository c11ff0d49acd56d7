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
pooling PgBouncer) the statements are bound on the server, not prepared.

`overlapped()` sends a block's statements without waiting for their answers
(psycopg's pipeline mode), so the server executes a list's audit event while
the list's rows are decrypted (ADR 0592)."""

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


def in_pipeline() -> bool:
    """Whether this connection is inside `overlapped()` (a statement's answer is then not waited for)."""
    if connection.vendor != "postgresql" or connection.connection is None:
        return False
    return bool(connection.connection.pgconn.pipeline_status)


@contextmanager
def overlapped() -> Iterator[None]:
    """PostgreSQL: statements executed in the block are sent at once and not
    waited for; the server runs them while the block's Python goes on, and
    the block ends only when every one of them has completed, raising the
    first one's error as Django does. A statement whose rows the block reads
    (any ORM query) waits for its answer on the spot, as outside the block,
    and so does a transaction begun in the block. Elsewhere than PostgreSQL
    the block runs as it is."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    begin = connection._set_autocommit  # type: ignore[attr-defined]

    def begin_after_what_was_sent(autocommit: bool) -> None:
        # psycopg refuses to start a transaction (an `atomic` block in the
        # block) while a statement is in flight: wait for them first.
        pipeline.sync()
        begin(autocommit)

    with connection.wrap_database_errors, connection.connection.pipeline() as pipeline:
        setattr(connection, "_set_autocommit", begin_after_what_was_sent)  # noqa: B010 - for this block only
        try:
            yield
        finally:
            delattr(connection, "_set_autocommit")  # the backend's own method again


def sync_sent() -> None:
    """Inside `overlapped()`: end what was sent so far with a Sync, without
    waiting for the answers. Outside a transaction the server then commits
    it at once (an implicit transaction ends at a Sync), so the commit's
    WAL flush overlaps the block's Python too. psycopg has no public call for
    this (`Pipeline.sync()` waits for every answer); its pipeline's own
    queueing is used, pinned by tests/audit/test_overlapped_event.py."""
    raw = connection.connection
    pipeline = raw._pipeline
    assert pipeline is not None, "sync_sent() is for a block of overlapped()"
    with connection.wrap_database_errors:
        pipeline._enqueue_sync()
        raw.wait(pipeline._communicate_gen())


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
