"""Medication given on paper during a downtime becomes doses against its
orders (ADR 1419): the order number the downtime kit printed, the dose, the
unit and the route, at the time on the paper; refused, with nothing saved,
when the order is missing, another patient's, not active or written after
the dose, when the time is outside the downtime, or the dose is nonsense.
Entering a dose is the policy's ADMINISTER action (ADR 1420): a nurse or a
prescriber with a care relationship enters it, the ward's nurses included;
a second person, who may record doses for the patient too, verifies it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import QuerySet

from safeward.audit.models import AuditEvent
from safeward.clinical import gateway
from safeward.clinical.models import MedicationAdministration
from safeward.clinical.types import SystemActor
from safeward.continuity import services
from safeward.continuity.models import PaperEntry
from safeward.crypto.fields import decrypt_field
from tests import one_door
from tests.clinical.conftest import WARD, clinical_zone, new_patient, relate  # noqa: F401 - the clinical zone
from tests.conftest import sign_in
from tests.continuity.conftest import TREAT, order_ref, order_write

pytestmark = pytest.mark.django_db


def _stored() -> list[MedicationAdministration]:
    """What the gateway wrote, read straight from the table (the test looks behind the door)."""
    with one_door.allowed("the test checks the rows the gateway stored"):
        return list(MedicationAdministration.objects.all())


def _given() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        action="create", resource_type="MedicationAdministration", outcome="success"
    )


def test_a_paper_dose_becomes_an_administration_at_the_original_time(ended, frozen_clock):
    entry, patient, _nurse, other, doctor, orders = ended
    dose = (order_ref(orders["paracetamol"]), "1000", "mg", "oral")
    charted = services.paper_mar_chart(
        actor=doctor, session=WARD, entry=entry, patient_id=patient, doses=[dose]
    )
    assert len(charted.chart_administration_ids) == 1
    assert charted.chart_note_id == ""
    assert charted.chart_observation_ids == []
    (given,) = _stored()
    assert str(given.pk) == charted.chart_administration_ids[0]
    assert str(given.request_id) == orders["paracetamol"]
    assert (decrypt_field(given, "dose"), given.dose_unit, given.route) == ("1000", "mg", "oral")
    assert decrypt_field(given, "administered_at") == entry.occurred_at
    assert decrypt_field(given, "late_entry_at") == frozen_clock.now()
    assert given.recorded_by == doctor
    event = _given().get()
    assert event.detail["late_entry"] is True
    assert event.detail["paper_entry_id"] == entry.pk
    assert event.detail["medication_request"] == orders["paracetamol"]
    # The original time is clinical data: in the record and on the paper entry, not in the audit row.
    assert "original_time" not in event.detail
    assert entry.occurred_at.isoformat() not in str(event.detail)
    assert "1000" not in str(event.detail)
    assert AuditEvent.objects.filter(
        resource_type="continuity.paper_entry", detail__administrations=1
    ).exists()
    with pytest.raises(services.RecoveryRefused, match="in the chart already"):
        services.paper_mar_chart(actor=doctor, session=WARD, entry=charted, patient_id=patient, doses=[dose])
    # The second person records doses for this patient too: a nurse of the ward.
    relate(other, patient, "department")
    assert services.paper_entry_verify(actor=other, entry=charted, session=WARD).state == "verified"
    (given,) = _stored()
    assert given.verified_by == other
    assert decrypt_field(given, "verified_at") == frozen_clock.now()


def test_the_full_order_id_works_too(ended):
    entry, patient, _nurse, _other, doctor, orders = ended
    services.paper_mar_chart(
        actor=doctor,
        session=WARD,
        entry=entry,
        patient_id=patient,
        doses=[(orders["paracetamol"], "0.5", "g", "oral")],
    )
    (given,) = _stored()
    assert decrypt_field(given, "dose") == "0.5"


def test_refusals_save_nothing_and_name_the_problem(ended, make_user):
    entry, patient, nurse, _other, doctor, orders = ended
    good = (order_ref(orders["paracetamol"]), "1000", "mg", "oral")
    someone_else = new_patient(given="Other", family="Person", mrn="OTH-0001")
    relate(doctor, someone_else, "attending")
    theirs = order_write(doctor, someone_else, "Warfarin 5 mg")
    refusals = [
        ([(order_ref(orders["stopped"]), "400", "mg", "oral")], "order is stopped, not active"),
        ([(order_ref(theirs), "5", "mg", "oral")], "No such medication order for this patient"),
        ([("00000000", "5", "mg", "oral")], "No such medication order for this patient"),
        ([("abc", "5", "mg", "oral")], "order number from the kit"),
        (
            [good, (order_ref(orders["paracetamol"]), "0", "mg", "oral")],
            "more than 0",
        ),  # one bad dose: none saved
        ([(order_ref(orders["paracetamol"]), "a lot", "mg", "oral")], "is a number"),
        ([(order_ref(orders["paracetamol"]), "NaN", "mg", "oral")], "more than 0"),
        ([(order_ref(orders["paracetamol"]), "1000", "milligrams please", "oral")], "UCUM"),
        ([(order_ref(orders["paracetamol"]), "1000", "mg", "by magic")], "route"),
        ([], "at least one dose"),
    ]
    for doses, message in refusals:
        with pytest.raises(services.RecoveryRefused, match=message):
            services.paper_mar_chart(actor=doctor, session=WARD, entry=entry, patient_id=patient, doses=doses)
    for stranger, patient_id in (
        (make_user("physician"), patient),  # no care relationship
        (make_user("nurse"), patient),  # a nurse of another ward, not on the care team
        (nurse, "00000000-0000-0000-0000-000000000000"),
    ):
        with pytest.raises(services.RecoveryRefused, match="may not write"):
            services.paper_mar_chart(
                actor=stranger, session=WARD, entry=entry, patient_id=patient_id, doses=[good]
            )
    # Roles that read medications or results but give none, even caring for the patient.
    for role in ("pharmacist", "lab_technician", "registration_clerk"):
        stranger = make_user(role)
        relate(stranger, patient, "care_team")
        with pytest.raises(gateway.NotFound):
            gateway.paper_mar_chart(
                actor=stranger,
                session=WARD,
                purpose=TREAT,
                patient_id=patient,
                paper_entry_id=entry.pk,
                occurred_at=entry.occurred_at,
                downtime_started_at=entry.downtime.started_at,
                downtime_ended_at=entry.downtime.ended_at,
                doses=[gateway.PaperDose(request_id=good[0], dose="1", dose_unit="g", route="oral")],
            )
    assert _stored() == []
    assert not _given().exists()
    entry.refresh_from_db()
    assert entry.chart_administration_ids == []


def test_an_order_written_after_the_dose_or_a_time_outside_the_downtime_is_refused(ended, frozen_clock):
    entry, patient, _nurse, _other, doctor, _orders = ended
    later = order_write(doctor, patient, "Ondansetron 4 mg")  # written after the downtime
    with pytest.raises(services.RecoveryRefused, match="written after the time on the paper"):
        services.paper_mar_chart(
            actor=doctor,
            session=WARD,
            entry=entry,
            patient_id=patient,
            doses=[(order_ref(later), "4", "mg", "iv")],
        )
    downtime = entry.downtime
    with pytest.raises(gateway.InvalidInput) as outside:
        gateway.paper_mar_chart(
            actor=doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            paper_entry_id=entry.pk,
            occurred_at=downtime.ended_at + dt.timedelta(minutes=1),
            downtime_started_at=downtime.started_at,
            downtime_ended_at=downtime.ended_at,
            doses=[gateway.PaperDose(request_id=later, dose="4", dose_unit="mg", route="iv")],
        )
    assert "within the downtime" in str(outside.value.errors)
    assert _stored() == []


def test_medication_given_is_no_longer_a_note_and_other_kinds_are_not_doses(ended, make_user):
    entry, patient, nurse, other, doctor, orders = ended
    with pytest.raises(services.RecoveryRefused, match="doses against its orders, not as a note"):
        services.paper_entry_chart(
            actor=nurse, session=WARD, entry=entry, patient_id=patient, text="Paracetamol"
        )
    vitals = services.paper_entry_record(
        actor=nurse,
        downtime=entry.downtime,
        encounter_number="DTM1-5",
        kind="vital_signs",
        occurred_at=entry.occurred_at,
        performed_by=other,
    )
    with pytest.raises(services.RecoveryRefused, match="Only a paper record of medication given"):
        services.paper_mar_chart(
            actor=doctor,
            session=WARD,
            entry=vitals,
            patient_id=patient,
            doses=[(order_ref(orders["paracetamol"]), "1", "g", "oral")],
        )


def test_the_kit_prints_the_order_number_the_paper_mar_copies(ended):
    _entry, patient, _nurse, _other, _doctor, orders = ended
    ward = next(w for w in gateway.wards_list() if w.code == "m1")
    kit = gateway.downtime_kit(actor=SystemActor(gateway.KIT_ACTOR), ward_id=ward.id)
    lines = [line for row in kit.patients if str(row.patient_id) == str(patient) for line in row.medications]
    assert any(
        line.startswith("Paracetamol 1 g") and f"(order {order_ref(orders['paracetamol'])})" in line
        for line in lines
    )
    assert not any("Ibuprofen" in line for line in lines)  # stopped: not on the kit


def test_the_page_enters_a_dose_and_keeps_what_was_typed_on_a_refusal(ended, client):
    entry, patient, _nurse, _other, doctor, orders = ended
    sign_in(client, doctor)
    found = client.post(f"/continuity/recovery/{entry.pk}/patient/", {"mrn": "KIT-0001"})
    assert found.status_code == 200
    assert b'name="order"' in found.content
    assert b'<option value="oral"' in found.content
    chart = f"/continuity/recovery/{entry.pk}/chart/"
    typed = {
        "patient_id": patient,
        "order": order_ref(orders["stopped"]),
        "dose": "400",
        "dose_unit": "mg",
        "route": "oral",
    }
    refused = client.post(chart, typed)
    assert refused.status_code == 400
    assert b"not active" in refused.content
    assert f'value="{order_ref(orders["stopped"])}"'.encode() in refused.content  # what was typed stays
    assert client.post(chart, {**typed, "dose": "-1"}).status_code == 400
    assert client.post(chart, {**typed, "route": "by magic"}).status_code == 400
    assert _stored() == []
    ok = client.post(chart, {**typed, "order": order_ref(orders["paracetamol"]), "dose": "1000"})
    assert ok.status_code == 302
    entry.refresh_from_db()
    assert len(entry.chart_administration_ids) == 1
    assert b"1 dose given" in client.get("/continuity/recovery/").content


def _another_entry(entry: PaperEntry, actor, performed_by, number: str) -> PaperEntry:
    return services.paper_entry_record(
        actor=actor,
        downtime=entry.downtime,
        encounter_number=number,
        kind="medication_given",
        occurred_at=entry.occurred_at,
        performed_by=performed_by,
    )


def test_nurses_caring_for_the_patient_enter_paper_doses_but_still_do_not_prescribe(
    ended, make_user, medicine
):
    entry, patient, nurse, other, _doctor, orders = ended
    dose = (order_ref(orders["paracetamol"]), "1000", "mg", "oral")
    # The nurse on the care team (ADR 1420).
    services.paper_mar_chart(actor=nurse, session=WARD, entry=entry, patient_id=patient, doses=[dose])
    # The charge nurse of the ward the patient lies on: the department relationship.
    charge = make_user("nurse", profile=medicine)
    second = _another_entry(entry, other, other, "DTM1-6")
    services.paper_mar_chart(actor=charge, session=WARD, entry=second, patient_id=patient, doses=[dose])
    assert sorted(str(g.recorded_by_id) for g in _stored()) == sorted([str(nurse.pk), str(charge.pk)])
    assert _given().count() == 2
    for who in (nurse, charge):
        with pytest.raises(gateway.NotFound):
            gateway.medication_request_create(
                actor=who, session=WARD, purpose=TREAT, patient_id=patient, medication="Morphine 10 mg"
            )


def test_the_verifier_is_a_second_person_who_checks_the_doses_in_the_chart(ended, make_user, medicine):
    entry, patient, nurse, other, doctor, orders = ended
    dose = (order_ref(orders["paracetamol"]), "1000", "mg", "oral")
    charge = make_user("nurse", profile=medicine)
    with pytest.raises(services.RecoveryRefused, match="into the chart first"):
        services.paper_entry_verify(actor=charge, entry=entry, session=WARD)
    # Queued by the nurse, put in the chart by the doctor: neither verifies.
    charted = services.paper_mar_chart(
        actor=doctor, session=WARD, entry=entry, patient_id=patient, doses=[dose]
    )
    for who in (nurse, doctor):
        with pytest.raises(services.RecoveryRefused, match="second person"):
            services.paper_entry_verify(actor=who, entry=charted, session=WARD)
    # Someone with no right to record doses for the patient does not verify them.
    for stranger in (other, make_user("pharmacist")):
        with pytest.raises(services.RecoveryRefused, match="may not record doses"):
            services.paper_entry_verify(actor=stranger, entry=charted, session=WARD)
    assert (
        AuditEvent.objects.filter(
            action="update", resource_type="MedicationAdministration", outcome="denied"
        ).count()
        == 2
    )
    with pytest.raises(services.RecoveryRefused, match="signed-in session"):
        services.paper_entry_verify(actor=charge, entry=charted)
    (given,) = _stored()
    assert given.verified_by is None
    charted.refresh_from_db()
    assert charted.state == PaperEntry.State.QUEUED
    verified = services.paper_entry_verify(actor=charge, entry=charted, session=WARD)
    assert (verified.state, verified.verified_by) == (PaperEntry.State.VERIFIED, charge)
    (given,) = _stored()
    assert given.verified_by == charge
    event = AuditEvent.objects.get(
        action="update", resource_type="MedicationAdministration", outcome="success"
    )
    assert event.detail["verified"] is True
    assert event.detail["paper_entry_id"] == entry.pk
    with pytest.raises(services.RecoveryRefused, match="verified already"):
        services.paper_entry_verify(actor=make_user("nurse", profile=medicine), entry=verified, session=WARD)


def test_the_gateway_refuses_the_one_who_entered_the_dose_and_so_does_the_database(ended):
    from django.db import IntegrityError, transaction

    entry, patient, nurse, _other, _doctor, orders = ended
    dose = (order_ref(orders["paracetamol"]), "1000", "mg", "oral")
    charted = services.paper_mar_chart(
        actor=nurse, session=WARD, entry=entry, patient_id=patient, doses=[dose]
    )
    with pytest.raises(gateway.InvalidInput, match="second person"):
        gateway.paper_mar_verify(
            actor=nurse,
            session=WARD,
            purpose=TREAT,
            paper_entry_id=entry.pk,
            administration_ids=charted.chart_administration_ids,
        )
    with (
        one_door.allowed("the test writes past the gateway to reach the constraint"),
        pytest.raises(IntegrityError),
        transaction.atomic(),
    ):
        MedicationAdministration.objects.filter(pk=charted.chart_administration_ids[0]).update(
            verified_by=nurse
        )


def test_a_ward_nurse_cannot_chart_a_dose_of_a_sensitive_order_the_chart_withholds_from_her(
    ended, make_user, medicine, frozen_clock
):
    """Sensitive items need a direct relationship: the ward's nurse (department
    only) is answered as for an unknown order; the nurse on the care team enters it."""
    entry, patient, nurse, _other, doctor, _orders = ended
    back = frozen_clock.now() - entry.occurred_at + dt.timedelta(minutes=10)
    frozen_clock.advance(seconds=-back.total_seconds())  # written ten minutes before the dose
    view = gateway.medication_request_create(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        medication="Sertraline 50 mg",
        sensitivity="mental_health",
    )
    frozen_clock.advance(seconds=back.total_seconds())
    assert view.authored_at < entry.occurred_at
    dose = (order_ref(str(view.id)), "50", "mg", "oral")
    charge = make_user("nurse", profile=medicine)
    with pytest.raises(services.RecoveryRefused, match="No such medication order for this patient"):
        services.paper_mar_chart(actor=charge, session=WARD, entry=entry, patient_id=patient, doses=[dose])
    assert _stored() == []
    services.paper_mar_chart(actor=nurse, session=WARD, entry=entry, patient_id=patient, doses=[dose])
    (given,) = _stored()
    assert given.sensitivity == "mental_health"
    chart = gateway.chart_read(actor=charge, session=WARD, purpose=TREAT, patient_id=patient)
    assert chart.administrations == []
    assert chart.withheld_sensitive >= 2  # the order and its dose
