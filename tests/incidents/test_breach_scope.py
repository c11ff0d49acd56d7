"""The breach clock's affected-patient set comes from the audit trail and the
export manifests, never typed in (issue 19, ADR 1402)."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.assets.manifests import manifest_record
from safeward.audit.manifests import ManifestDraft
from safeward.audit.models import AuditEvent
from safeward.clinical import gateway
from safeward.clinical.types import ImportedPatient, PatientInput, SessionContext
from safeward.detection.triage import TriageError
from safeward.incidents import case_services
from safeward.incidents.models import TimelineEntry
from tests.clinical.conftest import IMPORTER, WARD, purpose_for, relate

pytestmark = pytest.mark.django_db


def patient_in(state: str, number: int, *, deliverable: bool = True, family: str = "Quist") -> str:
    address = {"line": [f"{number} Main St"], "city": "Town", "state": state, "postal_code": "00000"}
    if not deliverable:
        address = {"line": [], "city": "", "state": state}
    outcome = gateway.patient_import(
        actor=IMPORTER,
        session=SessionContext.system(),
        record_in=ImportedPatient(
            patient=PatientInput(
                given_name="Pat",
                family_name=family,
                birth_date=dt.date(1970, 1, 1),
                mrn=f"S{number:05d}",
                sex="female",
                address=address,
            )
        ),
    )
    assert outcome.patient_id is not None
    return outcome.patient_id


def test_scope_from_a_compromised_account_is_exactly_the_patients_it_opened(frozen_clock, make_user):
    snoop = make_user("nurse")
    colleague = make_user("nurse")
    officer = make_user("security_officer")
    opened = [patient_in("TX", 1), patient_in("TX", 2), patient_in("CA", 3, deliverable=False)]
    others = [patient_in("TX", 4), patient_in("FL", 5)]
    for patient_id in [*opened, *others]:
        relate(snoop, patient_id, "care_team")
        relate(colleague, patient_id, "care_team")
    purpose = purpose_for("nurse")
    # Before the window: the snoop opens a patient who is not in scope.
    gateway.chart_read(actor=snoop, session=WARD, purpose=purpose, patient_id=others[0])
    frozen_clock.advance(days=1)
    start = clock.now()
    for patient_id in opened:
        gateway.chart_read(actor=snoop, session=WARD, purpose=purpose, patient_id=patient_id)
    # A colleague's access in the window is not the compromised account's.
    gateway.chart_read(actor=colleague, session=WARD, purpose=purpose, patient_id=others[1])
    frozen_clock.advance(hours=2)
    end = clock.now()
    frozen_clock.advance(hours=1)
    gateway.chart_read(actor=snoop, session=WARD, purpose=purpose, patient_id=others[1])  # after the window
    incident = case_services.incident_create(
        actor=officer, title="Snooping", category="snooping", severity="high"
    )
    assessment = case_services.breach_scope_compute(
        actor=officer,
        session=SessionContext.system(),
        incident_id=incident.pk,
        window_start=start,
        window_end=end,
        usernames=[snoop.username],
    )
    assert assessment.patient_ids == sorted(opened)
    assert assessment.affected == 3
    assert assessment.by_state == {"CA": 1, "TX": 2}
    assert assessment.stale_contacts == 1
    assert assessment.discovery_source == "case opened"
    # The residence read is itself audited, indexing each patient, without an address.
    event = AuditEvent.objects.filter(
        resource_type="BreachScope", resource_id=f"incident:{incident.pk}"
    ).get()
    assert event.fields == ["address"]
    assert "TX" not in str(event.detail)
    assert TimelineEntry.objects.filter(incident=incident, kind="breach").exists()


def test_scope_from_an_exported_file_comes_from_its_manifest(make_user):
    officer = make_user("security_officer")
    exported = [patient_in("NY", 11), patient_in("NY", 12)]
    manifest_record(
        actor=officer,
        draft=ManifestDraft(kind="csv", route="audit:report_csv", purpose="HSYSADMIN", patient_ids=exported),
        sha256="ab" * 32,
        byte_count=10,
        complete=True,
    )
    incident = case_services.incident_create(
        actor=officer, title="File found", category="misdirected", severity="high"
    )
    now = clock.now()
    assessment = case_services.breach_scope_compute(
        actor=officer,
        session=SessionContext.system(),
        incident_id=incident.pk,
        window_start=now - dt.timedelta(days=1),
        window_end=now,
        file_hashes=["AB" * 32],
    )
    assert assessment.patient_ids == sorted(exported)
    assert assessment.by_state == {"NY": 2}


def test_scope_refuses_bad_input_and_saves_nothing(make_user):
    officer = make_user("security_officer")
    incident = case_services.incident_create(actor=officer, title="x", category="other", severity="low")
    now = clock.now()
    cases = [
        {"window_start": now, "window_end": now - dt.timedelta(hours=1), "usernames": [officer.username]},
        {"window_start": now - dt.timedelta(days=2000), "window_end": now, "usernames": [officer.username]},
        {"window_start": now - dt.timedelta(hours=1), "window_end": now, "usernames": ["nobody-here"]},
        {"window_start": now - dt.timedelta(hours=1), "window_end": now},
        {"window_start": now - dt.timedelta(hours=1), "window_end": now, "file_hashes": ["xyz"]},
    ]
    for kwargs in cases:
        with pytest.raises(TriageError):
            case_services.breach_scope_compute(
                actor=officer, session=SessionContext.system(), incident_id=incident.pk, **kwargs
            )
    assert not hasattr(incident, "breach") or incident.breach is None


def test_discovery_is_the_first_acknowledgement_of_a_linked_alert_and_overridable(frozen_clock, make_user):
    from safeward.detection.models import Alert
    from safeward.incidents.models import Incident

    officer = make_user("security_officer")
    privacy = make_user("privacy_officer")
    incident = case_services.incident_create(actor=officer, title="x", category="snooping", severity="high")
    acknowledged = clock.now() - dt.timedelta(days=3)
    Alert.objects.create(
        rule="family_snooping",
        severity="high",
        title="t",
        status="confirmed",
        created_at=acknowledged - dt.timedelta(hours=1),
        updated_at=acknowledged,
        triaged_at=acknowledged,
        incident=Incident.objects.get(pk=incident.pk),
        group_key="k1",
        first_event_id=1,
        last_event_id=1,
        first_event_at=acknowledged,
        last_event_at=acknowledged,
    )
    now = clock.now()
    assessment = case_services.breach_scope_compute(
        actor=officer,
        session=SessionContext.system(),
        incident_id=incident.pk,
        window_start=now - dt.timedelta(days=5),
        window_end=now,
        usernames=[privacy.username],
    )
    assert assessment.discovered_at == acknowledged
    assert "acknowledged" in assessment.discovery_source
    with pytest.raises(TriageError):
        case_services.discovery_override(actor=privacy, incident_id=incident.pk, discovered_at=now, reason="")
    overridden = case_services.discovery_override(
        actor=privacy, incident_id=incident.pk, discovered_at=now - dt.timedelta(days=4), reason="Phone call"
    )
    assert case_services.breach_deadlines(overridden) == []  # nobody affected: no notice due
