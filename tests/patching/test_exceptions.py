"""Exceptions: a second person approves, expiry is mandatory, compensating
controls are control tests (any control id), and a failing control voids the
exception, reopens the finding, restarts its clock and alerts the owner."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.compliance import Check, ControlTest
from safeward.patching import compensating, services
from safeward.patching.models import Finding, RiskException
from tests.patching.conftest import openssl

pytestmark = pytest.mark.django_db

STATE = {"passed": True}


def _fake_control(now: dt.datetime):
    yield Check("compensating-control", "7", "pump VLAN ACL", passed=STATE["passed"])


@pytest.fixture
def fake_control(monkeypatch):
    """A control test of another app (the devices work's compensating controls),
    as discover() would return it: any control id works."""
    STATE["passed"] = True
    test = ControlTest(
        "devices.compensating_controls", "Compensating controls pass", "", ("hicp:9.M.E",), _fake_control
    )
    real = compensating.discover

    def discover():
        return {**real(), test.id: test}

    monkeypatch.setattr(compensating, "discover", discover)
    return test


@pytest.fixture
def finding(engineer, pump, heartbleed):
    services.inventory_import(
        actor=engineer, target_kind="device", target_id=pump.pk, raw=openssl(), fmt="cyclonedx_json"
    )
    return Finding.objects.get()


def _request(engineer, finding, **overrides):
    values = {
        "actor": engineer,
        "finding_id": finding.pk,
        "decision": "reduce",
        "justification": "Vendor has no fix; the pump VLAN blocks heartbeat traffic.",
        "controls": [("devices.compensating_controls", "compensating-control:7")],
        "expires_on": clock.now().date() + dt.timedelta(days=30),
    }
    values.update(overrides)
    return services.exception_request(**values)


def test_free_text_unknown_controls_and_no_expiry_are_refused(engineer, finding, fake_control):
    with pytest.raises(services.PatchingError) as error:
        _request(engineer, finding, controls=[])
    assert "compensating control" in " ".join(error.value.errors)
    with pytest.raises(services.PatchingError) as error:
        _request(engineer, finding, controls=[("devices.compensating_controls", "compensating-control:99")])
    assert "does not judge" in " ".join(error.value.errors)
    with pytest.raises(services.PatchingError):
        _request(engineer, finding, expires_on=clock.now().date())
    with pytest.raises(services.PatchingError):
        _request(engineer, finding, expires_on=clock.now().date() + dt.timedelta(days=400))
    STATE["passed"] = False
    with pytest.raises(services.PatchingError) as error:
        _request(engineer, finding)
    assert "cannot compensate" in " ".join(error.value.errors)
    assert RiskException.objects.count() == 0


@pytest.mark.parametrize(
    "state", [Finding.State.RESOLVED, Finding.State.NOT_AFFECTED, Finding.State.FALSE_POSITIVE]
)
def test_a_finding_no_longer_open_takes_no_exception(engineer, finding, fake_control, state):
    Finding.objects.filter(pk=finding.pk).update(state=state)
    with pytest.raises(services.Conflict) as error:
        _request(engineer, finding)
    assert "needs no exception" in str(error.value)
    assert RiskException.objects.count() == 0


def test_the_requester_cannot_approve(engineer, approver, finding, fake_control):
    exception = _request(engineer, finding)
    with pytest.raises(services.PatchingError):
        services.exception_decide(actor=engineer, exception_id=exception.pk, approve=True)
    services.exception_decide(actor=approver, exception_id=exception.pk, approve=True)
    finding.refresh_from_db()
    assert finding.excepted
    assert not finding.is_open


def test_a_request_that_expired_or_whose_control_failed_in_the_queue_is_not_approved(
    engineer, approver, finding, fake_control, monkeypatch
):
    exception = _request(engineer, finding, expires_on=clock.now().date() + dt.timedelta(days=2))
    later = clock.now() + dt.timedelta(days=3)
    with monkeypatch.context() as patched:
        patched.setattr(clock, "now", lambda: later)
        with pytest.raises(services.PatchingError) as error:
            services.exception_decide(actor=approver, exception_id=exception.pk, approve=True)
    assert "expired" in " ".join(error.value.errors)
    STATE["passed"] = False
    with pytest.raises(services.PatchingError) as error:
        services.exception_decide(actor=approver, exception_id=exception.pk, approve=True)
    assert "does not pass" in " ".join(error.value.errors)
    exception.refresh_from_db()
    finding.refresh_from_db()
    assert exception.status == "requested"
    assert not finding.excepted
    assert finding.is_open
    # Rejecting still works.
    services.exception_decide(actor=approver, exception_id=exception.pk, approve=False)
    exception.refresh_from_db()
    assert exception.status == "rejected"


def test_a_failing_control_voids_the_exception_and_reopens_the_finding(
    engineer, approver, finding, fake_control
):
    from safeward.audit.models import AuditEvent

    exception = _request(engineer, finding)
    services.exception_decide(actor=approver, exception_id=exception.pk, approve=True)
    assert services.exceptions_evaluate()["valid"] == 1
    first_clock = Finding.objects.get().detected_at
    STATE["passed"] = False
    later = clock.now() + dt.timedelta(days=3)
    assert services.exceptions_evaluate(now=later)["voided"] == 1
    exception.refresh_from_db()
    finding.refresh_from_db()
    assert exception.status == "voided"
    assert "failed" in exception.end_reason
    assert finding.is_open
    assert finding.reopened_count == 1
    assert finding.detected_at == later > first_clock
    assert finding.due_at is not None
    assert finding.due_at > later
    event = AuditEvent.objects.filter(resource_type="VulnException").order_by("-pk").first()
    assert event.detail["check"] == "exception_voided"
    assert event.detail["owner_username"] == engineer.username


def test_an_expired_exception_ends(engineer, approver, finding, fake_control):
    exception = _request(engineer, finding, expires_on=clock.now().date() + dt.timedelta(days=2))
    services.exception_decide(actor=approver, exception_id=exception.pk, approve=True)
    assert services.exceptions_evaluate(now=clock.now() + dt.timedelta(days=5))["expired"] == 1
    finding.refresh_from_db()
    assert finding.is_open


def test_the_detection_rule_alerts_the_owner_and_stays_quiet_on_a_look_alike(
    engineer, approver, finding, fake_control
):
    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action, PurposeOfUse
    from safeward.detection.models import Alert
    from safeward.detection.services import detect_pending, rules_ensure_defaults

    rules_ensure_defaults()
    detect_pending()
    exception = _request(engineer, finding)
    services.exception_decide(actor=approver, exception_id=exception.pk, approve=True)
    # a look-alike: an exception event that is not a voiding
    from django.db import transaction

    with transaction.atomic():
        audit_record(
            action=Action.EXECUTE,
            actor=engineer,
            resource_type="VulnException",
            resource_id=exception.pk,
            purpose=PurposeOfUse.OPERATIONS,
            detail={"check": "approved"},
        )
    detect_pending()
    assert not Alert.objects.filter(rule="patching_exception_voided").exists()
    STATE["passed"] = False
    services.exceptions_evaluate()
    detect_pending()
    alert = Alert.objects.get(rule="patching_exception_voided")
    assert alert.subject_username == engineer.username
