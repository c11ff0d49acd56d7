"""What a database superuser could do behind the application's back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from safeward.audit import dbguard
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse


@contextmanager
def superuser_bypass() -> Iterator[None]:
    """Switch the append-only triggers off as a superuser would: on PostgreSQL
    `session_replication_role = replica`, on SQLite by dropping the triggers
    (both inside the test's transaction, so they come back afterwards)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    else:
        with dbguard.suspended(connection):
            yield


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def record_reads(count: int, *, patient: str = "p-100") -> list[int]:
    return [
        audit_record(
            action=Action.READ,
            resource_type="Observation",
            resource_id=index,
            patient_id=patient,
            purpose=PurposeOfUse.TREATMENT,
            fields=["value", "code"],
        ).pk
        for index in range(count)
    ]
