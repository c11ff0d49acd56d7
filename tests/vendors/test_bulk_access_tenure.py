"""`vendor_bulk_access` counts each account and client only while it was the
vendor's (ADR 1220, as the monthly touch, ADR 1219): an account's work as
hospital staff before its binding, or after the vendor let it go, neither
crosses the ceiling nor teaches the baseline; work during the tenure still
alerts. The tenure-aware audit reads stay one statement each, whatever the
number of tenures, and read the trail by index on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward.audit import context
from safeward.audit.selectors import Tenure, patients_touched, patients_touched_per_day
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.vendors import services
from tests.audit.plan_checks import assert_index_reads_only, event_reads
from tests.detection.conftest import START, access, alerts, new_patient, run
from tests.vendors.conftest import BULK_ACCESS, bulk_access_params, make_agreement

pytestmark = pytest.mark.django_db

CLIENT = "vendor-app"


def _vendor(officer, *, volume="low"):
    vendor = services.vendor_create(
        actor=officer, name="Tenure Co", legal_name="Tenure Co LLC", owner=officer, phi_volume=volume
    )
    return vendor, make_agreement(officer, vendor)


def _patients(prefix: str, count: int) -> list[str]:
    return [new_patient(family=f"{prefix}{n}", mrn=f"{prefix[:2].upper()}{n}") for n in range(count)]


@pytest.mark.parametrize("lagged", [False, True], ids=["run-before-binding", "one-late-batch"])
def test_work_before_the_binding_raises_no_alert(at, officer, make_user, lagged):
    """A nurse reads three patients as hospital staff, then becomes the
    vendor's account: with a ceiling of 3 her one read as the vendor's is
    not a crossing, whether the earlier reads were evaluated before the
    binding or come in the same late batch."""
    bulk_access_params(low_threshold=3)
    vendor, agreement = _vendor(officer)
    nurse = make_user("nurse")
    patients = _patients("Before", 4)
    at(hours=-2)
    for patient in patients[:3]:
        access(nurse, patient)
    if not lagged:
        run()
    at(hours=-1)
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=nurse)
    at(minutes=0)
    access(nurse, patients[3])
    run()
    assert alerts(BULK_ACCESS) == []


def test_work_during_the_tenure_still_alerts(at, officer, make_user):
    bulk_access_params(low_threshold=3)
    vendor, agreement = _vendor(officer)
    nurse = make_user("nurse")
    patients = _patients("During", 6)
    at(hours=-3)
    for patient in patients[:3]:
        access(nurse, patient)
    run()
    at(hours=-2)
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=nurse)
    at(hours=-1)
    access(nurse, patients[3])
    access(nurse, patients[4])
    run()
    assert alerts(BULK_ACCESS) == []
    at(minutes=0)
    access(nurse, patients[5])
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["vendor_id"] == vendor.pk
    assert alert.detail["distinct_patients"] == 3
    assert alert.subject_user_id == nurse.pk


def test_work_after_the_revocation_is_not_the_vendors(at, officer, make_user):
    """The vendor is suspended (its credentials revoked) and the hospital
    takes the account back: its reads then are the hospital's."""
    bulk_access_params(low_threshold=3)
    vendor, agreement = _vendor(officer)
    nurse = make_user("nurse")
    patients = _patients("After", 5)
    at(hours=-5)
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=nurse)
    at(hours=-4)
    access(nurse, patients[0])
    access(nurse, patients[1])
    run()
    at(hours=-3)
    services.vendor_suspend(actor=officer, vendor_id=vendor.pk, reason="review")
    nurse.is_active = True
    nurse.save(update_fields=["is_active"])
    at(minutes=0)
    for patient in patients[2:]:
        access(nurse, patient)
    run()
    assert alerts(BULK_ACCESS) == []


def test_the_baseline_ignores_the_days_before_the_binding(at, officer, make_user):
    """Ten busy days as hospital staff (6 patients a day), then ten quiet
    days as the vendor's (2 a day): the baseline is the quiet days', so a
    day of 6 crosses the learned limit (floor 5, 2 x 2)."""
    bulk_access_params(baseline_floor=5, baseline_factor=2, baseline_percentile=100)
    vendor, agreement = _vendor(officer, volume="medium")  # ceiling 100, far above
    nurse = make_user("nurse")
    patients = _patients("Base", 6)
    for day in range(20, 10, -1):
        at(hours=-24 * day)
        for patient in patients:
            access(nurse, patient)
    run()
    at(hours=-24 * 10 - 12)
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=nurse)
    for day in range(10, 0, -1):
        at(hours=-24 * day)
        for patient in patients[:2]:
            access(nurse, patient)
    run()
    assert alerts(BULK_ACCESS) == []
    at(minutes=0)
    for patient in patients:
        access(nurse, patient)
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["limits_crossed"] == ["learned"]
    baseline = alert.detail["baseline"]
    assert (baseline["patients_24h"], baseline["active_days"], baseline["value"], baseline["limit"]) == (
        6,
        10,
        2,
        5,
    )


