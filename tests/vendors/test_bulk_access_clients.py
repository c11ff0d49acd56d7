"""`vendor_bulk_access` starts a vendor's count from its OAuth clients as
well as its accounts (ADR 1221): an access carrying the client id of one of
the vendor's clients during that client's tenure is the vendor's, whoever
the actor (a hospital user through the vendor's SMART app). A pull through
the client alone alerts; the same pull before the binding or after the
revocation does not; an account and a client of one vendor in one batch
raise one alert; another vendor's client is that vendor's. The clients of
a batch are read in the same one statement as its accounts, whatever the
batch's size."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward import clock
from safeward.audit import context
from safeward.audit.models import AuditEvent
from safeward.detection.evaluate import Context
from safeward.detection.selectors import rule_configs
from safeward.detection.worker import EVENT_FIELDS, Event
from safeward.vendors import services
from safeward.vendors.rules import rule_vendor_bulk_access
from tests.detection.conftest import access, alerts, new_patient, run
from tests.vendors.conftest import BULK_ACCESS, bulk_access_params, make_agreement, make_client

pytestmark = pytest.mark.django_db


def _vendor(officer, *, name="Client Co", volume="low"):
    vendor = services.vendor_create(
        actor=officer, name=name, legal_name=f"{name} LLC", owner=officer, phi_volume=volume
    )
    return vendor, make_agreement(officer, vendor)


def _bind_client(officer, make_user, vendor, agreement, *, name="Vendor app") -> str:
    """Bind a SMART (authorization-code) client to the vendor: no service
    account, so no account of the vendor's is ever its events' actor."""
    registration = make_client(make_user, name=name)
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    return registration.application.client_id


@contextlib.contextmanager
def through(client_id: str) -> Iterator[None]:
    """The events recorded inside are made with a bearer token of `client_id`."""
    token = context.bind(context.AuditContext(client_id=client_id, client_name="Vendor app"))
    try:
        yield
    finally:
        context.reset(token)


def _patients(prefix: str, count: int) -> list[str]:
    return [new_patient(family=f"{prefix}{n}", mrn=f"{prefix[:2].upper()}{n}") for n in range(count)]


def _evidence(alert) -> list[int]:
    return list(alert.evidence.order_by("event_id").values_list("event_id", flat=True))


def test_a_pull_through_the_vendors_client_alone_alerts(at, officer, make_user):
    """A hospital physician reads three patients through the vendor's SMART
    app: no account of the vendor's is involved, and the vendor alerts."""
    bulk_access_params(low_threshold=3)
    vendor, agreement = _vendor(officer)
    at(hours=-1)
    app = _bind_client(officer, make_user, vendor, agreement)
    physician = make_user("physician")
    patients = _patients("Smart", 3)
    at(minutes=0)
    with through(app):
        events = [access(physician, patient) for patient in patients]
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.patient_id == ""
    assert alert.detail["vendor_id"] == vendor.pk
    assert alert.detail["distinct_patients"] == 3
    assert alert.subject_user_id == physician.pk
    assert _evidence(alert) == [event.id for event in events]
    assert not alert.is_drill
    assert not any(patient in alert.title + str(alert.detail) for patient in patients)


@pytest.mark.parametrize("lagged", [False, True], ids=["run-before-binding", "one-late-batch"])
def test_a_pull_before_the_binding_is_not_the_vendors(at, officer, make_user, lagged):
    """Three reads through the app before the vendor's binding of it, then
    one after: not a crossing of 3, whether the earlier reads were evaluated
    before the binding or come in the same late batch. Two more reads after
    the binding make three of the vendor's, and that alerts."""
    bulk_access_params(low_threshold=3)
    vendor, agreement = _vendor(officer)
    physician = make_user("physician")
    registration = make_client(make_user)
    app = registration.application.client_id
    patients = _patients("Early", 6)
    at(hours=-3)
    with through(app):
        for patient in patients[:3]:
            access(physician, patient)
    if not lagged:
        run()
    at(hours=-2)
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    at(hours=-1)
    with through(app):
        access(physician, patients[3])
    run()
    assert alerts(BULK_ACCESS) == []
    at(minutes=0)
    with through(app):
        later = [access(physician, patient) for patient in patients[4:]]
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["distinct_patients"] == 3
    assert _evidence(alert) == [event.id for event in later]


def test_a_pull_after_the_revocation_is_not_the_vendors(at, officer, make_user):
    """The vendor is suspended (its client revoked); events recorded with the
    client id after that are not the vendor's."""
    bulk_access_params(low_threshold=3)
    vendor, agreement = _vendor(officer)
    at(hours=-5)
    app = _bind_client(officer, make_user, vendor, agreement)
    physician = make_user("physician")
    patients = _patients("Late", 5)
    at(hours=-4)
    with through(app):
        access(physician, patients[0])
        access(physician, patients[1])
    run()
    at(hours=-3)
    services.vendor_suspend(actor=officer, vendor_id=vendor.pk, reason="review")
    at(minutes=0)
    with through(app):
        for patient in patients[2:]:
            access(physician, patient)
    run()
    assert alerts(BULK_ACCESS) == []


def test_a_late_batch_takes_only_the_accesses_within_the_tenure(at, officer, make_user):
    """One batch with three reads during the client's tenure and two after its
    revocation: the vendor alerts on the three, and only they are evidence."""
    bulk_access_params(low_threshold=3)
    vendor, agreement = _vendor(officer)
    at(hours=-5)
    app = _bind_client(officer, make_user, vendor, agreement)
    physician = make_user("physician")
    patients = _patients("Batch", 5)
    at(hours=-4)
    with through(app):
        during = [access(physician, patient) for patient in patients[:3]]
    at(hours=-3)
    services.vendor_suspend(actor=officer, vendor_id=vendor.pk, reason="review")
    at(minutes=0)
    with through(app):
        for patient in patients[3:]:
            access(physician, patient)
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["distinct_patients"] == 3
    assert _evidence(alert) == [event.id for event in during]


