"""Lift the signed-run trigger for one block, as a database owner could, to
show that the signature still catches what the trigger would have stopped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from safeward.assessments import dbguard


@contextmanager
def signed_run_guard_dropped() -> Iterator[None]:
    with connection.cursor() as cursor:
        for statement in dbguard.remove_statements(connection.vendor):
            cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for statement in dbguard.install_statements(connection.vendor):
                cursor.execute(statement)
