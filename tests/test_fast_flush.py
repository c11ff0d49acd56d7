"""The transactional tests' flush on PostgreSQL empties only the tables
holding rows, and still leaves every table as a flush leaves it
(tests/fast_flush.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from safeward.audit.models import AuditEvent
from tests import fast_flush, one_door
from tests.audit.helpers import record_reads

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the cheaper flush is PostgreSQL's; SQLite's flush is Django's")


def _row_counts() -> dict[str, int]:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    query = " UNION ALL ".join(
        f"SELECT %s, count(*) FROM {connection.ops.quote_name(table)}"  # noqa: S608 - Django's table names
        for table in tables
    )
    with one_door.clinical_test_data(), connection.cursor() as cursor:
        cursor.execute(query, tables)
        return dict(cursor.fetchall())


def _flush(**options) -> None:
    with one_door.tearing_down():
        # As Django's teardown of a transactional test calls it.
        call_command("flush", verbosity=0, interactive=False, reset_sequences=False, **options)


def _deleted() -> set[str]:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with one_door.clinical_test_data():
        statements = connection.ops.sql_flush(no_style(), tables)
    assert not any("TRUNCATE" in statement for statement in statements)
    return {statement.split('"')[1] for statement in statements if statement.startswith("DELETE FROM")}


def test_flush_deletes_from_the_tables_with_rows_and_leaves_every_table_empty(transactional_db, make_user):
    make_user("physician")
    record_reads(3)  # the audit trail: append-only row triggers, foreign keys to other tables
    holding = {table for table, count in _row_counts().items() if count}
    assert {AuditEvent._meta.db_table, "identity_user", *fast_flush.CATALOG_TABLES} <= holding

    # The content types and permissions are as post_migrate writes them: kept.
    assert _deleted() == holding - set(fast_flush.CATALOG_TABLES)

    catalog = (ContentType.objects.count(), Permission.objects.count())
    _flush(inhibit_post_migrate=True)
    assert {table for table, count in _row_counts().items() if count} == set(fast_flush.CATALOG_TABLES)
    assert (ContentType.objects.count(), Permission.objects.count()) == catalog
    # The flush command put the audit trail's guards back afterwards.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass", [AuditEvent._meta.db_table]
        )
        assert {f"{AuditEvent._meta.db_table}_no_delete"} <= {row[0] for row in cursor.fetchall()}


def test_a_permission_a_test_added_is_gone_after_the_flush(transactional_db):
    Permission.objects.create(
        codename="matrix_extra", name="Extra", content_type=ContentType.objects.get_for_model(AuditEvent)
    )
    assert set(fast_flush.CATALOG_TABLES) <= _deleted()

    _flush()  # post_migrate writes the content types and permissions back
    assert not Permission.objects.filter(codename="matrix_extra").exists()
    assert Permission.objects.filter(codename="view_auditevent").exists()
    assert set(fast_flush.CATALOG_TABLES).isdisjoint(_deleted())
