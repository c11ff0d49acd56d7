"""The whole accounting of disclosures and the report's CSV are streamed from
the same index ranges as a page (ADR 1652): keyset batches of the patient's
own events and of the patient index, merged. They must give the rows, in the
order, that the UNION they replace gave (kept here as the reference), with
ties on occurred_at, at every trail and batch size; no read may hand the
planner a subquery of the patient index, and on PostgreSQL no event read may
be a sequential scan (issue 20)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.selectors import EventFilter, audit_events_filtered, patient_accesses
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.oversight.forms import ReportFilterForm
from tests.audit.plan_checks import assert_index_reads_only, event_reads

pytestmark = pytest.mark.django_db
HOT = "p-hot"
SIZES = [0, 1, 9, 40, 121]
BATCHES = [1, 2, 3, 7, 2000]


def _trail(frozen_clock, users, count):
    """`count` events, three to a second (ties on occurred_at), of every kind
    an accounting holds: the patient's own reads, searches listing it among
    others, events that both name and list it, a denied read, and other
    patients' events."""
    for number in range(count):
        actor = users[number % len(users)]
        kind = number % 6
        if kind == 0:
            audit_record(action=Action.READ, actor=actor, patient_id=HOT, purpose=PurposeOfUse.TREATMENT)
        elif kind in (1, 2):
            audit_record(action=Action.SEARCH, actor=actor, patient_ids=[f"p-{number}", HOT, "p-x"])
        elif kind == 3:
            audit_record(action=Action.READ, actor=actor, patient_id=HOT, patient_ids=[HOT, "p-y"])
        elif kind == 4:
            audit_record(action=Action.READ, actor=actor, patient_id=HOT, outcome=Outcome.DENIED)
        else:
            audit_record(action=Action.READ, actor=actor, patient_id=f"p-{number}")
        if number % 3 == 2:
            frozen_clock.advance(seconds=1)


@pytest.fixture
def users(make_user):
    return [make_user("nurse"), make_user("nurse")]


def _old_union(events, links, *, newest_first):
    """The read `audit_events_filtered` and `patient_accesses` made before
    ADR 1652: the patient's events UNION the events its index rows name, by
    subquery, ordered as the report orders."""
    ordering = ("-occurred_at", "-id") if newest_first else ("occurred_at", "id")
    own = events.filter(patient_id=HOT).order_by()
    listed = events.filter(pk__in=links.values("event_id")).order_by()
    return [event.pk for event in own.union(listed).order_by(*ordering)]


def _old_report(query):
    events = AuditEvent.objects.filter(occurred_at__gte=query.start, occurred_at__lt=query.end)
    if query.actor_id is not None:
        events = events.filter(actor_id=query.actor_id)
    if query.outcome:
        events = events.filter(outcome=query.outcome)
    links = AuditEventPatient.objects.filter(
        patient_id=HOT, occurred_at__gte=query.start, occurred_at__lt=query.end
    )
    return _old_union(events, links, newest_first=query.newest_first)


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("batch", BATCHES)
def test_the_streamed_accounting_is_the_old_union(frozen_clock, users, count, batch):
    _trail(frozen_clock, users, count)
    old = _old_union(
        AuditEvent.objects.all(), AuditEventPatient.objects.filter(patient_id=HOT), newest_first=False
    )
    assert len(old) == sum(1 for number in range(count) if number % 6 in (0, 1, 2, 3, 4))
    assert [event.pk for event in patient_accesses(patient_id=HOT, batch=batch)] == old


@pytest.mark.parametrize("count", [1, 40, 121])
@pytest.mark.parametrize("batch", [1, 3, 2000])
@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("narrowed", ["", "actor", "outcome"])
def test_the_streamed_report_by_patient_is_the_old_union(
    frozen_clock, users, count, batch, newest_first, narrowed
):
    _trail(frozen_clock, users, count)
    start = dt.datetime(2026, 11, 2, 9, 0, 1, tzinfo=dt.UTC)  # cuts through the trail's ties
    query = EventFilter(
        start=start,
        end=start + dt.timedelta(seconds=count // 3),  # and so does the end
        patient_id=HOT,
        actor_id=users[1].pk if narrowed == "actor" else None,
        outcome=Outcome.SUCCESS if narrowed == "outcome" else "",
        newest_first=newest_first,
    )
    assert [event.pk for event in audit_events_filtered(query=query, batch=batch)] == _old_report(query)


def test_the_streamed_report_without_a_patient_is_every_event_in_order(frozen_clock, users):
    _trail(frozen_clock, users, 40)
    start = dt.datetime(2026, 11, 2, 9, 0, 2, tzinfo=dt.UTC)
    query = EventFilter(start=start, end=start + dt.timedelta(seconds=9), actor_id=users[0].pk)
    expected = list(
        AuditEvent.objects.filter(
            occurred_at__gte=query.start, occurred_at__lt=query.end, actor_id=users[0].pk
        ).order_by("-occurred_at", "-id")
    )
    assert len(expected) > 5
    assert list(audit_events_filtered(query=query, batch=2)) == expected


def test_the_stream_reads_bounded_batches_and_never_the_index_by_subquery(frozen_clock, users):
    """Constant memory: each statement reads at most a batch (a LIMIT, or
    the events of a batch of index rows by primary key); the number of
    statements grows with the rows read, as keyset paging does."""
    _trail(frozen_clock, users, 40)
    with CaptureQueriesContext(connection) as captured:
        rows = list(patient_accesses(patient_id=HOT, batch=4))
    reads = event_reads(captured.captured_queries)
    assert len(rows) == 34
    # own events: 20 in batches of 4 (6 reads); index rows: 20 in batches of 4 (6 reads, 6 event reads)
    assert len(reads) >= 10
    for sql in reads:
        assert "audit_auditeventpatient" not in sql, sql
        assert "LIMIT 4" in sql or '"id" IN (' in sql, sql


def test_the_csv_export_of_one_patient_is_the_old_union(signed_in, frozen_clock, users, client, monkeypatch):
    _trail(frozen_clock, users, 40)
    monkeypatch.setattr("safeward.audit.selectors.STREAM_BATCH", 3)  # several batches per export
    client, _ = signed_in("security_officer")
    params = {"patient": HOT, "start": "2026-11-01", "sort": "oldest"}
    response = client.get("/audit/report.csv", params)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    form = ReportFilterForm(params)
    assert form.is_valid(), form.errors
    expected = _old_report(form.event_filter())
    assert len(expected) == 34
    assert [int(row[0]) for row in rows[1:]] == expected


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="EXPLAIN of PostgreSQL")
@pytest.mark.parametrize("what", ["accounting", "report"])
def test_postgresql_streams_by_index_conditions_only(frozen_clock, users, what):
    _trail(frozen_clock, users, 40)
    with CaptureQueriesContext(connection) as captured:
        if what == "accounting":
            list(patient_accesses(patient_id=HOT, batch=5))
        else:
            query = EventFilter(
                start=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                end=dt.datetime(2026, 11, 3, tzinfo=dt.UTC),
                patient_id=HOT,
                actor_id=users[0].pk,
            )
            list(audit_events_filtered(query=query, batch=5))
    reads = event_reads(captured.captured_queries)
    assert len(reads) > 2  # several batches
    assert_index_reads_only(reads)
