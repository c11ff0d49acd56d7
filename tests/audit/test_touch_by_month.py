"""What a vendor's accounts and OAuth clients did to patient records, per
month (ADR 1218): counted by the database in one grouped statement, equal
to the per-event tally it replaced over a trail of several months, accounts
and clients, direct and listed patients; on PostgreSQL the accounts' events
are read by index."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from safeward import clock
from safeward.audit import context
from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.selectors import MonthlyTouch, Tenure, patient_touch_by_month
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from tests.audit.plan_checks import assert_index_reads_only, event_reads

pytestmark = pytest.mark.django_db
CLIENT = "vendor-app"


def _record(when: dt.datetime, actor=None, client: str = "", **what) -> None:
    previous = clock.install(clock.FrozenClock(when))
    token = context.bind(context.AuditContext(client_id=client))
    try:
        audit_record(action=what.pop("action", Action.READ), actor=actor, **what)
    finally:
        context.reset(token)
        clock.install(previous)


@pytest.fixture
def trail(make_user):
    """Five months: the vendor's account and client, another user, events
    naming no patient, a failure, a search page, an event both naming and
    listing, the month's first and last instants (UTC)."""
    staff, other, user_of_app = make_user("nurse"), make_user("nurse"), make_user("physician")
    for month in (3, 4, 5, 6, 7):
        first = dt.datetime(2026, month, 1, tzinfo=dt.UTC)
        _record(first, staff, patient_id=f"p-{month}")
        _record(first + dt.timedelta(hours=5), staff, patient_id="p-common")
        _record(first + dt.timedelta(hours=6), staff, action=Action.SEARCH, patient_ids=["p-common", "p-x"])
        _record(first + dt.timedelta(hours=7), staff, resource_type="Asset", resource_id="1")  # no patient
        _record(first + dt.timedelta(hours=8), other, patient_id="p-other")  # not the vendor's
        if month % 2:
            _record(first + dt.timedelta(days=3), user_of_app, client=CLIENT, patient_id="p-app")
            _record(
                first + dt.timedelta(days=4),
                staff,
                client=CLIENT,
                patient_id="p-y",
                patient_ids=["p-y", "p-z"],
            )
            _record(first + dt.timedelta(days=5), staff, outcome=Outcome.DENIED, patient_id="p-denied")
        following = (first + dt.timedelta(days=32)).replace(day=1)
        _record(following - dt.timedelta(microseconds=1), staff, patient_id="p-last")
    return staff


def _tally(actor_ids: list[int], client_ids: list[str]) -> list[MonthlyTouch]:
    """The per-event tally in Python that `patient_touch_by_month` replaced."""
    if not actor_ids and not client_ids:
        return []
    events = AuditEvent.objects.filter(Q(actor_id__in=actor_ids) | Q(client_id__in=client_ids))
    by_event: dict[int, tuple[dt.date, set[str]]] = {}
    for event_id, occurred_at, patient_id in events.values_list("pk", "occurred_at", "patient_id"):
        by_event[event_id] = (occurred_at.date().replace(day=1), {patient_id} if patient_id else set())
    for event_id, patient_id in AuditEventPatient.objects.filter(event_id__in=list(by_event)).values_list(
        "event_id", "patient_id"
    ):
        by_event[event_id][1].add(patient_id)
    months: dict[dt.date, tuple[int, set[str]]] = {}
    for month, patients in by_event.values():
        if patients:
            count, seen = months.get(month, (0, set()))
            months[month] = (count + 1, seen | patients)
    return [MonthlyTouch(month, count, len(seen)) for month, (count, seen) in sorted(months.items())]


