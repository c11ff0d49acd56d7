"""Monthly partitions of the event table and of its patient index
(`audit_auditeventpatient`, ADR 0208) on PostgreSQL, created ahead of time
by `safeward audit partitions --ahead N` (run it from cron or a systemd timer
every day; creating an existing month is a no-op). Rows for a month without
a partition land in the DEFAULT partition, so an access never fails for want
of one; `partitions_default_rows` lets monitoring notice that."""

from __future__ import annotations

import datetime as dt

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


def partitions_ensure(*, start: dt.datetime, months_ahead: int) -> list[str]:
    """Create the partitions for the month of `start` and `months_ahead` after
    it, for the event table and its patient index alike. Rows already in the
    DEFAULT partition for one of those months (written before anyone ran this,
    as on a fresh install) are moved into their new partition."""
    created: list[str] = []
    for table in PARTITIONED_TABLES:
        existing = partitions_existing(table)
        months = []
        month = _month_start(start)
        for _ in range(months_ahead + 1):
            if partition_name(month, table) not in existing:
                months.append(month)
            month = _next_month(month)
        if months:
            with transaction.atomic():
                _create(table, months)
            created.extend(partition_name(month, table) for month in months)
    return created


def _create(table: str, months: list[dt.datetime]) -> None:
    """PostgreSQL refuses a new partition while the DEFAULT one holds rows of
    its range. Then the DEFAULT partition is detached, an empty one takes its
    place and its rows are inserted again through the parent, which routes
    each to its month; ids, times and hashes are copied unchanged, so the
    chain verifies as before, and no row is updated or deleted (the guard
    triggers stay on). All in the caller's transaction: none or all of it."""
    default = f"{table}_default"
    with connection.cursor() as cursor:
        # DDL takes no bound parameters; names are constants, bounds datetimes made here.
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {default} WHERE "  # noqa: S608 - constant names
            + " OR ".join(
                f"(occurred_at >= '{m.isoformat()}' AND occurred_at < '{_next_month(m).isoformat()}')"
                for m in months
            )
            + ")"
        )
        row = cursor.fetchone()
        moving = bool(row and row[0])
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


def partitions_default_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {EVENT_TABLE}_default")  # noqa: S608 - constant name
        row = cursor.fetchone()
    return int(row[0]) if row else 0
