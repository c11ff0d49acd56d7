"""Monthly partitions of the event table and of its patient index
(`audit_auditeventpatient`, ADR 0208) on PostgreSQL, created ahead of time
by `safeward audit partitions --ahead N` (run it from cron or a systemd timer
every day; creating an existing month is a no-op), and for the months of an
older trail before it is loaded or restored by `--from YYYY-MM [--to
YYYY-MM]` (ADR 1653). Rows for a month without a partition land in the
DEFAULT partition, so an access never fails for want of one;
`partitions_default_rows` lets monitoring notice that."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction

from safeward.audit.dbguard import EVENT_TABLE, LINK_TABLE

PARTITIONED_TABLES = (EVENT_TABLE, LINK_TABLE)


def _month_start(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: dt.datetime) -> dt.datetime:
    return (moment + dt.timedelta(days=32)).replace(day=1)


def partition_name(month: dt.datetime, table: str = EVENT_TABLE) -> str:
    return f"{table}_p{month:%Y%m}"


def partitions_existing(table: str = EVENT_TABLE) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits "
            "JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid WHERE parent.relname = %s",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


# Months created per transaction: a restore of decades of trail creates
# hundreds of partitions, each with its indexes and guard triggers, and one
# transaction would hold a lock on every one of them (max_locks_per_transaction);
# a year at a time also makes an interrupted run resumable (existing months are skipped).
CHUNK_MONTHS = 12


@dataclass(frozen=True)
class EnsureResult:
    created: list[str]
    existing: int
    moved: int  # rows moved out of a DEFAULT partition into their new month


def partitions_ensure(*, start: dt.datetime, months_ahead: int) -> list[str]:
    """Create the partitions for the month of `start` and `months_ahead` after
    it, for the event table and its patient index alike (the names created)."""
    first = _month_start(start)
    last = first
    for _ in range(months_ahead):
        last = _next_month(last)
    return partitions_ensure_between(first=first, last=last).created


def partitions_ensure_between(
    *, first: dt.datetime, last: dt.datetime, progress: Callable[[str, list[str], int], None] | None = None
) -> EnsureResult:
    """Create the partitions of every month from the month of `first` to the
    month of `last`, both included, that does not exist yet, for the event
    table and its patient index alike, `CHUNK_MONTHS` per transaction;
    `progress(table, names, moved)` after each. Rows already in the DEFAULT
    partition for one of those months (written before anyone ran this, as on
    a fresh install, or loaded before their months existed) are moved into
    their new partition."""
    months = []
    month, end = _month_start(first), _month_start(last)
    while month <= end:
        months.append(month)
        month = _next_month(month)
    created: list[str] = []
    existing_count, moved = 0, 0
    for table in PARTITIONED_TABLES:
        existing = partitions_existing(table)
        missing = [month for month in months if partition_name(month, table) not in existing]
        existing_count += len(months) - len(missing)
        for at in range(0, len(missing), CHUNK_MONTHS):
            chunk = missing[at : at + CHUNK_MONTHS]
            with transaction.atomic():
                chunk_moved = _create(table, chunk)
            names = [partition_name(month, table) for month in chunk]
            created += names
            moved += chunk_moved
            if progress is not None:
                progress(table, names, chunk_moved)
    return EnsureResult(created=created, existing=existing_count, moved=moved)


def _create(table: str, months: list[dt.datetime]) -> int:
    """PostgreSQL refuses a new partition while the DEFAULT one holds rows of
    its range. Then the DEFAULT partition is detached, an empty one takes its
    place and its rows are inserted again through the parent, which routes
    each to its month; ids, times and hashes are copied unchanged, so the
    chain verifies as before, and no row is updated or deleted (the guard
    triggers stay on). All in the caller's transaction: none or all of it.
    Returns how many rows now sit in one of `months` that sat in DEFAULT."""
    default = f"{table}_default"
    in_months = " OR ".join(
        f"(occurred_at >= '{m.isoformat()}' AND occurred_at < '{_next_month(m).isoformat()}')" for m in months
    )
    with connection.cursor() as cursor:
        # DDL takes no bound parameters; names are constants, bounds datetimes made here.
        cursor.execute(f"SELECT count(*) FROM {default} WHERE {in_months}")  # noqa: S608 - constant names
        row = cursor.fetchone()
        moving = int(row[0]) if row else 0
        if moving:
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {default}")
            cursor.execute(f"ALTER TABLE {default} RENAME TO {default}_moving")
            cursor.execute(f"CREATE TABLE {default} PARTITION OF {table} DEFAULT")
        for month in months:
            cursor.execute(
                f"CREATE TABLE {partition_name(month, table)} PARTITION OF {table} "
                f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next_month(month).isoformat()}')"
            )
        if moving:
            cursor.execute(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            columns = cursor.fetchone()[0]
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {default}_moving")  # noqa: S608
            cursor.execute(f"DROP TABLE {default}_moving")
    return moving


def partitions_default_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {EVENT_TABLE}_default")  # noqa: S608 - constant name
        row = cursor.fetchone()
    return int(row[0]) if row else 0
