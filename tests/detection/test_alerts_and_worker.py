"""Grouping of repeats, the alerts_raised signal, drills, canaries,
break-glass and security-operation rules, and the worker's cursor:
idempotent passes, late commits, holes given up after the horizon."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.detection.models import Alert, AlertEvidence, DetectorCursor
from safeward.detection.services import canary_register, rule_config_save
from safeward.detection.signals import alerts_raised
from tests.detection.conftest import access, alerts, login, new_patient, run

pytestmark = pytest.mark.django_db


def _burst(username: str, count: int = 5, ip: str = "198.51.100.7") -> None:
    for _ in range(count):
        login(username=username, ip=ip)


def test_a_repeat_while_open_adds_an_occurrence_and_evidence(at):
    at(minutes=0)
    _burst("erin")
    run()
    at(minutes=5)
    login(username="erin")
    run()
    (alert,) = alerts("failed_login_account")
    assert alert.occurrences == 2
    assert AlertEvidence.objects.filter(alert=alert).count() == 6
    assert alert.last_event_at > alert.first_event_at


def test_after_dismissal_a_repeat_opens_a_new_alert(at):
    at(minutes=0)
    _burst("erin")
    run()
    Alert.objects.update(status=Alert.Status.DISMISSED, resolution_reason="user forgot the password")
    at(minutes=5)
    login(username="erin")
    run()
    first, second = alerts("failed_login_account")
    assert first.status == "dismissed"
    assert second.status == "new"
    assert second.occurrences == 1


def test_a_repeat_after_the_group_window_opens_a_new_alert(at):
    at(minutes=0)
    _burst("erin")
    run()
    at(days=2)
    _burst("erin")
    run()
    assert len(alerts("failed_login_account")) == 2


def test_alerts_raised_is_sent_after_commit_once_per_batch(at, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, alerts, **kwargs):
        received.append(list(alerts))

    alerts_raised.connect(receiver)
    try:
        at(minutes=0)
        _burst("frank")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run()
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
        (alert,) = alerts("failed_login_account")
        assert len(received) == len(callbacks)  # one signal per batch, not per alert
        assert (alert.pk, True) in [touched for batch in received for touched in batch]
    finally:
        alerts_raised.disconnect(receiver)


def test_a_second_pass_processes_nothing_and_raises_nothing(at):
    at(minutes=0)
    _burst("gina")
    assert run() >= 5
    assert run() == 0
    assert len(alerts("failed_login_account")) == 1
    cursor = DetectorCursor.objects.get(name="detect")
    assert cursor.watermark >= cursor.processed > 0


def test_drill_accounts_mark_their_alerts(at, make_user):
    make_user(username="drill.stuffing")
    at(minutes=0)
    _burst("drill.stuffing")
    run()
    (alert,) = alerts("failed_login_account")
    assert alert.is_drill


def test_a_drill_username_that_is_no_account_is_not_a_drill(at):
    at(minutes=0)
    _burst("drill.stuffing")
    run()
    (alert,) = alerts("failed_login_account")
    assert not alert.is_drill


def test_canary_access_alerts_at_the_highest_severity(at, make_user):
    physician = make_user("physician")
    decoy = new_patient(family="Decoy", mrn="C1")
    canary_register(
        actor=None, patient_id=decoy, label="ward-3 decoy"
    )  # at 09:00, after the decoy's creation
    at(minutes=1)
    access(physician, decoy)
    run()
    (alert,) = alerts("canary_access")
    assert alert.severity == "critical"
    assert alert.patient_id == decoy
    assert not alert.is_drill


def test_drill_canary_alerts_are_drills(at, make_user):
    physician = make_user("physician", username="drill.physician")
    decoy = new_patient(family="Decoy", mrn="C2")
    canary_register(actor=None, patient_id=decoy, label="drill canary 1")
    at(minutes=1)
    access(physician, decoy)
    run()
    (alert,) = alerts("canary_access")
    assert alert.is_drill


def test_a_real_account_on_a_drill_canary_is_no_drill(at, make_user):
    """Only drill accounts make drill events: a real user who opens a drill
    decoy is exactly what the canary is for, and stays in the queue."""
    physician = make_user("physician")
    decoy = new_patient(family="Decoy", mrn="C4")
    canary_register(actor=None, patient_id=decoy, label="drill canary 2")
    at(minutes=1)
    access(physician, decoy)
    run()
    (alert,) = alerts("canary_access")
    assert not alert.is_drill


def test_canary_register_refuses_unknown_patients_and_duplicates():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="No patient"):
        canary_register(actor=None, patient_id="not-a-patient", label="x")
    decoy = new_patient(mrn="C3")
    canary_register(actor=None, patient_id=decoy, label="x")
    with pytest.raises(ValidationError, match="already"):
        canary_register(actor=None, patient_id=decoy, label="y")


def _glass(user, patient_id, grant):
    return audit_record(
        action=Action.BREAK_GLASS,
        actor=user,
        resource_type="BreakGlassGrant",
        resource_id=grant,
        patient_id=patient_id,
        reason="emergency",
        detail={"event": "start", "minutes": 60, "break_glass_grant": grant},
    )


def test_every_break_glass_alerts_and_repeats_escalate(at, make_user):
    physician = make_user("physician")
    patient = new_patient()
    for n in range(3):
        at(hours=n)
        _glass(physician, patient, f"g{n}")
        run()
    assert len(alerts("break_glass")) == 3
    (repeat,) = alerts("break_glass_repeat")
    assert repeat.detail == {"uses": 3, "threshold": 3}


def test_break_glass_twice_a_week_does_not_escalate(at, make_user):
    physician = make_user("physician")
    patient = new_patient()
    for n in range(3):
        at(days=n * 3)
        _glass(physician, patient, f"g{n}")
    run()
    assert len(alerts("break_glass")) == 3
    assert alerts("break_glass_repeat") == []


def test_ending_break_glass_is_not_a_use(at, make_user):
    physician = make_user("physician")
    at(minutes=0)
    audit_record(
        action=Action.BREAK_GLASS, actor=physician, resource_type="BreakGlassGrant", detail={"event": "end"}
    )
    run()
    assert alerts("break_glass") == []


def test_audit_verification_failure_key_operation_and_config_change(at, make_user):
    officer = make_user("security_officer")
    at(minutes=0)
    audit_record(action=Action.AUDIT_VERIFY, outcome=Outcome.SUCCESS, actor_username="system:cli")
    run()
    assert alerts("audit_chain_failure") == []
    audit_record(action=Action.AUDIT_VERIFY, outcome=Outcome.ERROR, actor_username="system:cli")
    audit_record(action=Action.KEY_OPERATION, actor=officer, resource_type="Key", resource_id="7")
    rule_config_save(
        actor=officer, code="bulk_export", enabled=True, severity="high", params={"threshold": 30}
    )
    run()
    (chain,) = alerts("audit_chain_failure")
    assert chain.severity == "critical"
    assert any(a.subject_user_id == officer.pk for a in alerts("key_operation"))
    (change,) = alerts("config_change")
    assert change.detail["resource_type"] == "DetectionRule"


def test_a_disabled_rule_does_not_fire(at):
    rule_config_save(actor=None, code="failed_login_account", enabled=False, severity="medium", params={})
    at(minutes=0)
    _burst("hana")
    run()
    assert alerts("failed_login_account") == []


def test_a_hole_is_given_up_after_the_horizon(at, settings):
    settings.SAFEWARD_DETECTION_GAP_HORIZON_SECONDS = 60
    at(minutes=0)
    login(username="ivan")
    run()
    cursor = DetectorCursor.objects.get(name="detect")
    # A hole no event can ever fill: ids start at 1. (watermark - 1 is an event
    # that exists on SQLite, whose ids have no gaps, so the hole closed at once.)
    cursor.pending = [[0, 0, int(at(minutes=0).now().timestamp()), 0]]
    cursor.save()
    run()
    assert DetectorCursor.objects.get(name="detect").pending  # within the horizon: kept
    at(minutes=2)
    login(username="ivan")
    run()
    assert DetectorCursor.objects.get(name="detect").pending == []


def test_a_pass_that_only_gives_a_hole_up_processes_nothing_and_fails_nothing(at, settings):
    settings.SAFEWARD_DETECTION_GAP_HORIZON_SECONDS = 60
    at(minutes=0)
    login(username="ivan")
    run()
    cursor = DetectorCursor.objects.get(name="detect")
    cursor.pending = [[0, 0, int(at(minutes=0).now().timestamp()), 0]]
    cursor.save()
    at(minutes=2)
    run()  # no new event: the pass only abandons the hole
    assert DetectorCursor.objects.get(name="detect").pending == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_event_that_commits_late_is_still_processed(make_user):
    """Ids come from a sequence at insert time: the transaction holding the
    lower id commits after a higher one was processed. The worker keeps the
    hole pending and processes the event when it commits."""
    if connection.vendor != "postgresql":
        pytest.skip("out-of-order commits need PostgreSQL")
    inserted = threading.Event()
    release = threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                for _ in range(5):
                    login(username="late.victim", ip="192.0.2.1")
                inserted.set()
                release.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(20)
    early = login(username="early", ip="192.0.2.2")  # a higher id, committed first
    run()
    cursor = DetectorCursor.objects.get(name="detect")
    assert cursor.watermark == early.id
    assert any(lo < early.id for lo, *_ in cursor.pending), "the uncommitted ids are a pending hole"
    assert alerts("failed_login_account") == []
    release.set()
    thread.join(20)
    run()
    (alert,) = alerts("failed_login_account")
    assert alert.group_key == "failed_login_account|account:late.victim"
    late_ids = AlertEvidence.objects.filter(alert=alert).values_list("event_id", flat=True)
    pending = DetectorCursor.objects.get(name="detect").pending
    assert all(not (lo <= event_id <= hi) for event_id in late_ids for lo, hi, *_ in pending)
