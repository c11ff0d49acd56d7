"""Fixtures for the clinical tests: a clinical network zone on loopback (the
test client's address), patients created through the gateway's import path,
and helpers that put a user in each relationship to a patient."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import PatientInput, SessionContext, SystemActor
from tests.one_door import clinical_test_data

WARD = SessionContext(session_id="test", reachable=True, reachable_reason="clinical_zone", step_up_fresh=True)
IMPORTER = SystemActor("tests")


@pytest.fixture(autouse=True)
def clinical_zone(db):
    from safeward.identity.models import NetworkZone
    from safeward.identity.network import zone_table

    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8"], clinical=True)
    zone_table.clear()


def new_patient(*, given="Ada", family="Quist", birth=dt.date(1980, 2, 3), mrn=None, **flags) -> str:
    """A patient created by the gateway (system actor); returns its id."""
    from safeward.clinical.types import ImportedPatient

    outcome = gateway.patient_import(
        actor=IMPORTER,
        session=SessionContext.system(),
        record_in=ImportedPatient(
            patient=PatientInput(
                given_name=given,
                family_name=family,
                birth_date=birth,
                mrn=mrn,
                sex="female",
                phone="+44 20 7946 0000",
                national_id="123-45-6789",
                insurance={"payer": "Acme Health", "member_id": "AC-1"},
                address={"line": ["1 Test Street"], "city": "Testville"},
                **flags,
            )
        ),
    )
    assert outcome.patient_id is not None
    return outcome.patient_id


@pytest.fixture
def patient(db):
    return new_patient()


def relate(user, patient_id: str, relationship: str) -> None:
    """Put `user` in `relationship` to the patient (test setup, straight to the rows)."""
    with clinical_test_data():
        _relate(user, patient_id, relationship)


def _relate(user, patient_id: str, relationship: str) -> None:
    from safeward.clinical.models import Appointment, CareTeamMembership, Encounter, Slot
    from safeward.identity.models import Department, StaffProfile

    now = clock.now()
    department, _ = Department.objects.get_or_create(code="ward-a", defaults={"name": "Ward A"})
    if relationship == "care_team":
        CareTeamMembership.objects.create(patient_id=patient_id, user=user, role="nurse", starts_at=now)
    elif relationship == "attending":
        Encounter.objects.create(
            patient_id=patient_id,
            kind="inpatient",
            department=department,
            attending=user,
            status="in_progress",
            started_at=now,
        )
    elif relationship == "department":
        StaffProfile.objects.update_or_create(user=user, defaults={"department": department})
        user.__dict__.pop("_clinical_department_ids", None)
        Encounter.objects.create(
            patient_id=patient_id, kind="emergency", department=department, status="arrived", started_at=now
        )
    elif relationship == "appointment_today":
        slot = Slot.objects.create(
            department=department, clinician=user, starts_at=now, ends_at=now + dt.timedelta(minutes=20)
        )
        Appointment.objects.create(
            patient_id=patient_id,
            slot=slot,
            department=department,
            clinician=user,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            booked_at=now,
        )
    elif relationship != "none":
        raise ValueError(relationship)


def purpose_for(role: str) -> PurposeOfUse:
    return {"billing_clerk": PurposeOfUse.PAYMENT, "registration_clerk": PurposeOfUse.OPERATIONS}.get(
        role, PurposeOfUse.TREATMENT
    )


def appointment_to_today(appointment_id: str) -> None:
    """Test setup, straight to the row: a booked appointment now, on today's
    date (check-in happens only on the appointment's day; a slot booked
    through the gateway is always in the future, maybe tomorrow)."""
    from safeward.clinical.models import Appointment

    now = clock.now()
    with clinical_test_data():
        Appointment.objects.filter(pk=appointment_id).update(
            starts_at=now, ends_at=now + dt.timedelta(minutes=15)
        )