def _record(actor, patient_id: str, *, client: str = "") -> None:
    token = context.bind(context.AuditContext(client_id=client))
    try:
        audit_record(action=Action.READ, actor=actor, resource_type="Patient", patient_id=patient_id)
    finally:
        context.reset(token)


@pytest.fixture
def trail(at, make_user):
    """An account's reads two days back, one day back and now; a client's
    read two days back and one now; a search page one day back."""
    staff, app_user = make_user("nurse"), make_user("physician")
    at(hours=-47)
    _record(staff, "p-old")
    _record(app_user, "p-app-old", client=CLIENT)
    at(hours=-25)
    _record(staff, "p-day")
    audit_record(action=Action.SEARCH, actor=staff, patient_ids=["p-day", "p-listed"])
    at(hours=-1)
    _record(staff, "p-now")
    _record(app_user, "p-app-now", client=CLIENT)
    at(minutes=0)
    return staff


def test_the_tenure_reads_count_each_holder_within_its_tenure(trail):
    bound = START - dt.timedelta(hours=30)
    accounts = [Tenure(trail.pk, start=bound)]
    clients = [Tenure(CLIENT, start=START - dt.timedelta(hours=2)), Tenure("")]
    window = {"start": START - dt.timedelta(days=3), "end": START}
    assert patients_touched(**window, accounts=accounts, clients=clients) == {
        "p-day",
        "p-listed",
        "p-now",
        "p-app-now",
    }
    assert patients_touched(**window, actor_ids=[trail.pk], client_ids=[CLIENT]) >= {"p-old", "p-app-old"}
    assert patients_touched_per_day(end=START, days=3, accounts=accounts, clients=clients) == [2, 2, 0]
    # Ended a day back: the day before counts, the last 24 h not; a tenure outside the window reads nothing.
    ended = [Tenure(trail.pk, end=START - dt.timedelta(hours=24))]
    assert patients_touched_per_day(end=START, days=3, accounts=ended) == [0, 3, 0]
    before = [Tenure(trail.pk, end=START - dt.timedelta(days=5))]
    with CaptureQueriesContext(connection) as captured:
        assert patients_touched_per_day(end=START, days=3, accounts=before) == [0, 0, 0]
        assert patients_touched(**window, accounts=before) == set()
    assert captured.captured_queries == []


def test_many_tenures_are_still_one_statement_each(trail, make_user):
    """No query per account: ten tenures are one OR in each statement."""
    others = [make_user("nurse") for _ in range(9)]
    accounts = [Tenure(trail.pk, start=START - dt.timedelta(hours=30))]
    accounts += [Tenure(user.pk, start=START - dt.timedelta(days=2)) for user in others]
    window = {"start": START - dt.timedelta(days=3), "end": START}
    with CaptureQueriesContext(connection) as captured:
        patients_touched(**window, accounts=accounts, clients=[Tenure(CLIENT)])
    assert len(event_reads(captured.captured_queries)) == 4  # direct and linked, accounts and clients
    with CaptureQueriesContext(connection) as captured:
        patients_touched_per_day(end=START, days=3, accounts=accounts, clients=[Tenure(CLIENT)])
    assert len(captured.captured_queries) == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="EXPLAIN of PostgreSQL")
def test_postgresql_reads_the_tenures_by_index(trail):
    """Two tenures of one account and a client's: an index range each."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")
    accounts = [
        Tenure(trail.pk, end=START - dt.timedelta(hours=40)),
        Tenure(trail.pk, start=START - dt.timedelta(hours=30)),
    ]
    clients = [Tenure(CLIENT, start=START - dt.timedelta(hours=2))]
    with CaptureQueriesContext(connection) as captured:
        patients_touched(start=START - dt.timedelta(days=3), end=START, accounts=accounts, clients=clients)
        patients_touched_per_day(end=START, days=3, accounts=accounts, clients=clients)
    reads = event_reads(captured.captured_queries)
    assert len(reads) == 5
    assert_index_reads_only(reads)
