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
    it, for the event table and its patient index alike."""
    created = []
    for table in PARTITIONED_TABLES:
        existing = partitions_existing(table)
        month = _month_start(start)
        for _ in range(months_ahead + 1):
            following = _next_month(month)
            name = partition_name(month, table)
            if name not in existing:
                with transaction.atomic(), connection.cursor() as cursor:
                    # DDL takes no bound parameters; both bounds are datetimes made here.
                    cursor.execute(
                        f"CREATE TABLE {name} PARTITION OF {table} "
                        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
                    )
                created.append(name)
            month = following
    return created


def partitions_default_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {EVENT_TABLE}_default")  # noqa: S608 - constant name
        row = cursor.fetchone()
    return int(row[0]) if row else 0
