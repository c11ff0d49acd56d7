"""Paper records back into the chart (ADR 1412): after a downtime a queued
paper record is entered through the gateway as a note marked as a late entry,
with the original time, who did it and the downtime period; the chart's policy
decides, the audit event says late entry and never the content, the queue
links the note and the report shows it; a second person still verifies."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.clinical import gateway
from safeward.continuity import services
from safeward.continuity.models import PaperEntry
from safeward.identity.errors import NotPermitted
from tests.clinical.conftest import WARD, clinical_zone, relate  # noqa: F401 - the clinical zone for chart writes
from tests.conftest import sign_in
from tests.continuity.conftest import TREAT, enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(ward_with_patient, tmp_path, make_user, frozen_clock):
    _ward, patient = ward_with_patient
    unit, _key = enrol(tmp_path)
    services.number_range_assign(actor=None, unit=unit, prefix="DTM1-", count=10)
    admin, nurse, other = make_user("it_admin"), make_user("nurse"), make_user("nurse")
    relate(nurse, patient, "care_team")
    downtime = services.downtime_declare(actor=admin, kind="unplanned", reason="outage")
    frozen_clock.advance(minutes=40)
    entry = services.paper_entry_record(
        actor=nurse,
        downtime=downtime,
        encounter_number="DTM1-3",
        kind="order",  # medication given becomes doses (ADR 1419): tests/continuity/test_paper_mar.py
        occurred_at=frozen_clock.now(),
        performed_by=other,
    )
    return entry, patient, nurse, other, admin, downtime


def test_a_paper_record_goes_into_the_chart_as_a_late_entry_and_is_then_verified(
    queued, frozen_clock, client, make_user
):
    entry, patient, nurse, other, admin, downtime = queued
    with pytest.raises(services.RecoveryRefused, match="once the downtime has ended"):
        services.paper_entry_chart(actor=nurse, session=WARD, entry=entry, patient_id=patient, text="x")
    frozen_clock.advance(hours=2)
    services.downtime_end(actor=admin, downtime=downtime)
    entry.refresh_from_db()
    charted = services.paper_entry_chart(
        actor=nurse, session=WARD, entry=entry, patient_id=patient, text="Chest X-ray, ordered by phone."
    )
    assert charted.chart_note_id
    assert charted.charted_by == nurse
    note = next(
        n
        for n in gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient).notes
        if str(n.id) == charted.chart_note_id
    )
    assert note.title.startswith("Late entry: Order at ")
    assert entry.occurred_at.strftime("%Y-%m-%d %H:%M UTC") in note.text
    assert downtime.started_at.strftime("%Y-%m-%d %H:%M UTC") in note.text
    assert (other.get_full_name() or other.username) in note.text
    assert "Chest X-ray" in note.text
    event = AuditEvent.objects.get(
        action="create", resource_type="ClinicalNote", resource_id=charted.chart_note_id
    )
    assert event.detail["late_entry"] is True
    assert event.detail["paper_entry_id"] == entry.pk
    assert "Chest X-ray" not in str(event.detail)
    assert AuditEvent.objects.filter(resource_type="continuity.paper_entry", detail__charted=True).exists()

    with pytest.raises(services.RecoveryRefused, match="in the chart already"):
        services.paper_entry_chart(actor=nurse, session=WARD, entry=charted, patient_id=patient, text="again")
    verified = services.paper_entry_verify(actor=other, entry=charted)
    assert verified.state == PaperEntry.State.VERIFIED
    sign_in(client, make_user("auditor"))
    assert b"late entry by " + nurse.username.encode() in client.get("/continuity/recovery/report/").content


def test_the_chart_refuses_strangers_unknown_patients_and_bad_input_with_nothing_saved(
    queued, frozen_clock, client, make_user
):
    entry, patient, nurse, _other, admin, downtime = queued
    frozen_clock.advance(hours=2)
    services.downtime_end(actor=admin, downtime=downtime)
    entry.refresh_from_db()
    stranger = make_user("nurse")  # no care relationship with the patient
    refusals = [
        (stranger, patient, "x", "may not write"),
        (nurse, "00000000-0000-0000-0000-000000000000", "x", "may not write"),
        (nurse, "not-an-id", "x", "may not write"),
        (nurse, patient, "   ", "refused it"),
    ]
    for actor, patient_id, text, message in refusals:
        with pytest.raises(services.RecoveryRefused, match=message):
            services.paper_entry_chart(
                actor=actor, session=WARD, entry=entry, patient_id=patient_id, text=text
            )
    with pytest.raises(NotPermitted):
        services.paper_entry_chart(
            actor=make_user("hr_officer"), session=WARD, entry=entry, patient_id=patient, text="x"
        )
    entry.refresh_from_db()
    assert entry.chart_note_id == ""
    assert not AuditEvent.objects.filter(
        action="create", resource_type="ClinicalNote", outcome="success"
    ).exists()

    sign_in(client, nurse)
    for data in ({}, {"patient_id": patient}, {"patient_id": "x" * 37, "text": "y"}):
        response = client.post(f"/continuity/recovery/{entry.pk}/chart/", data)
        assert response.status_code == 400
        assert b"Not saved." in response.content
    ok = client.post(
        f"/continuity/recovery/{entry.pk}/chart/", {"patient_id": patient, "text": "Given as ordered."}
    )
    assert ok.status_code == 302
    entry.refresh_from_db()
    assert entry.chart_note_id
