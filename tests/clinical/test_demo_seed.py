"""The clinical seed step of the demo hospital."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.identity.models import User
from tests.clinical.conftest import WARD

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(seeded_demo):
    """The demo hospital as the seed leaves it, restored from the run's one
    seed (ADR 1600): 12 patients in the test settings, so DEMO-00007 is still
    the one inpatient and DEMO-00011 in the demo physician's care."""
    return seeded_demo


def test_seed_creates_patients_with_charts_and_special_records(demo):
    physician = User.objects.get(username="demo.physician")
    clerk = User.objects.get(username="demo.registration_clerk")
    page = gateway.patient_search(
        actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, mrn="DEMO-00001"
    )
    assert page.results[0].flags == ("vip",)
    canary = gateway.patient_search(
        actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, mrn="DEMO-00004"
    )
    assert canary.results == []  # confidential, and the clerk has no relationship: not even listed
    cared_for = gateway.patient_search(
        actor=physician, session=WARD, purpose=PurposeOfUse.TREATMENT, mrn="DEMO-00011"
    )
    chart = gateway.chart_read(
        actor=physician, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=cared_for.results[0].id
    )
    assert chart.encounters
    assert chart.results
    assert chart.notes
    # Issue 12: wards with an inpatient, today's clinic, open lab orders, clinical departments only.
    wards = gateway.wards_list()
    assert {w.code for w in wards} == {"ed-obs", "med-3", "surg-2"}
    assert sum(w.occupied for w in wards) == 1  # DEMO-00007 of 12
    worklist = gateway.physician_worklist(actor=physician, session=WARD, purpose=PurposeOfUse.TREATMENT)
    assert worklist.clinic_today  # whatever the hour: the hospital's day is seeded whole
    assert worklist.inpatients
    lab = User.objects.get(username="demo.lab_technician")
    assert gateway.lab_worklist(actor=lab, session=WARD, purpose=PurposeOfUse.OPERATIONS).items
    clinics = {name for _, name in gateway.departments_list(clinical_only=True)}
    assert "Emergency department" in clinics
    assert "Finance and billing" not in clinics
    assert "Laboratory" not in clinics
    events = AuditEvent.objects.count()
    call_command("demo", "seed")  # idempotent
    assert AuditEvent.objects.count() == events


def test_seed_has_a_penicillin_allergic_patient_a_pending_amendment_and_an_order_to_verify(demo):
    from safeward.clinical.types import AllergyWarning

    physician = User.objects.get(username="demo.physician")
    pharmacist = User.objects.get(username="demo.pharmacist")
    page = gateway.patient_search(
        actor=physician, session=WARD, purpose=PurposeOfUse.TREATMENT, mrn="DEMO-00011"
    )
    patient = page.results[0].id
    chart = gateway.chart_read(
        actor=physician, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient
    )
    assert any(a.substance == "Penicillin" and a.clinical_status == "active" for a in chart.allergies)
    assert [a.status for a in chart.amendment_requests] == ["pending"]
    with pytest.raises(AllergyWarning):
        gateway.medication_request_create(
            actor=physician,
            session=WARD,
            purpose=PurposeOfUse.TREATMENT,
            patient_id=patient,
            medication="Amoxicillin 500 mg capsule",
        )
    waiting = gateway.medication_orders_to_verify(
        actor=pharmacist, session=WARD, purpose=PurposeOfUse.TREATMENT
    )
    assert [item.patient.id for item in waiting.items] == [patient]