def test_an_account_and_a_client_of_one_vendor_raise_one_alert(at, officer, make_user):
    """The vendor's staff account reads two patients, a hospital physician two
    more through the vendor's app, and the staff account one through the app
    too: one alert for the vendor, all five events its evidence, each once."""
    bulk_access_params(low_threshold=5)
    vendor, agreement = _vendor(officer)
    at(hours=-1)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    app = _bind_client(officer, make_user, vendor, agreement)
    physician = make_user("physician")
    patients = _patients("Mixed", 5)
    at(minutes=0)
    events = [access(staff, patients[0]), access(staff, patients[1])]
    with through(app):
        events += [access(physician, patients[2]), access(physician, patients[3])]
        events.append(access(staff, patients[4]))
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["vendor_id"] == vendor.pk
    assert alert.detail["distinct_patients"] == 5
    assert _evidence(alert) == [event.id for event in events]
    assert alert.subject_user_id == staff.pk


def test_another_vendors_client_is_not_counted_for_this_vendor(at, officer, make_user):
    """This vendor's account reads two patients (ceiling 3); a physician reads
    two more through another vendor's app (ceiling 2): the other vendor
    alerts on its two, this one stays quiet."""
    bulk_access_params(low_threshold=3)
    this, this_agreement = _vendor(officer, name="This Co")
    other, other_agreement = _vendor(officer, name="Other Co", volume="none")
    at(hours=-1)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=this, agreement=this_agreement, user=staff)
    app = _bind_client(officer, make_user, other, other_agreement, name="Other app")
    physician = make_user("physician")
    patients = _patients("Other", 4)
    at(minutes=0)
    access(staff, patients[0])
    access(staff, patients[1])
    with through(app):
        theirs = [access(physician, patients[2]), access(physician, patients[3])]
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["vendor_id"] == other.pk
    assert alert.detail["distinct_patients"] == 2
    assert _evidence(alert) == [event.id for event in theirs]


def _rule_over_batch(first_id: int) -> tuple[list[str], list]:
    """Run the rule alone over the events after `first_id`: its statements and findings."""
    rows = AuditEvent.objects.filter(pk__gt=first_id).order_by("id").values_list(*EVENT_FIELDS)
    events = [Event(*row) for row in rows]
    ctx = Context(events=events, now=clock.now(), configs=rule_configs(), canaries={}, accesses=events)
    with CaptureQueriesContext(connection) as captured:
        findings = rule_vendor_bulk_access(ctx)
    return [query["sql"] for query in captured.captured_queries], findings


@pytest.mark.parametrize("reads", [2, 12])
def test_the_rule_reads_a_batchs_clients_in_one_statement_with_its_accounts(at, officer, make_user, reads):
    """Whatever the number of accesses, accounts and clients in the batch, the
    rule costs the same statements: one for the batch's credentials, then per
    vendor in the batch its row, its tenures (credentials, applications) and
    its window (direct and linked reads, for its accounts and its clients).
    A batch of the hospital's own staff through the hospital's own app costs
    the one statement."""
    bulk_access_params(low_threshold=1)
    vendor, agreement = _vendor(officer)
    at(hours=-1)
    staff = [make_user("vendor") for _ in range(2)]
    for user in staff:
        services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=user)
    apps = [_bind_client(officer, make_user, vendor, agreement, name=f"App {n}") for n in range(2)]
    own_app = make_client(make_user, name="Own app").application.client_id
    physicians = [make_user("physician") for _ in range(2)]
    patients = _patients("Count", reads)
    at(minutes=0)
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for n, patient in enumerate(patients):
        access(staff[n % 2], patient)
        with through(apps[n % 2]):
            access(physicians[n % 2], patient)
        with through(own_app):
            access(physicians[n % 2], patient)
    statements, findings = _rule_over_batch(mark)
    assert len(findings) == 1
    assert len(findings[0].evidence) == 2 * reads
    assert len(statements) == 1 + 1 + 2 + 4
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with through(own_app):
        for patient in patients:
            access(physicians[0], patient)
    statements, findings = _rule_over_batch(mark)
    assert (len(statements), findings) == (1, [])


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="EXPLAIN of PostgreSQL")
def test_postgresql_reads_the_batchs_credentials_by_index(at, officer, make_user):
    """The batch's one credential statement reads the credentials and the
    applications by index (sequential scans made the last resort, as
    tests/audit/plan_checks.py does: the test's tables are tiny)."""
    vendor, agreement = _vendor(officer)
    at(hours=-1)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    app = _bind_client(officer, make_user, vendor, agreement)
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    at(minutes=0)
    patient = new_patient(family="Plan", mrn="PL1")
    access(staff, patient)
    with through(app):
        access(make_user("physician"), patient)
    statements, _ = _rule_over_batch(mark)
    sql = statements[0]  # the batch's credentials, before any vendor's reads
    assert '"vendors_credential"' in sql
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            raw = cursor.fetchone()[0]
        finally:
            cursor.execute("SET LOCAL enable_seqscan = on")
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = [node for node in _nodes(plan) if node.get("Relation Name")]
    assert {node["Relation Name"] for node in scans} == {"vendors_credential", "oauth2_provider_application"}
    for node in scans:
        # A Bitmap Heap Scan's condition is on its Bitmap Index Scan child.
        assert node["Node Type"] == "Bitmap Heap Scan" or "Index Cond" in node, node


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)
