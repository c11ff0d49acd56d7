"""The runtime half of the one-door rule (ADR 0546).

A database execute wrapper, installed on every connection of the test
session, fails any statement naming a clinical table (the tables of the
clinical app's models) unless it runs inside an entry point of the one door
(`safeward.one_door`: the gateway's functions, crypto's key maintenance) or
inside one of the test suite's own allowances:

* the test database's creation (migrations) and each test's teardown
  (Django's flush), set up in tests/conftest.py;
* `clinical_test_data()`, which a test or helper wraps around rows it builds
  or reads straight from the tables (a relationship, a raw dump check).

A breach raises at the statement and is also remembered, so a caller that
swallows the exception still fails its test at teardown. The check costs
about a microsecond per statement (two context-variable reads and a
substring test; a regex only for statements that mention a clinical table).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.apps import apps
from django.db import connections
from django.db.backends.signals import connection_created

from safeward import one_door

_allowed: ContextVar[str | None] = ContextVar("tests_one_door_allowed", default=None)
_armed = False
_tearing_down = False  # a flag, not the context variable: fixtures' own resets interleave with it
breaches: list[str] = []


class OneDoorBreach(AssertionError):
    """A statement on a clinical table outside the one door."""


def clinical_tables() -> frozenset[str]:
    config = apps.get_app_config("clinical")
    return frozenset(model._meta.db_table for model in config.get_models(include_auto_created=True))


_pattern: re.Pattern[str] | None = None
_prefix = ""


def _tables() -> re.Pattern[str]:
    global _pattern, _prefix
    if _pattern is None:
        names = sorted(clinical_tables(), key=len, reverse=True)
        _pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
        # "clinical_": a substring test rules most statements out before the regex.
        _prefix = os.path.commonprefix(names)  # noqa: RUF071 - table names, not paths
    return _pattern


@contextmanager
def allowed(reason: str) -> Iterator[None]:
    token = _allowed.set(reason)
    try:
        yield
    finally:
        _allowed.reset(token)


def clinical_test_data() -> Any:
    """Let test setup build or read clinical rows directly, inside this block only."""
    return allowed("test data")


def arm() -> None:
    global _armed
    _armed = True


@contextmanager
def tearing_down() -> Iterator[None]:
    """Django's flush after a transactional test empties every table."""
    global _tearing_down
    _tearing_down = True
    try:
        yield
    finally:
        _tearing_down = False


def guard(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]) -> Any:
    if (
        _armed
        and not _tearing_down
        and _allowed.get() is None
        and one_door.current() is None
        and isinstance(sql, str)
    ):
        tables = _tables()
        found = tables.search(sql) if _prefix in sql else None
        if found:
            message = f"a statement on {found.group(1)} outside the one door: {sql[:200]}"
            breaches.append(message)
            raise OneDoorBreach(message)
    return execute(sql, params, many, context)


def _install_on(connection: Any, **kwargs: Any) -> None:
    if guard not in connection.execute_wrappers:
        connection.execute_wrappers.append(guard)


def install() -> None:
    """Guard every connection, those open now and those opened later (threads)."""
    connection_created.connect(_install_on, dispatch_uid="tests.one_door")
    for connection in connections.all():
        _install_on(connection)


def take_breaches() -> list[str]:
    found = list(breaches)
    breaches.clear()
    return found