@pytest.mark.parametrize(
    ("accounts", "clients"),
    [(True, True), (True, False), (False, True), (False, False)],
)
def test_the_grouped_count_equals_the_per_event_tally(trail, accounts, clients):
    actor_ids = [trail.pk] if accounts else []
    client_ids = [CLIENT] if clients else []
    with CaptureQueriesContext(connection) as captured:
        months = patient_touch_by_month(
            accounts=[Tenure(pk) for pk in actor_ids], clients=[Tenure(c) for c in [*client_ids, ""]]
        )
    assert months == _tally(actor_ids, client_ids)
    assert len(captured.captured_queries) == (1 if accounts or clients else 0)
    if accounts:
        assert [m.month for m in months] == [dt.date(2026, month, 1) for month in (3, 4, 5, 6, 7)]


def test_the_counts_of_one_month(trail):
    march = patient_touch_by_month(accounts=[Tenure(trail.pk)], clients=[Tenure(CLIENT)])[0]
    # p-3, p-common, the search page, the app's read, the named-and-listed read,
    # the denied read, the month's last instant; not the asset event nor the other user's.
    assert march == MonthlyTouch(dt.date(2026, 3, 1), 7, 8)


def test_a_tenure_bounds_the_events_that_count(trail):
    """From its start (inclusive) to its end (exclusive), to the microsecond (ADR 1219)."""
    start = dt.datetime(2026, 4, 1, 5, tzinfo=dt.UTC)  # April's p-common, at 05:00, counts
    end = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # June's first instant does not
    months = patient_touch_by_month(accounts=[Tenure(trail.pk, start, end)], clients=[])
    unbounded = patient_touch_by_month(accounts=[Tenure(trail.pk)], clients=[])
    # April without its p-4 at midnight: p-common, the search page (p-common, p-x), p-last.
    assert months == [MonthlyTouch(dt.date(2026, 4, 1), 3, 3), unbounded[2]]
    two = patient_touch_by_month(
        accounts=[Tenure(trail.pk, end=start), Tenure(trail.pk, start=end)], clients=[]
    )
    assert [m.month for m in two] == [dt.date(2026, month, 1) for month in (3, 4, 6, 7)]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="EXPLAIN of PostgreSQL")
def test_postgresql_reads_tenures_by_index(trail):
    """Two tenures of one account: an index range each, not a walk of the trail."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")
    may, july = dt.datetime(2026, 5, 1, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    with CaptureQueriesContext(connection) as captured:
        patient_touch_by_month(
            accounts=[Tenure(trail.pk, end=may), Tenure(trail.pk, start=july)],
            clients=[Tenure(CLIENT, may, july)],
        )
    reads = event_reads(captured.captured_queries)
    assert len(reads) == 1
    assert_index_reads_only(reads)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="EXPLAIN of PostgreSQL")
def test_postgresql_reads_the_accounts_events_by_index(trail):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")
    with CaptureQueriesContext(connection) as captured:
        patient_touch_by_month(accounts=[Tenure(trail.pk)], clients=[])
    reads = event_reads(captured.captured_queries)
    assert len(reads) == 1
    assert "GROUP BY" in reads[0]
    assert_index_reads_only(reads)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="EXPLAIN of PostgreSQL")
def test_postgresql_reads_the_clients_events_by_their_partial_index(trail):
    """A vendor application's events come from the partial (client_id,
    occurred_at) index, not from every partition (ADR 0204)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")
    with CaptureQueriesContext(connection) as captured:
        patient_touch_by_month(accounts=[], clients=[Tenure(CLIENT)])
    reads = event_reads(captured.captured_queries)
    assert len(reads) == 1
    assert_index_reads_only(reads)


def test_the_event_table_keeps_composite_indexes_only():
    """No single-column index on actor_id or patient_id beside the composite
    ones that lead with them; the client index is partial (ADR 0204)."""
    with connection.cursor() as cursor:
        described = connection.introspection.get_constraints(cursor, "audit_auditevent")
    indexed = {tuple(c["columns"]) for c in described.values() if c["index"] and not c["primary_key"]}
    assert ("actor_id",) not in indexed
    assert ("patient_id",) not in indexed
    composite = {("actor_id", "occurred_at"), ("patient_id", "occurred_at"), ("client_id", "occurred_at")}
    assert composite <= indexed
