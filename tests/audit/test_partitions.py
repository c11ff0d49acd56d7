"""`safeward audit partitions` on PostgreSQL: rows written before a month's
partition exists (a fresh install, where migrate and the first sign-ins come
before the first run) sit in the DEFAULT partition; creating that month moves
them, unchanged, so the trail still verifies and nothing is lost. Months
before the current one (loading or restoring an older trail) are created by
`--from YYYY-MM [--to YYYY-MM]` (ADR 1653); bad months are clear errors on
either engine."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.audit.partitions import (
    PARTITIONED_TABLES,
    partition_name,
    partitions_ensure,
    partitions_existing,
)
from safeward.audit.services import audit_record
from safeward.audit.verification import audit_verify
from safeward.audit.vocabulary import Action
from tests.audit.conftest import seal_all

pytestmark = pytest.mark.django_db
postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="partitions exist only on PostgreSQL"
)


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - names made by the test
        return int(cursor.fetchone()[0])


def _month(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@postgresql
def test_rows_in_the_default_partition_move_to_their_new_month():
    now = clock.now()
    this_month = partition_name(_month(now))
    assert this_month not in partitions_existing(), "the test database starts with the DEFAULT partition only"
    audit_record(action=Action.READ, resource_type="Patient", resource_id="1", patient_id="p-1")
    audit_record(action=Action.SEARCH, resource_type="Patient", patient_ids=["p-1", "p-2"])
    before = AuditEvent.objects.count()
    in_default = _count("audit_auditevent_default")
    assert in_default >= 2
    seal_all()

    created = partitions_ensure(start=now, months_ahead=1)

    assert this_month in created
    assert partition_name(_month(now), "audit_auditeventpatient") in created
    assert len(created) == 4
    assert AuditEvent.objects.count() == before
    assert _count(this_month) == in_default
    assert _count("audit_auditevent_default") == 0
    assert _count(partition_name(_month(now), "audit_auditeventpatient")) == 2
    assert audit_verify().ok
    # the guard triggers are on the new partitions too
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {this_month} SET reason = 'x'")  # noqa: S608


@postgresql
def test_rows_of_months_not_created_stay_in_the_default_partition():
    now = clock.now()
    long_ago = now - dt.timedelta(days=400)
    previous = clock.install(clock.FrozenClock(long_ago))
    try:
        audit_record(action=Action.READ, resource_type="Patient", resource_id="1", patient_id="p-1")
    finally:
        clock.install(previous)
    audit_record(action=Action.READ, resource_type="Patient", resource_id="2", patient_id="p-2")
    old_rows = AuditEvent.objects.filter(occurred_at__lt=_month(now)).count()
    assert old_rows >= 1

    partitions_ensure(start=now, months_ahead=0)

    assert _count("audit_auditevent_default") == old_rows
    assert (
        _count(partition_name(_month(now))) == AuditEvent.objects.filter(occurred_at__gte=_month(now)).count()
    )


def _run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("audit", "partitions", *args, stdout=out)
    return out.getvalue().splitlines()


@postgresql
def test_the_command_creates_once_and_then_nothing():
    now = _month(clock.now())
    last = _month(now + dt.timedelta(days=70))
    lines = _run("--ahead", "2")
    # The rows moved are this month's so far (the test database's set-up writes some).
    assert lines[-1].startswith(
        f"created 6 partitions for {now:%Y-%m} to {last:%Y-%m} (3 months, 2 tables); 0 existed already; "
    )
    assert lines[0].startswith(
        f"audit_auditevent: created audit_auditevent_p{now:%Y%m} .. audit_auditevent_p{last:%Y%m}"
    )
    assert len(lines) == 3  # a progress line per table, then the summary
    assert _run("--ahead", "2") == [
        f"created 0 partitions for {now:%Y-%m} to {last:%Y-%m} (3 months, 2 tables); "
        "6 existed already; 0 rows moved out of DEFAULT"
    ]


@postgresql
def test_from_creates_the_months_of_an_older_trail_and_moves_its_rows():
    """Events of 2019 (a restored trail) wait in DEFAULT; `--from 2019-03 --to
    2019-04` gives them their months, unchanged, and a second run does nothing."""
    for moment in (dt.datetime(2019, 3, 31, 23, 59, tzinfo=dt.UTC), dt.datetime(2019, 4, 1, tzinfo=dt.UTC)):
        previous = clock.install(clock.FrozenClock(moment))
        try:
            audit_record(action=Action.SEARCH, resource_type="Patient", patient_ids=["p-1", "p-2"])
        finally:
            clock.install(previous)
    seal_all()
    lines = _run("--from", "2019-03", "--to", "2019-04")
    assert lines == [
        "audit_auditevent: created audit_auditevent_p201903 .. audit_auditevent_p201904, "
        "moved 2 rows out of DEFAULT",
        "audit_auditeventpatient: created audit_auditeventpatient_p201903 .. "
        "audit_auditeventpatient_p201904, moved 4 rows out of DEFAULT",
        "created 4 partitions for 2019-03 to 2019-04 (2 months, 2 tables); 0 existed already; "
        "6 rows moved out of DEFAULT",
    ]
    assert _count("audit_auditevent_p201903") == _count("audit_auditevent_p201904") == 1
    assert _count("audit_auditeventpatient_p201904") == 2
    assert audit_verify().ok
    assert _run("--from", "2019-03", "--to", "2019-04")[-1] == (
        "created 0 partitions for 2019-03 to 2019-04 (2 months, 2 tables); 4 existed already; "
        "0 rows moved out of DEFAULT"
    )


@postgresql
def test_a_long_range_is_created_a_year_per_transaction_with_progress():
    lines = _run("--from", "2001-01", "--to", "2002-02")
    assert lines[:2] == [
        "audit_auditevent: created audit_auditevent_p200101 .. audit_auditevent_p200112",
        "audit_auditevent: created audit_auditevent_p200201 .. audit_auditevent_p200202",
    ]
    assert len(lines) == 5
    assert lines[-1].startswith("created 28 partitions for 2001-01 to 2002-02 (14 months, 2 tables)")
    for table in PARTITIONED_TABLES:
        assert partition_name(dt.datetime(2001, 7, 1, tzinfo=dt.UTC), table) in partitions_existing(table)


@postgresql
def test_from_alone_runs_to_the_months_ahead():
    now = _month(clock.now())
    start = _month(now - dt.timedelta(days=20))  # the month before this one
    lines = _run("--from", f"{start:%Y-%m}", "--ahead", "1")
    assert lines[-1].startswith(f"created 6 partitions for {start:%Y-%m} to ")
    assert "(3 months, 2 tables)" in lines[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2024-13"], "'2024-13' is not a month: YYYY-MM"),
        (["--from", "2024-1"], "'2024-1' is not a month"),
        (["--from", "24-01"], "'24-01' is not a month"),
        (["--from", "1969-12"], "'1969-12' is not a month"),
        (["--to", "2024-01-05"], "'2024-01-05' is not a month"),
        (["--from", "2024-05", "--to", "2024-04"], "--from 2024-05 is after the last month, 2024-04"),
        (["--from", "2024-01", "--to", "2074-01"], "is 601 months, more than 600"),
        (["--ahead", "-1"], "--ahead must be 0 or more months"),
        (["--ahead", "2", "--to", "2024-04"], "not allowed with argument"),
    ],
)
def test_bad_months_are_clear_errors_on_either_engine(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        _run(*args)


@pytest.mark.skipif("connection.vendor == 'postgresql'", reason="SQLite has no partitions")
def test_sqlite_says_partitions_do_not_apply():
    assert _run("--from", "2019-01", "--to", "2019-12") == [
        "partitions exist only on PostgreSQL; nothing to do"
    ]
