"""The seeded demo hospital, seeded once per test run (ADR 1600).

Seeding the demo hospital runs every seed step through the services (audit
events, encryption, the clinical gateway) and costs seconds; dozens of tests
start from "a freshly seeded demo on an empty database". `capture()` runs
the real `seed_demo()` once, on the empty test database, inside a
transaction it rolls back, and keeps what it wrote: the rows of every table
(as the database returned them) and the files under VAR_DIR. `restore()`
writes those rows and files back for one test, so that test starts from the
very state the seed produced, at the cost of some INSERTs.

A test that changes how the seed runs (a monkeypatched step, another password
hasher, a frozen clock, an earlier credentials file) seeds for itself: the
snapshot is only the seed's result on an empty database in demo settings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, transaction

from safeward.audit import dbguard
from safeward.crypto.keyring import keyring
from tests import one_door

# The demo's settings, as tests/demo/conftest.py's `demo_settings` sets them.
DEMO_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Snapshot:
    """Rows by table: `baseline` before the seed, `seeded` after it. On
    PostgreSQL a row is its JSON text (the database converts it back on
    insert); on SQLite it is the tuple of column values."""

    var_dir: Path
    pristine_var: Path
    baseline: dict[str, list[Any]] = field(default_factory=dict)
    seeded: dict[str, list[Any]] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    # Tables where the seed changed or deleted a row that was there before it.
    rewritten: frozenset[str] = frozenset()


def _tables() -> list[str]:
    return sorted(
        {model._meta.db_table for model in apps.get_models(include_auto_created=True) if model._meta.managed}
    )


def _read(table: str) -> tuple[list[str], list[Any]]:
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT row_to_json(t)::text FROM {quoted} AS t ORDER BY 1")  # noqa: S608
            return [], [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - names from the model registry
        columns = [column[0] for column in cursor.description]
        rows = [tuple(map(_sqlite_value, row)) for row in cursor.fetchall()]
        return columns, sorted(rows, key=repr)


def _sqlite_value(value: Any) -> Any:
    """Back to what SQLite stores: Django's converters parse dates, times and
    decimals on the way out, and the sqlite3 module binds none of them."""
    if isinstance(value, dt.date | dt.time | Decimal):
        return str(value)
    return value


def _read_all() -> tuple[dict[str, list[str]], dict[str, list[Any]]]:
    columns: dict[str, list[str]] = {}
    rows: dict[str, list[Any]] = {}
    with one_door.allowed("the demo snapshot"):
        for table in _tables():
            columns[table], rows[table] = _read(table)
    return columns, rows


def capture(var_dir: Path, pristine_var: Path) -> Snapshot:
    """Seed the demo once on the (empty) test database and keep the result;
    the database is rolled back afterwards, the files are copied aside."""
    from django.test.utils import override_settings

    from safeward.demo import seed

    snapshot = Snapshot(var_dir=var_dir, pristine_var=pristine_var)
    # This session fixture can run before the per-test fixtures of the test that first
    # asks for it: a keyring still holding an earlier test's keys would blind-index the
    # seed's patients under a key the snapshot's key table does not hold.
    keyring().reset()
    with (
        override_settings(SAFEWARD_DEMO=True, VAR_DIR=var_dir, PASSWORD_HASHERS=DEMO_HASHERS),
        transaction.atomic(),
    ):
        _, snapshot.baseline = _read_all()
        seed.seed_demo()
        snapshot.columns, snapshot.seeded = _read_all()
        transaction.set_rollback(True)
    keyring().reset()  # the seed's keys were rolled back with it
    snapshot.rewritten = frozenset(
        table for table, rows in snapshot.baseline.items() if set(rows) - set(snapshot.seeded[table])
    )
    ContentType.objects.clear_cache()
    shutil.copytree(var_dir, pristine_var)
    return snapshot


def _insert(table: str, columns: list[str], rows: list[Any]) -> None:
    if not rows:
        return
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {quoted} SELECT * FROM json_populate_recordset(NULL::{quoted}, %s::json)",  # noqa: S608
                ["[" + ",".join(rows) + "]"],
            )
        else:
            names = ", ".join(connection.ops.quote_name(column) for column in columns)
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {quoted} ({names}) VALUES ({marks})", rows)  # noqa: S608


def restore(snapshot: Snapshot) -> None:
    """Make the database and VAR_DIR what the seed left, for this test.

    A table still as it was before the seed gets the seed's new rows; a table
    that differs (after a transactional test's flush, post_migrate re-creates
    the role catalog, content types and their audit events with new ids) is
    emptied and gets all the seed-time rows, so every reference among the
    restored rows holds. Emptying an audit table needs its append-only
    guard lifted for the moment, as the test flush does (audit.dbguard)."""
    plan: list[tuple[str, list[str], list[Any], bool]] = []
    with one_door.allowed("the demo snapshot"), transaction.atomic():
        for table, seeded in snapshot.seeded.items():
            if not seeded:
                continue
            columns, current = _read(table)
            baseline = snapshot.baseline[table]
            if current == baseline and table not in snapshot.rewritten:
                kept = set(baseline)
                plan.append((table, columns, [row for row in seeded if row not in kept], False))
            else:
                plan.append((table, columns, seeded, True))
        with contextlib.ExitStack() as stack:
            if any(replace for *_, replace in plan):
                stack.enter_context(dbguard.suspended(connection))
            for table, columns, rows, replace in plan:
                if replace:
                    with connection.cursor() as cursor:
                        cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608
                _insert(table, columns or snapshot.columns[table], rows)
        if connection.vendor == "postgresql":
            # Explicit ids leave the sequences behind; the next INSERT must not collide.
            changed = {table for table, _, rows, _ in plan if rows}
            models = [m for m in apps.get_models(include_auto_created=True) if m._meta.db_table in changed]
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)
    ContentType.objects.clear_cache()
    # The keyring caches the primary key per purpose for its refresh interval: a key
    # an earlier test made primary would still encrypt and blind-index here, so a
    # search would miss the seed's rows (and a second seed would register them again).
    keyring().reset()
    shutil.rmtree(snapshot.var_dir, ignore_errors=True)
    shutil.copytree(snapshot.pristine_var, snapshot.var_dir)
