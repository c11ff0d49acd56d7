"""Deadline alerts (ADR 1410): the breach clock's notices and the case tasks'
due dates are recorded by the sweep as they near and pass, and detection
raises one alert per deadline naming the case owner. Time moves with the
clock module (`frozen_clock`)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from safeward.audit.models import AuditEvent
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.detection.triage import TriageError
from safeward.identity.errors import NotPermitted
from safeward.incidents import case_services, deadlines, services
from safeward.incidents.models import BreachAssessment, Task
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(make_user):
    return make_user("security_officer")


def _case(officer, **kwargs):
    return case_services.incident_create(
        actor=officer, title="Credentials phished", category="credential", severity="high", **kwargs
    )


def _breach(incident, *, affected: int, discovered: dt.datetime) -> BreachAssessment:
    return BreachAssessment.objects.create(
        incident=incident,
        window_start=discovered - dt.timedelta(days=2),
        window_end=discovered,
        patient_ids=[f"p-{n}" for n in range(affected)],
        affected=affected,
        by_state={"VT": affected},
        discovered_at=discovered,
    )


def _sweep_events():
    return AuditEvent.objects.filter(resource_type="Incident", actor_username=deadlines.SWEEP_ACTOR)


def test_playbook_tasks_get_due_dates_and_alert_as_they_near_and_pass(frozen_clock, officer):
    incident = _case(officer)
    lock = Task.objects.get(incident=incident, code="lock")
    assert lock.due_at == incident.opened_at + dt.timedelta(hours=4)
    assert Task.objects.get(incident=incident, code="mfa").due_at is None  # not in TASK_DUE_HOURS

    frozen_clock.advance(hours=1)
    due = {item.deadline: item.state for item in deadlines.deadlines_sweep()}
    assert due[f"task:{lock.pk}"] == "near"
    detect_pending()
    alert = Alert.objects.get(rule="incident_deadline", detail__deadline=f"task:{lock.pk}")
    assert (alert.severity, alert.subject_user_id) == ("medium", officer.pk)
    assert alert.subject_username == officer.username

    frozen_clock.advance(hours=5)
    assert {item.deadline: item.state for item in deadlines.deadlines_sweep()}[f"task:{lock.pk}"] == "overdue"
    detect_pending()
    alert.refresh_from_db()
    assert alert.severity == "high"  # overdue raises it; the repeat joined the same alert
    assert Alert.objects.filter(rule="incident_deadline", detail__deadline=f"task:{lock.pk}").count() == 1

    case_services.task_set_done(actor=officer, task_id=lock.pk, done=True)
    assert f"task:{lock.pk}" not in {item.deadline for item in deadlines.deadlines_sweep()}


def test_the_breach_clock_alerts_inside_fourteen_days_and_when_overdue(frozen_clock, officer):
    incident = _case(officer)
    Task.objects.filter(incident=incident).update(due_at=None)
    discovered = frozen_clock.now()
    _breach(incident, affected=600, discovered=discovered)
    assert deadlines.deadlines_sweep() == []  # 60 days ahead: nothing near

    frozen_clock.advance(days=47)  # 13 days left
    due = {item.deadline: item for item in deadlines.deadlines_sweep()}
    assert set(due) == {"breach:individuals", "breach:hhs", "breach:media_VT"}
    assert {item.state for item in due.values()} == {"near"}
    # The end of the 60th calendar day after discovery, in the hospital's zone (ADR 1418).
    last_day = timezone.localtime(discovered).date() + dt.timedelta(days=60)
    end_of_last_day = dt.datetime.combine(last_day, dt.time.max, tzinfo=timezone.get_current_timezone())
    assert due["breach:individuals"].due == end_of_last_day
    detect_pending()
    assert Alert.objects.filter(rule="incident_deadline").count() == 3

    case_services.notification_mark_sent(actor=_privacy(), incident_id=incident.pk, which="individuals")
    frozen_clock.advance(days=14)
    due = {item.deadline: item for item in deadlines.deadlines_sweep()}
    assert "breach:individuals" not in due  # sent: never alerted again
    assert due["breach:hhs"].state == "overdue"
    detect_pending()
    # Two weeks without a sweep is past the rule's grouping window: a new alert (an hourly cron joins them).
    hhs = Alert.objects.filter(rule="incident_deadline", detail__deadline="breach:hhs").latest("id")
    assert hhs.severity == "high"
    assert "overdue" in hhs.title


def _privacy():
    from tests.factories import UserFactory

    return UserFactory(roles=["privacy_officer"], totp_secret=True)


def test_fewer_than_five_hundred_owe_the_annual_log_which_alerts_in_its_last_fortnight(frozen_clock, officer):
    incident = _case(officer)
    Task.objects.filter(incident=incident).update(due_at=None)
    _breach(incident, affected=499, discovered=frozen_clock.now())
    Task.objects.filter(incident=incident).update(due_at=None)
    # Past the individuals' 60 days, notices sent; the annual log is due 60 days after year end.
    case_services.notification_mark_sent(actor=_privacy(), incident_id=incident.pk, which="individuals")
    frozen_clock.advance(days=100)  # 2027-02-10: the log is due 2027-03-01 23:59:59
    assert [item.deadline for item in deadlines.deadlines_sweep()] == []
    frozen_clock.advance(days=8)
    assert [(item.deadline, item.state) for item in deadlines.deadlines_sweep()] == [
        ("breach:hhs_log", "near")
    ]


def test_exercises_and_closed_cases_owe_no_deadline_a_notice_still_unsent_excepted(frozen_clock, officer):
    exercise = _case(officer, is_exercise=True, scenario="Ransomware tabletop")
    assert not Task.objects.filter(incident=exercise, due_at__isnull=False).exists()
    _breach(exercise, affected=10, discovered=frozen_clock.now())
    closed = _case(officer)
    _breach(closed, affected=10, discovered=frozen_clock.now())
    services.incident_status_set(actor=officer, incident_id=closed.pk, status="closed", reason="Done")
    frozen_clock.advance(days=70)
    due = deadlines.deadlines_sweep()
    assert {(item.incident_id, item.deadline) for item in due} == {(closed.pk, "breach:individuals")}


def test_the_command_lists_with_dry_run_and_records_without(frozen_clock, officer, capsys):
    _case(officer)
    frozen_clock.advance(hours=5)
    call_command("incidents", "check-deadlines", "--dry-run")
    out = capsys.readouterr().out
    assert "overdue" in out
    assert "nothing recorded (--dry-run)" in out
    assert not _sweep_events().exists()
    call_command("incidents", "check-deadlines")
    out = capsys.readouterr().out
    assert "`safeward detect` raises their alerts" in out
    assert _sweep_events().count() >= 1
    event = _sweep_events().first()
    assert event.detail["check"] == "deadline_due"
    assert "Credentials" not in str(event.detail)  # labels only, never text people typed


def test_a_due_date_is_set_by_the_case_keepers_with_clear_refusals(frozen_clock, officer, make_user, client):
    incident = _case(officer)
    task = Task.objects.get(incident=incident, code="mfa")
    soon = frozen_clock.now() + dt.timedelta(hours=10)
    case_services.task_due_set(actor=officer, task_id=task.pk, due_at=soon)
    task.refresh_from_db()
    assert task.due_at == soon
    assert AuditEvent.objects.filter(detail__change="task_due", detail__task_id=task.pk).exists()
    with pytest.raises(TriageError, match="before the case was opened"):
        case_services.task_due_set(
            actor=officer, task_id=task.pk, due_at=incident.opened_at - dt.timedelta(1)
        )
    with pytest.raises(TriageError, match="three years"):
        case_services.task_due_set(actor=officer, task_id=task.pk, due_at=soon + dt.timedelta(days=5000))
    with pytest.raises(NotPermitted):
        case_services.task_due_set(actor=make_user("auditor"), task_id=task.pk, due_at=None)
    sign_in(client, officer)
    bad = client.post(f"/incidents/tasks/{task.pk}/due/", {"due_at": "next tuesday"})
    assert bad.status_code == 400
    assert b"Not saved" in bad.content or b"Due" in bad.content
    task.refresh_from_db()
    assert task.due_at == soon  # nothing half-saved
    assert client.post(f"/incidents/tasks/{task.pk}/due/", {"due_at": ""}).status_code == 302
    task.refresh_from_db()
    assert task.due_at is None
    services.incident_status_set(actor=officer, incident_id=incident.pk, status="closed", reason="Done")
    assert client.post(f"/incidents/tasks/{task.pk}/due/", {"due_at": "2026-11-05 10:00"}).status_code == 409
