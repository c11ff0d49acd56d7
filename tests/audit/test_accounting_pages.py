"""The accounting of disclosures reads a patient's page from two ordered,
limited index ranges (ADR 1651): the patient's own events, and the patient
index rows of multi-patient events followed by those events by primary key.
Pages must equal the whole ordered accounting cut at each cursor (ties on
occurred_at broken by id), and no query may hand the planner a subquery it
could answer by walking the whole event table (issue 20)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward.audit.selectors import (
    Cursor,
    EventFilter,
    audit_events_filtered,
    audit_events_page,
    patient_accesses,
    patient_accesses_page,
)
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from tests.audit.plan_checks import assert_index_reads_only, event_reads

pytestmark = pytest.mark.django_db
HOT = "p-hot"


@pytest.fixture
def trail(frozen_clock, make_user):
    """40 events, three to a second (ties on occurred_at): the patient's own
    reads, searches listing it among others, one event that both names it and
    lists it, and events of other patients, by two users."""
    nurse, clerk = make_user("nurse"), make_user("nurse")
    for number in range(40):
        actor = nurse if number % 2 else clerk
        kind = number % 5
        if kind == 0:
            audit_record(action=Action.READ, actor=actor, patient_id=HOT, purpose=PurposeOfUse.TREATMENT)
        elif kind in (1, 2):
            audit_record(action=Action.SEARCH, actor=actor, patient_ids=[f"p-{number}", HOT, "p-x"])
        elif kind == 3 and number % 4 == 3:
            audit_record(action=Action.READ, actor=actor, patient_id=HOT, patient_ids=[HOT, "p-y"])
        else:
            audit_record(action=Action.READ, actor=actor, patient_id=f"p-{number}")
        if number % 3 == 2:
            frozen_clock.advance(seconds=1)
    return nurse


def _walk(read, size):
    """Every page of `read` in turn, checking each page's size and cursor."""
    seen, after = [], None
    while True:
        rows, following = read(after, size)
        assert len(rows) <= size
        seen += [event.pk for event in rows]
        if following is None:
            return seen
        assert len(rows) == size
        assert following == Cursor(rows[-1].occurred_at, rows[-1].pk)
        after = following


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 24, 100])
def test_the_accounting_pages_are_the_whole_accounting_in_order(trail, size):
    whole = [event.pk for event in patient_accesses(patient_id=HOT)]
    assert len(whole) == 26  # 8 reads, 16 searches, 2 both
    walked = _walk(lambda after, size: patient_accesses_page(patient_id=HOT, after=after, size=size), size)
    assert walked == whole


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("by_actor", [True, False])
@pytest.mark.parametrize("size", [1, 3, 4, 50])
def test_the_report_by_patient_pages_like_its_csv(trail, newest_first, by_actor, size):
    start = dt.datetime(2026, 11, 2, 9, 0, 4, tzinfo=dt.UTC)  # cuts through the trail
    query = EventFilter(
        start=start,
        end=start + dt.timedelta(hours=1),
        patient_id=HOT,
        actor_id=trail.pk if by_actor else None,
        newest_first=newest_first,
    )
    whole = [event.pk for event in audit_events_filtered(query=query)]
    assert whole
    walked = _walk(lambda after, size: audit_events_page(query=query, after=after, size=size), size)
    assert walked == whole


def test_no_page_query_joins_the_patient_index_by_subquery(trail):
    _, following = patient_accesses_page(patient_id=HOT, after=None, size=5)
    with CaptureQueriesContext(connection) as captured:
        patient_accesses_page(patient_id=HOT, after=following, size=5)
    reads = event_reads(captured.captured_queries)
    assert reads
    for sql in reads:
        assert "audit_auditeventpatient" not in sql, sql
        assert "LIMIT" in sql or '"id" IN (' in sql, sql


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="EXPLAIN of PostgreSQL")
def test_postgresql_reads_the_page_by_index_conditions_only(trail):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")
    with CaptureQueriesContext(connection) as captured:
        patient_accesses_page(patient_id=HOT, after=None, size=5)
    reads = event_reads(captured.captured_queries)
    assert reads
    assert_index_reads_only(reads)
