"""An alert's patient scope reads the audit trail only within its evidence's
time span (ADR 0943): the same patients, counts and times as the unbounded
read, and on PostgreSQL no event partition (nor patient-index partition)
of a month outside the span is in the plan."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.db.models import Count, Max, Min
from django.test.utils import CaptureQueriesContext

from safeward import clock
from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.partitions import partition_name, partitions_ensure_between
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.detection.models import Alert, AlertEvidence
from safeward.detection.scope import ScopedPatient, scope_patient_count, scope_patients

pytestmark = pytest.mark.django_db

# Six months of trail, July to December 2026; the alerts' evidence lies in
# September and October only.
MONTHS = [dt.datetime(2026, month, 1, tzinfo=dt.UTC) for month in range(7, 13)]
IN_SPAN = {9, 10}


def _at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def _record(when: dt.datetime, actor, **what) -> AuditEvent:
    previous = clock.install(clock.FrozenClock(when))
    try:
        return audit_record(action=what.pop("action", Action.READ), actor=actor, **what)
    finally:
        clock.install(previous)


def _alert(events: list[AuditEvent]) -> Alert:
    first, last = min(events, key=lambda e: e.occurred_at), max(events, key=lambda e: e.occurred_at)
    alert = Alert.objects.create(
        rule="mass_access",
        severity="high",
        title="test alert",
        group_key=f"test:{first.pk}",
        first_event_id=first.pk,
        last_event_id=last.pk,
        first_event_at=first.occurred_at,
        last_event_at=last.occurred_at,
        created_at=last.occurred_at,
        updated_at=last.occurred_at,
    )
    AlertEvidence.objects.bulk_create(
        AlertEvidence(alert=alert, event_id=event.pk, occurred_at=event.occurred_at) for event in events
    )
    return alert


@pytest.fixture
def trail(make_user):
    """Events every month, the same patients inside and outside the span
    (so an unbounded read would count more events and wider times), single-
    and multi-patient events, the span's edges to the microsecond."""
    if connection.vendor == "postgresql":
        partitions_ensure_between(first=MONTHS[0], last=MONTHS[-1])
    intruder, other = make_user("billing_clerk"), make_user("nurse")
    for month in range(7, 13):
        for day in (3, 17):
            _record(_at(month, day), intruder, patient_id="p-shared")
            _record(_at(month, day, 10), other, action=Action.SEARCH, patient_ids=["p-shared", "p-list"])
    september = [
        _record(_at(9, 1, 0), intruder, patient_id="p-first"),  # the span's first instant
        _record(_at(9, 5), intruder, patient_id="p-shared"),
        _record(_at(9, 6), intruder, action=Action.SEARCH, patient_ids=["p-shared", "p-a", "p-b"]),
        _record(_at(9, 7), intruder, patient_id="p-a", patient_ids=["p-a", "p-c"]),
    ]
    october = [
        _record(_at(10, 2), intruder, patient_id="p-shared"),
        _record(_at(10, 9), intruder, action=Action.SEARCH, patient_ids=["p-b", "p-d"]),
        _record(_at(10, 31, 23) + dt.timedelta(minutes=59, seconds=59), intruder, patient_id="p-last"),
    ]
    return _alert(september), _alert(october)


def _unbounded(alert_ids: list[int]) -> tuple[list[ScopedPatient], int]:
    """The scope as it was read before ADR 0943: by the evidence's ids alone."""
    evidence = AlertEvidence.objects.filter(alert_id__in=alert_ids).values("event_id")
    merged: dict[str, tuple[int, dt.datetime, dt.datetime]] = {}
    groups = (
        AuditEvent.objects.filter(pk__in=evidence).exclude(patient_id="").values("patient_id"),
        AuditEventPatient.objects.filter(event_id__in=evidence).values("patient_id"),
    )
    for grouped in groups:
        rows = grouped.order_by().annotate(n=Count("id"), first=Min("occurred_at"), last=Max("occurred_at"))
        for patient_id, count, first, last in rows.values_list("patient_id", "n", "first", "last"):
            before = merged.get(patient_id, (0, first, last))
            merged[patient_id] = (before[0] + count, min(before[1], first), max(before[2], last))
    patients = [ScopedPatient(pid, *merged[pid]) for pid in sorted(merged)]
    return patients, len(patients)


def test_the_bounded_scope_equals_the_unbounded_one(trail):
    september, october = trail
    for alert_ids in ([september.pk], [october.pk], [september.pk, october.pk]):
        patients, count = _unbounded(alert_ids)
        assert patients
        assert scope_patients(alert_ids=alert_ids) == patients
        assert scope_patient_count(alert_ids=alert_ids) == count
    both = {p.patient_id: p for p in scope_patients(alert_ids=[september.pk, october.pk])}
    assert both["p-shared"].events == 3  # two direct, one search page; none outside the span
    assert both["p-first"].first_at == _at(9, 1, 0)
    assert set(both) == {"p-first", "p-shared", "p-a", "p-b", "p-c", "p-d", "p-last"}


def test_alerts_without_evidence_have_no_patients(trail):
    AlertEvidence.objects.all().delete()
    alert_ids = [alert.pk for alert in trail]
    assert scope_patients(alert_ids=alert_ids) == []
    assert scope_patient_count(alert_ids=alert_ids) == 0
    assert scope_patients(alert_ids=[]) == []


def _relations(sql: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        raw = cursor.fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    found, nodes = set(), [plan]
    while nodes:
        node = nodes.pop()
        found.add(node.get("Relation Name", ""))
        nodes += node.get("Plans", [])
    return found


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="partitions exist only on PostgreSQL")
def test_postgresql_reads_only_the_partitions_of_the_evidence_span(trail):
    september, october = trail
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")
    with CaptureQueriesContext(connection) as captured:
        scope_patients(alert_ids=[september.pk, october.pk])
        scope_patient_count(alert_ids=[september.pk, october.pk])
    reads = [q["sql"] for q in captured.captured_queries if "audit_auditevent" in q["sql"]]
    assert len(reads) == 3  # two grouped reads and the count
    wanted = {
        partition_name(month, table)
        for month in MONTHS
        if month.month in IN_SPAN
        for table in ("audit_auditevent", "audit_auditeventpatient")
    }
    for sql in reads:
        read = {name for name in _relations(sql) if name.startswith("audit_auditevent")}
        assert read, sql
        assert read <= wanted, (sorted(read - wanted), sql)
