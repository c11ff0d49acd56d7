"""Vital signs written on paper become measurements (ADR 1415), and the
person entering a paper record finds its patient by MRN or name through the
gateway's search, posted (ADR 1416)."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.clinical import gateway
from safeward.continuity import services
from safeward.continuity.models import PaperEntry
from tests.clinical.conftest import WARD, clinical_zone, relate  # noqa: F401 - the clinical zone for chart writes
from tests.conftest import sign_in
from tests.continuity.conftest import TREAT, enrol

pytestmark = pytest.mark.django_db

HEART = ("8867-4", "Heart rate", "88", "/min")
TEMPERATURE = ("8310-5", "Body temperature", "37.9", "Cel")


@pytest.fixture
def ended(ward_with_patient, tmp_path, make_user, frozen_clock):
    """A downtime that has ended, with a vital-signs and a medication record queued."""
    _ward, patient = ward_with_patient
    unit, _key = enrol(tmp_path)
    services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=10)
    admin, nurse, other = make_user("it_admin"), make_user("nurse"), make_user("nurse")
    relate(nurse, patient, "care_team")
    downtime = services.downtime_declare(actor=admin, kind="unplanned", reason="outage")
    frozen_clock.advance(minutes=40)
    entries = {
        kind: services.paper_entry_record(
            actor=nurse,
            downtime=downtime,
            encounter_number=f"DTM1-{number}",
            kind=kind,
            occurred_at=frozen_clock.now(),
            performed_by=other,
        )
        for number, kind in ((3, "vital_signs"), (4, "medication_given"))
    }
    frozen_clock.advance(hours=2)
    services.downtime_end(actor=admin, downtime=downtime)
    for entry in entries.values():
        entry.refresh_from_db()
    return entries, patient, nurse, other


def _results(nurse, patient):
    chart = gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    return chart.results or []


def test_paper_vitals_become_observations_at_the_original_time(ended):
    entries, patient, nurse, other = ended
    entry = entries["vital_signs"]
    charted = services.paper_vitals_chart(
        actor=nurse, session=WARD, entry=entry, patient_id=patient, vitals=[HEART, TEMPERATURE]
    )
    assert len(charted.chart_observation_ids) == 2
    assert charted.chart_note_id == ""
    observations = {o.code: o for o in _results(nurse, patient) if o.id in charted.chart_observation_ids}
    assert (observations["8867-4"].value, observations["8867-4"].unit) == ("88", "/min")
    assert observations["8310-5"].category == "vital-signs"
    assert {o.effective_at for o in observations.values()} == {entry.occurred_at}
    events = AuditEvent.objects.filter(action="create", resource_type="Observation", outcome="success")
    assert events.count() == 2
    for event in events:
        assert event.detail["late_entry"] is True
        assert event.detail["paper_entry_id"] == entry.pk
        # The original time is clinical data: in the record and on the paper entry, not in the audit row.
        assert "original_time" not in event.detail
        assert entry.occurred_at.isoformat() not in str(event.detail)
        assert "88" not in str(event.detail)
    with pytest.raises(services.RecoveryRefused, match="in the chart already"):
        services.paper_vitals_chart(
            actor=nurse, session=WARD, entry=charted, patient_id=patient, vitals=[HEART]
        )
    # The second person's verification is unchanged.
    assert services.paper_entry_verify(actor=other, entry=charted).state == PaperEntry.State.VERIFIED


def test_the_live_charts_range_checks_apply_and_nothing_is_half_saved(ended):
    entries, patient, nurse, _other = ended
    entry = entries["vital_signs"]
    refusals = [
        ([HEART, ("8867-4", "Heart rate", "900", "/min")], "refused it: Heart rate"),  # impossible
        ([HEART, ("8310-5", "Body temperature", "warm", "Cel")], "refused it"),  # not a number
        ([("8867-4", "Heart rate", "88", "beats per minute")], "UCUM"),
        ([("88-67", "Heart rate", "88", "/min")], "LOINC"),
        ([], "at least one"),
    ]
    for vitals, message in refusals:
        with pytest.raises(services.RecoveryRefused, match=message):
            services.paper_vitals_chart(
                actor=nurse, session=WARD, entry=entry, patient_id=patient, vitals=vitals
            )
    # Implausible (a heart rate of 15): saved only once confirmed, then marked so.
    slow = [("8867-4", "Heart rate", "15", "/min")]
    with pytest.raises(services.VitalsNeedConfirmation, match="Heart rate"):
        services.paper_vitals_chart(actor=nurse, session=WARD, entry=entry, patient_id=patient, vitals=slow)
    assert not AuditEvent.objects.filter(
        action="create", resource_type="Observation", outcome="success"
    ).exists()
    entry.refresh_from_db()
    assert entry.chart_observation_ids == []
    services.paper_vitals_chart(
        actor=nurse, session=WARD, entry=entry, patient_id=patient, vitals=slow, confirmed=True
    )
    event = AuditEvent.objects.get(action="create", resource_type="Observation", outcome="success")
    assert event.detail["implausible_confirmed"] is True


def test_kinds_go_their_own_way_and_strangers_are_refused(ended, make_user):
    entries, patient, nurse, _other = ended
    with pytest.raises(services.RecoveryRefused, match="as measurements, not as a note"):
        services.paper_entry_chart(
            actor=nurse, session=WARD, entry=entries["vital_signs"], patient_id=patient, text="HR 88"
        )
    with pytest.raises(services.RecoveryRefused, match="enter this one as a note"):
        services.paper_vitals_chart(
            actor=nurse, session=WARD, entry=entries["medication_given"], patient_id=patient, vitals=[HEART]
        )
    for stranger, patient_id in (
        (make_user("nurse"), patient),
        (nurse, "00000000-0000-0000-0000-000000000000"),
    ):
        with pytest.raises(services.RecoveryRefused, match="may not write"):
            services.paper_vitals_chart(
                actor=stranger,
                session=WARD,
                entry=entries["vital_signs"],
                patient_id=patient_id,
                vitals=[HEART],
            )
    assert not AuditEvent.objects.filter(
        action="create", resource_type="Observation", outcome="success"
    ).exists()


def test_the_page_finds_the_patient_by_mrn_then_enters_the_vitals(ended, client):
    entries, patient, nurse, _other = ended
    entry = entries["vital_signs"]
    sign_in(client, nurse)
    search = f"/continuity/recovery/{entry.pk}/patient/"
    # Bad input: nothing searched, a clear 400.
    empty = client.post(search, {"mrn": "", "name": ""})
    assert empty.status_code == 400
    assert b"Give the MRN, or the name" in empty.content
    assert client.post(search, {"birth_date": "not a date", "mrn": "KIT-0001"}).status_code == 400
    assert not AuditEvent.objects.filter(action="search", resource_type="Patient").exists()

    found = client.post(search, {"mrn": "KIT-0001"})
    assert found.status_code == 200
    page = found.content.decode()
    assert f'name="patient_id" value="{patient}"' in page
    assert "Zebrowski, Kitty · MRN KIT-0001" in page
    assert "Heart rate (/min)" in page
    search_event = AuditEvent.objects.get(action="search", resource_type="Patient")
    assert "KIT-0001" not in str(search_event.detail)
    assert client.post(search, {"mrn": "NOPE-9999"}).content.count(b'name="patient_id"') == 0

    chart = f"/continuity/recovery/{entry.pk}/chart/"
    bad = client.post(chart, {"patient_id": patient, "vital_0": "lots"})
    assert bad.status_code == 400
    assert b"Not saved." in bad.content
    assert client.post(chart, {"patient_id": patient}).status_code == 400  # no measurement
    unusual = client.post(chart, {"patient_id": patient, "vital_0": "15"})
    assert unusual.status_code == 400
    assert b'name="confirmed"' in unusual.content
    assert b'value="15"' in unusual.content  # what was typed stays
    entry.refresh_from_db()
    assert entry.chart_observation_ids == []
    ok = client.post(chart, {"patient_id": patient, "vital_0": "15", "vital_3": "37.2", "confirmed": "on"})
    assert ok.status_code == 302
    entry.refresh_from_db()
    assert len(entry.chart_observation_ids) == 2
    assert b"2 measurements" in client.get("/continuity/recovery/").content


def test_a_search_the_policy_refuses_is_a_403_with_a_reason(ended, client):
    from safeward.identity.models import NetworkZone
    from safeward.identity.network import zone_table

    entries, _patient, nurse, _other = ended
    NetworkZone.objects.all().delete()  # not a clinical workstation any more
    zone_table.clear()
    sign_in(client, nurse)
    refused = client.post(f"/continuity/recovery/{entries['vital_signs'].pk}/patient/", {"mrn": "KIT-0001"})
    assert refused.status_code == 403
    assert b"You may not search patients from here" in refused.content
    assert b"Zebrowski" not in refused.content
    assert AuditEvent.objects.filter(action="search", resource_type="Patient", outcome="denied").exists()


def test_a_paper_vital_carries_its_entry_time_to_the_chart_rest_and_fhir(ended, client, frozen_clock):
    """The observation itself says it is a late entry and when it was entered
    (clinical 0008); a measurement taken live says nothing of the kind."""
    from safeward.clinical.api import ObservationOutput
    from safeward.fhir.resources import observation_resource

    entries, patient, nurse, _other = ended
    frozen_clock.advance(minutes=5)
    entered = frozen_clock.now()
    services.paper_vitals_chart(
        actor=nurse, session=WARD, entry=entries["vital_signs"], patient_id=patient, vitals=[HEART]
    )
    live = gateway.observation_record(
        actor=nurse,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        category="vital-signs",
        code="8310-5",
        display="Body temperature",
        value="37.1",
        unit="Cel",
    )
    results = {o.id: o for o in _results(nurse, patient)}
    late = next(o for o in results.values() if o.code == "8867-4")
    assert late.late_entry_at == entered
    assert late.effective_at == entries["vital_signs"].occurred_at
    assert results[live.id].late_entry_at is None
    assert ObservationOutput(late).data["late_entry_at"] == entered.isoformat().replace("+00:00", "Z")
    assert ObservationOutput(results[live.id]).data["late_entry_at"] is None
    assert observation_resource(late, str(patient))["issued"].startswith(entered.strftime("%Y-%m-%dT%H:%M"))
    assert "issued" not in observation_resource(results[live.id], str(patient))
    sign_in(client, nurse)
    page = client.get(f"/clinical/patients/{patient}/").content.decode()
    assert f"late entry, recorded {entered:%Y-%m-%d %H:%M}" in page
    assert page.count("late entry, recorded") == 1
