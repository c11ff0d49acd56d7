"""Cases, status transitions, tasks, timeline, exercises, evidence custody and
containment through the registry (issue 19)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import DatabaseError, transaction

from safeward.audit.models import AuditEvent
from safeward.detection.triage import TriageError
from safeward.identity.errors import NotPermitted
from safeward.incidents import case_services, containment, services
from safeward.incidents.models import CustodyEvent, Incident, Task, TimelineEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(make_user):
    return make_user("security_officer")


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def test_a_case_by_hand_gets_its_playbook_and_a_timeline(officer):
    incident = case_services.incident_create(
        actor=officer, title=" Laptop  stolen ", category="lost_device", severity="high"
    )
    assert incident.title == "Laptop stolen"
    assert incident.status == Incident.Status.NEW
    assert incident.owner_id == officer.pk
    codes = list(Task.objects.filter(incident=incident).values_list("code", flat=True))
    assert "encryption" in codes
    assert "risk" in codes
    assert TimelineEntry.objects.filter(incident=incident).count() == 1
    assert AuditEvent.objects.filter(
        resource_type="Incident", resource_id=str(incident.pk), action="create"
    ).exists()


def test_status_moves_along_the_table_with_reasons(officer):
    incident = case_services.incident_create(actor=officer, title="x", category="snooping", severity="low")
    services.incident_status_set(actor=officer, incident_id=incident.pk, status="triage")
    services.incident_status_set(actor=officer, incident_id=incident.pk, status="contained")
    with pytest.raises(TriageError):  # back to triage needs a reason
        services.incident_status_set(actor=officer, incident_id=incident.pk, status="triage")
    with pytest.raises(TriageError):  # never back to new
        services.incident_status_set(actor=officer, incident_id=incident.pk, status="new")
    services.incident_status_set(actor=officer, incident_id=incident.pk, status="eradicated")
    services.incident_status_set(actor=officer, incident_id=incident.pk, status="recovered")
    closed = services.incident_status_set(
        actor=officer, incident_id=incident.pk, status="closed", reason="Done"
    )
    assert closed.closed_at is not None
    assert closed.status_reason == "Done"
    reopened = services.incident_status_set(
        actor=officer, incident_id=incident.pk, status="triage", reason="New evidence"
    )
    assert reopened.closed_at is None
    assert TimelineEntry.objects.filter(incident=incident, kind="status").count() == 7


def test_case_inputs_are_checked(officer, make_user):
    nurse = make_user("nurse")
    with pytest.raises(TriageError):
        case_services.incident_create(actor=officer, title="", category="snooping", severity="low")
    with pytest.raises(TriageError):
        case_services.incident_create(actor=officer, title="x", category="aliens", severity="low")
    with pytest.raises(TriageError):
        case_services.incident_create(actor=officer, title="x", category="other", severity="meh")
    with pytest.raises(TriageError):
        case_services.incident_create(
            actor=officer,
            title="x",
            category="other",
            severity="low",
            owner_id=officer.pk,
            reviewer_id=officer.pk,
        )
    with pytest.raises(TriageError):
        case_services.incident_create(
            actor=officer, title="x", category="other", severity="low", is_exercise=True
        )
    with pytest.raises(NotPermitted):
        case_services.incident_create(actor=nurse, title="x", category="other", severity="low")
    assert Incident.objects.count() == 0


def test_timeline_notes_keep_their_time_zone(officer):
    incident = case_services.incident_create(actor=officer, title="x", category="other", severity="low")
    entry = case_services.timeline_note(
        actor=officer,
        incident_id=incident.pk,
        occurred_at=dt.datetime(2026, 1, 5, 9, 30),
        time_zone="America/Chicago",
        text="Called the vendor",
        for_report=True,
    )
    assert entry.occurred_at == dt.datetime(2026, 1, 5, 15, 30, tzinfo=dt.UTC)
    assert entry.time_zone == "America/Chicago"
    assert entry.for_report
    with pytest.raises(TriageError):
        case_services.timeline_note(
            actor=officer,
            incident_id=incident.pk,
            occurred_at=entry.occurred_at,
            time_zone="Mars/Base",
            text="x",
            for_report=False,
        )
    case_services.timeline_flag(actor=officer, entry_id=entry.pk, for_report=False)
    entry.refresh_from_db()
    assert not entry.for_report


def test_an_exercise_records_injects_times_findings_and_drills(officer):
    exercise = case_services.incident_create(
        actor=officer,
        title="Ransomware tabletop",
        category="ransomware",
        severity="high",
        is_exercise=True,
        scenario="EHR encrypted at 02:00",
        participants="Ana, Ben",
    )
    case_services.exercise_record(
        actor=officer, incident_id=exercise.pk, kind="inject", text="Backups also hit"
    )
    case_services.exercise_record(
        actor=officer, incident_id=exercise.pk, kind="measurement", text="time to contain", minutes=42
    )
    case_services.exercise_record(
        actor=officer, incident_id=exercise.pk, kind="finding", text="No paper forms"
    )
    case_services.exercise_record(
        actor=officer, incident_id=exercise.pk, kind="drill", text="drill run 7: 5/5 fired"
    )
    exercise.refresh_from_db()
    assert exercise.exercise["participants"] == ["Ana", "Ben"]
    assert exercise.exercise["measurements"] == {"time to contain": 42}
    assert len(exercise.exercise["drills"]) == 1
    real = case_services.incident_create(actor=officer, title="y", category="other", severity="low")
    with pytest.raises(TriageError):
        case_services.exercise_record(actor=officer, incident_id=real.pk, kind="inject", text="x")


def test_evidence_is_encrypted_hashed_and_its_custody_append_only(officer, make_user, tmp_path):
    incident = case_services.incident_create(actor=officer, title="x", category="ransomware", severity="high")
    payload = b"memory image " * 1000
    evidence = case_services.evidence_add(
        actor=officer,
        incident_id=incident.pk,
        title="RAM",
        filename="../ram.img",
        content_type="",
        source=io.BytesIO(payload),
    )
    assert evidence.filename == "ram.img"
    assert evidence.size == len(payload)
    import hashlib

    assert evidence.sha256 == hashlib.sha256(payload).hexdigest()
    stored = (case_services.evidence_dir() / f"{evidence.storage_id}.swf").read_bytes()
    assert b"memory image" not in stored
    _, content = case_services.evidence_open(actor=officer, evidence_id=evidence.pk)
    assert content == payload
    colleague = make_user("privacy_officer")
    case_services.evidence_transfer(
        actor=officer, evidence_id=evidence.pk, to_user_id=colleague.pk, note="to legal"
    )
    actions = list(CustodyEvent.objects.filter(evidence=evidence).values_list("action", flat=True))
    assert actions == ["acquired", "downloaded", "transferred"]
    assert AuditEvent.objects.filter(
        action="export", resource_id=str(incident.pk), detail__evidence_id=evidence.pk
    ).exists()
    # The database refuses to rewrite or erase the chain of custody.
    event = CustodyEvent.objects.filter(evidence=evidence).first()
    with pytest.raises(DatabaseError), transaction.atomic():
        CustodyEvent.objects.filter(pk=event.pk).update(note="edited")
    with pytest.raises(DatabaseError), transaction.atomic():
        CustodyEvent.objects.filter(pk=event.pk).delete()
    assert not hasattr(case_services, "custody_update")
    assert not hasattr(case_services, "custody_delete")


def test_a_hash_mismatch_is_detected_recorded_and_nothing_released(officer):
    incident = case_services.incident_create(actor=officer, title="x", category="ransomware", severity="high")
    evidence = case_services.evidence_add(
        actor=officer,
        incident_id=incident.pk,
        title="log",
        filename="a.log",
        content_type="text/plain",
        source=io.BytesIO(b"abc"),
    )
    # The row's hash no longer matches the file (someone swapped the file or edited the row).
    type(evidence).objects.filter(pk=evidence.pk).update(sha256="0" * 64)
    with pytest.raises(case_services.EvidenceMismatch):
        case_services.evidence_open(actor=officer, evidence_id=evidence.pk)
    with pytest.raises(case_services.EvidenceMismatch):
        case_services.evidence_verify(actor=officer, evidence_id=evidence.pk)
    assert list(CustodyEvent.objects.filter(evidence=evidence).values_list("action", flat=True)) == [
        "acquired",
        "mismatch",
        "mismatch",
    ]
    # A damaged file is a mismatch too.
    path = case_services.evidence_dir() / f"{evidence.storage_id}.swf"
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    with pytest.raises(case_services.EvidenceMismatch):
        case_services.evidence_verify(actor=officer, evidence_id=evidence.pk)


def test_empty_evidence_is_refused_and_leaves_no_file(officer):
    incident = case_services.incident_create(actor=officer, title="x", category="other", severity="low")
    with pytest.raises(TriageError):
        case_services.evidence_add(
            actor=officer,
            incident_id=incident.pk,
            title="e",
            filename="e",
            content_type="",
            source=io.BytesIO(b""),
        )
    assert list(case_services.evidence_dir().iterdir()) == []


def test_containment_from_the_case_locks_the_account_and_lands_on_the_timeline(officer, make_user):
    suspect = make_user("nurse")
    incident = case_services.incident_create(actor=officer, title="x", category="credential", severity="high")
    summary = case_services.containment_run(
        actor=officer, incident_id=incident.pk, code="account_lock", target=suspect.username
    )
    assert "Locked" in summary
    suspect.refresh_from_db()
    assert suspect.is_locked
    entry = TimelineEntry.objects.get(incident=incident, kind="containment")
    assert entry.for_report
    assert "Lock an account" in entry.text
    with pytest.raises(TriageError):  # already locked
        case_services.containment_run(
            actor=officer, incident_id=incident.pk, code="account_lock", target=suspect.username
        )
    with pytest.raises(TriageError):
        case_services.containment_run(actor=officer, incident_id=incident.pk, code="nope", target="x")
    with pytest.raises(TriageError):
        case_services.containment_run(
            actor=officer, incident_id=incident.pk, code="sessions_end", target=officer.username
        )
    assert case_services.containment_run(
        actor=officer, incident_id=incident.pk, code="tokens_revoke", target=suspect.username
    )


def test_other_apps_register_containment_actions(officer):
    calls = []

    def suspend(*, actor, incident_id, target):
        if target == "bad":
            raise containment.ContainmentRefused("No such vendor.")
        calls.append((actor.pk, incident_id, target))
        return f"Vendor {target} suspended."

    containment.register_action(
        "vendor_suspend_test", "Suspend a vendor", "incident:record:manage", suspend, target_label="Vendor id"
    )
    try:
        incident = case_services.incident_create(actor=officer, title="x", category="vendor", severity="high")
        assert (
            case_services.containment_run(
                actor=officer, incident_id=incident.pk, code="vendor_suspend_test", target="7"
            )
            == "Vendor 7 suspended."
        )
        assert calls == [(officer.pk, incident.pk, "7")]
        with pytest.raises(TriageError, match="No such vendor"):
            case_services.containment_run(
                actor=officer, incident_id=incident.pk, code="vendor_suspend_test", target="bad"
            )
        with pytest.raises(ValueError, match="containment code"):
            containment.register_action("bad code!", "x", "p", suspend)
    finally:
        containment._registry.pop("vendor_suspend_test", None)


def test_risk_assessment_needs_all_four_factors(officer, make_user):
    from safeward import clock
    from safeward.clinical.types import SessionContext

    privacy = make_user("privacy_officer")
    incident = case_services.incident_create(actor=officer, title="x", category="snooping", severity="high")
    now = clock.now()
    case_services.breach_scope_compute(
        actor=officer,
        session=SessionContext.system(),
        incident_id=incident.pk,
        window_start=now - dt.timedelta(days=1),
        window_end=now,
        usernames=[privacy.username],
    )
    factors = {
        "nature": "Names and diagnoses",
        "recipient": "A workforce member",
        "acquired": "Viewed",
        "mitigation": "Attested",
    }
    with pytest.raises(TriageError):
        case_services.risk_assessment_set(
            actor=privacy, incident_id=incident.pk, factors={**factors, "nature": ""}, conclusion="breach"
        )
    with pytest.raises(TriageError):
        case_services.risk_assessment_set(
            actor=privacy, incident_id=incident.pk, factors=factors, conclusion="maybe"
        )
    with pytest.raises(NotPermitted):
        case_services.risk_assessment_set(
            actor=officer, incident_id=incident.pk, factors=factors, conclusion="breach"
        )
    saved = case_services.risk_assessment_set(
        actor=privacy, incident_id=incident.pk, factors=factors, conclusion="breach"
    )
    assert saved.risk_assessment["conclusion"] == "breach"
