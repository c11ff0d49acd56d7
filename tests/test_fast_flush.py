"""The transactional tests' flush on PostgreSQL empties only the tables
holding rows, and still leaves every table empty (tests/fast_flush.py)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from safeward.audit.models import AuditEvent
from tests import one_door
from tests.audit.helpers import record_reads

pytestmark = pytest.mark.postgres


def _row_counts() -> dict[str, int]:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    query = " UNION ALL ".join(
        f"SELECT %s, count(*) FROM {connection.ops.quote_name(table)}"  # noqa: S608 - Django's table names
        for table in tables
    )
    with one_door.clinical_test_data(), connection.cursor() as cursor:
        cursor.execute(query, tables)
        return dict(cursor.fetchall())


def test_flush_deletes_from_the_tables_with_rows_and_leaves_every_table_empty(transactional_db, make_user):
    if connection.vendor != "postgresql":
        pytest.skip("the cheaper flush is PostgreSQL's; SQLite's flush is Django's")
    make_user("physician")
    record_reads(3)  # the audit trail: append-only row triggers, foreign keys to other tables
    holding = {table for table, count in _row_counts().items() if count}
    assert {AuditEvent._meta.db_table, "identity_user"} <= holding

    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with one_door.clinical_test_data():
        statements = connection.ops.sql_flush(no_style(), tables)
    deleted = {statement.split('"')[1] for statement in statements if statement.startswith("DELETE FROM")}
    assert deleted == holding
    assert not any("TRUNCATE" in statement for statement in statements)

    with one_door.tearing_down():
        # As Django's teardown of a transactional test calls it.
        call_command(
            "flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=True
        )
    assert not {table: count for table, count in _row_counts().items() if count}
    # The flush command put the audit trail's guards back afterwards.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass", [AuditEvent._meta.db_table]
        )
        assert {f"{AuditEvent._meta.db_table}_no_delete"} <= {row[0] for row in cursor.fetchall()}
