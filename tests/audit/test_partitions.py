"""`safeward audit partitions` on PostgreSQL: rows written before a month's
partition exists (a fresh install, where migrate and the first sign-ins come
before the first run) sit in the DEFAULT partition; creating that month moves
them, unchanged, so the trail still verifies and nothing is lost."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.audit.partitions import partition_name, partitions_ensure, partitions_existing
from safeward.audit.services import audit_record
from safeward.audit.verification import audit_verify
from safeward.audit.vocabulary import Action
from tests.audit.conftest import seal_all

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="partitions exist only on PostgreSQL"),
]


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - names made by the test
        return int(cursor.fetchone()[0])


def _month(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


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


def test_the_command_creates_once_and_then_nothing():
    out = io.StringIO()
    call_command("audit", "partitions", "--ahead", "2", stdout=out)
    assert out.getvalue().startswith("created 6 partitions:")
    out = io.StringIO()
    call_command("audit", "partitions", "--ahead", "2", stdout=out)
    assert out.getvalue().strip() == "created 0 partitions: -"
