"""A cheaper flush after transactional tests on PostgreSQL (ADR 1601).

Django's teardown of a transactional test (`transaction=True`, live_server,
the browser tests) runs `flush`, which on PostgreSQL is one `TRUNCATE` of
every table — about 220 of them, each swapped for a new empty file with its
indexes: 5 to 9 s per test on the shared CI machine, although a test leaves
rows in a dozen tables or so.

Here `sql_flush` asks first which tables hold a row (one statement with an
`EXISTS` probe per table) and empties only those, with `DELETE` in the
flush's transaction. The result is the same as the `TRUNCATE`: every table
empty (sequences are not reset by the test flush either way). The session
is switched to `session_replication_role = replica` for that transaction
only (`SET LOCAL`), which skips the row triggers: the foreign-key checks, so
the order of the deletes does not matter, and the append-only guards (the
audit trail's are lifted by the flush command anyway; the chain of
custody's is not). The content types and permissions stay when they hold
exactly what post_migrate would write back (compared by natural keys with
the freshly built database's), so post_migrate has nothing to insert; a
test that changed them gets them deleted and written back as before.

`session_replication_role` needs a superuser, which the test database's
owner is on the developers' and CI machines; for any other role, and on
SQLite (whose flush is already a cheap `DELETE` per table), Django's own
statements run unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.backends.signals import connection_created


def _tables_with_rows(connection: Any, tables: Iterable[str]) -> list[str]:
    names = list(tables)
    quote = connection.ops.quote_name
    probes = [f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(table)})" for table in names]  # noqa: S608 - Django's own table names
    if not probes:
        return []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(probes), names)
        return [row[0] for row in cursor.fetchall()]


# Content types and permissions: post_migrate writes them back after every
# flush (about a second: some 150 content types and 600 permissions). While
# they hold exactly what post_migrate writes, compared by their natural keys,
# the flush leaves them and post_migrate finds nothing to add.
CATALOG_TABLES = ("django_content_type", "auth_permission")
CATALOG_FINGERPRINT = """
    SELECT
        (SELECT md5(string_agg(app_label || '.' || model, ',' ORDER BY app_label, model))
           FROM django_content_type),
        (SELECT md5(string_agg(t.app_label || '.' || t.model || '.' || p.codename || '.' || p.name, ','
                               ORDER BY t.app_label, t.model, p.codename))
           FROM auth_permission p JOIN django_content_type t ON t.id = p.content_type_id),
        (SELECT count(*) FROM auth_permission)
"""
_pristine_catalog: dict[str, tuple[Any, ...]] = {}


def _catalog(connection: Any) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(CATALOG_FINGERPRINT)
        return tuple(cursor.fetchone())


def remember_catalog(connection: Any) -> None:
    """Called once the test database is built: its content types and
    permissions are the ones post_migrate writes."""
    if connection.vendor == "postgresql":
        _pristine_catalog[connection.alias] = _catalog(connection)


def _is_superuser(connection: Any) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('is_superuser')")
        return cursor.fetchone()[0] == "on"


def _install_on(connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "postgresql" or getattr(connection.ops, "_tests_fast_flush", False):
        return
    ops = connection.ops
    django_sql_flush = ops.sql_flush
    superuser: list[bool] = []

    def sql_flush(
        style: Any, tables: list[str], *, reset_sequences: bool = False, allow_cascade: bool = False
    ) -> list[str]:
        if not superuser:
            superuser.append(_is_superuser(connection))
        # Django's TRUNCATE when the sequences must restart too, or the role may not skip triggers.
        if reset_sequences or not superuser[0]:
            return django_sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        holding = _tables_with_rows(connection, tables)
        if _pristine_catalog.get(connection.alias) == _catalog(connection):
            holding = [table for table in holding if table not in CATALOG_TABLES]
        if not holding:
            return []
        return [
            "SET LOCAL session_replication_role = replica",
            *(
                f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(ops.quote_name(table))};"
                for table in holding
            ),
        ]

    ops.sql_flush = sql_flush
    ops._tests_fast_flush = True


def install() -> None:
    """On every connection, those open now and those opened later (threads)."""
    from django.db import connections

    connection_created.connect(_install_on, dispatch_uid="tests.fast_flush")
    for connection in connections.all():
        _install_on(connection)
