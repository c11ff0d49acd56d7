"""Detection's control tests (issue 18, ADR 0920): each fails on a seeded
violation, on that resource, and passes without it. Break-glass runs
through the gateway, as in production."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.clinical import gateway
from safeward.compliance import discover
from safeward.detection import triage
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.incidents import services as incident_services
from tests.clinical.conftest import WARD, patient  # noqa: F401 - the patient fixture

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "detection.worker_current": (
        "test_worker_fails_when_events_wait",
        "test_worker_passes_once_it_caught_up",
    ),
    "detection.alerts_triaged_in_sla": (
        "test_triage_sla_fails_for_an_alert_left_new_and_one_triaged_late",
        "test_triage_sla_passes_when_triaged_in_time",
    ),
    "detection.break_glass_reviewed": (
        "test_break_glass_fails_when_the_review_is_overdue",
        "test_break_glass_passes_when_reviewed_in_time",
    ),
}


@pytest.fixture
def real_clock():
    """Stopped at the real now: events written while the test database was
    built carry real times, and the worker's lag is the oldest one's age."""
    frozen = clock.FrozenClock(dt.datetime.now(dt.UTC))
    previous = clock.install(frozen)
    yield frozen
    clock.install(previous)


def run(control_id: str) -> dict[str, object]:
    return {check.resource_id: check for check in discover()[control_id].run(clock.now())}


def test_worker_fails_when_events_wait(real_clock):
    audit_record(action=Action.LOGIN, actor_username="someone")
    real_clock.advance(seconds=61)
    check = run("detection.worker_current")["detect"]
    assert not check.passed
    assert check.evidence["lag_seconds"] >= 61


def test_worker_passes_once_it_caught_up(real_clock):
    audit_record(action=Action.LOGIN, actor_username="someone")
    real_clock.advance(seconds=61)
    detect_pending()
    check = run("detection.worker_current")["detect"]
    assert check.passed
    assert check.evidence["lag_seconds"] == 0
    assert check.evidence["watermark"] > 0


def _alert(severity: str, *, age: dt.timedelta, is_drill: bool = False) -> Alert:
    now = clock.now()
    created = now - age
    return Alert.objects.create(
        rule="mass_lookup",
        severity=severity,
        title="test alert",
        group_key=f"test:{severity}:{age}",
        first_event_id=1,
        last_event_id=1,
        first_event_at=created,
        last_event_at=created,
        created_at=created,
        updated_at=created,
        is_drill=is_drill,
    )


def test_triage_sla_fails_for_an_alert_left_new_and_one_triaged_late(make_user, frozen_clock):
    waiting = _alert("high", age=dt.timedelta(minutes=61))
    check = run("detection.alerts_triaged_in_sla")[str(waiting.pk)]
    assert not check.passed
    assert check.evidence["waited_minutes"] == 61
    assert check.evidence["sla_minutes"] == 60
    officer = make_user("security_officer")
    late = _alert("critical", age=dt.timedelta(minutes=20))
    triage.alert_triage_start(actor=officer, alert_id=late.pk, version=triage.alert_version(late))
    frozen_clock.advance(days=1)
    late_check = run("detection.alerts_triaged_in_sla")[str(late.pk)]
    assert not late_check.passed  # triaged, but 20 minutes after a 15-minute SLA
    assert late_check.evidence["status"] == "triage"


def test_triage_sla_passes_when_triaged_in_time(make_user, frozen_clock):
    officer = make_user("security_officer")
    alert = _alert("high", age=dt.timedelta(minutes=30))
    triage.alert_dismiss(
        actor=officer, alert_id=alert.pk, version=triage.alert_version(alert), reason="Explained: on call."
    )
    fresh = _alert("low", age=dt.timedelta(hours=1))  # new, but within its day
    # Opening an incident from an alert is its first triage action too.
    escalated = _alert("critical", age=dt.timedelta(minutes=10))
    incident_services.incident_open_from_alert(
        actor=officer,
        alert_id=escalated.pk,
        version=triage.alert_version(escalated),
        title="Mass lookup",
        severity="high",
        summary="",
    )
    drill = _alert("critical", age=dt.timedelta(days=2), is_drill=True)
    frozen_clock.advance(days=2)
    checks = run("detection.alerts_triaged_in_sla")
    assert checks[str(alert.pk)].passed
    assert checks[str(alert.pk)].evidence["waited_minutes"] == 30
    assert str(drill.pk) not in checks
    assert checks[str(escalated.pk)].passed
    assert checks[str(escalated.pk)].evidence["status"] == "confirmed"
    frozen_clock.advance(days=-2)
    assert run("detection.alerts_triaged_in_sla")[str(fresh.pk)].passed


def _break_glass(user, patient_id):
    return gateway.break_glass_start(
        actor=user,
        session=WARD,
        patient_id=patient_id,
        reason_kind="emergency_care",
        justification="Collapsed in the corridor, no team.",
    )


def test_break_glass_fails_when_the_review_is_overdue(make_user, patient, frozen_clock):  # noqa: F811
    nurse = make_user("nurse")
    grant = _break_glass(nurse, patient)
    frozen_clock.advance(days=6)
    assert run("detection.break_glass_reviewed")[grant.id].passed  # awaiting review, not due yet
    frozen_clock.advance(days=2)
    check = run("detection.break_glass_reviewed")[grant.id]
    assert not check.passed
    assert check.evidence["reviewed_at"] is None
    assert check.label == f"break-glass by {nurse.username}"
    assert "Collapsed" not in repr(check)  # the justification never reaches the evidence
    # Reviewed, but late: still a failure of "reviewed within N days".
    officer = make_user("privacy_officer")
    gateway.break_glass_review(actor=officer, session=WARD, grant_id=grant.id, justified=True)
    assert not run("detection.break_glass_reviewed")[grant.id].passed


def test_break_glass_passes_when_reviewed_in_time(make_user, patient, frozen_clock):  # noqa: F811
    nurse = make_user("nurse")
    officer = make_user("privacy_officer")
    grant = _break_glass(nurse, patient)
    frozen_clock.advance(days=3)
    gateway.break_glass_review(actor=officer, session=WARD, grant_id=grant.id, justified=True)
    frozen_clock.advance(days=10)
    check = run("detection.break_glass_reviewed")[grant.id]
    assert check.passed
    assert check.evidence["reviewed_by"] == officer.pk
    assert check.evidence["justified"] is True
