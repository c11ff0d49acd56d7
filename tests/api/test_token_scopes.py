"""A bearer token reaches the REST API and /o/launch/ only as far as its
SMART scopes go, for writes as for reads (issue 11, item 1): the same scope
decision as FHIR (safeward/clinical/scopes.py, ADR 0607)."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from tests.clinical.conftest import WARD, appointment_to_today, new_patient, relate
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db
BASE = "/api/v1/clinical"


def _post(client, path, data, raw):
    return client.post(path, data, content_type="application/json", **bearer(raw))


def _condition(client, patient, raw):
    return _post(client, f"{BASE}/patients/{patient}/conditions/", {"code": "I10", "display": "HTN"}, raw)


def _booked_appointment(clerk, patient) -> str:
    from safeward.identity.models import Department

    clinic, _ = Department.objects.get_or_create(code="scope-clinic", defaults={"name": "Scope clinic"})
    day = clock.now().date() + dt.timedelta(days=1)
    gateway.slots_create(
        actor=clerk,
        session=WARD,
        department_id=clinic.pk,
        day=day,
        start=dt.time(9),
        end=dt.time(10),
        minutes=30,
    )
    slots = gateway.schedule_day(
        actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, department_id=clinic.pk, day=day
    )
    free = next(s for s in slots if s.appointment is None)
    booked = gateway.appointment_book(
        actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, patient_id=patient, slot_id=free.id
    )
    return booked.id


def test_a_token_without_clinical_scopes_writes_nothing(make_user, client, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    created = AuditEvent.objects.filter(action="create").count()  # the patient's own import
    for scope in ("openid", "user/*.rs"):
        raw = token(doctor, scope)
        note = {"title": "T", "text": "Written by a token", "kind": "progress"}
        assert _post(client, f"{BASE}/patients/{patient}/notes/", note, raw).status_code == 403
        assert _condition(client, patient, raw).status_code == 403
        allergy = {"substance": "Latex", "criticality": "low"}
        assert _post(client, f"{BASE}/patients/{patient}/allergies/", allergy, raw).status_code == 403
    assert AuditEvent.objects.filter(action="create").count() == created


def test_a_create_scope_writes(make_user, client, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    assert _condition(client, patient, token(doctor, "user/Condition.c")).status_code == 201


def test_a_read_only_token_cannot_check_in(make_user, client, patient):
    clerk = make_user("registration_clerk")
    relate(clerk, patient, "appointment_today")
    appointment = _booked_appointment(clerk, patient)
    appointment_to_today(appointment)  # check-in only on the appointment's day
    for scope in ("openid", "user/*.rs"):
        raw = token(clerk, scope)
        assert _post(client, f"{BASE}/appointments/{appointment}/check-in/", {}, raw).status_code == 403
    assert (
        _post(
            client, f"{BASE}/appointments/{appointment}/check-in/", {}, token(clerk, "user/*.cruds")
        ).status_code
        == 200
    )


def test_a_scope_less_token_learns_nothing_about_an_mrn(make_user, client, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    raw = token(doctor, "openid")
    assert _post(client, f"{BASE}/patients/search/", {"mrn": "MRN-1"}, raw).status_code == 403
    assert client.get(f"{BASE}/patients/{patient}/chart/", **bearer(raw)).status_code == 403
    assert client.get(f"{BASE}/patients/{patient}/", **bearer(raw)).status_code == 403
    assert _post(client, "/o/launch/", {"patient_id": patient}, raw).status_code == 403


def test_a_patient_bound_token_reaches_its_patient_only(make_user, client):
    doctor = make_user("physician")
    mine = new_patient(given="Ada", family="Quist", mrn="MRN-A")
    other = new_patient(given="Bea", family="Quist", mrn="MRN-B")
    relate(doctor, mine, "care_team")
    relate(doctor, other, "care_team")  # the user may see both; the token only one
    raw = token(doctor, "launch/patient patient/*.cruds", patient_id=mine)
    assert client.get(f"{BASE}/patients/{mine}/chart/", **bearer(raw)).status_code == 200
    assert client.get(f"{BASE}/patients/{other}/chart/", **bearer(raw)).status_code == 404
    assert client.get(f"{BASE}/patients/{other}/", **bearer(raw)).status_code == 404
    found = _post(client, f"{BASE}/patients/search/", {"name": "quist"}, raw)
    assert [r["id"] for r in found.json()["results"]] == [mine]
    assert _post(client, f"{BASE}/patients/search/", {"mrn": "MRN-B"}, raw).json()["results"] == []
    assert _condition(client, other, raw).status_code == 404
    assert _condition(client, mine, raw).status_code == 201
    assert _post(client, "/o/launch/", {"patient_id": other}, raw).status_code == 404
    assert _post(client, "/o/launch/", {"patient_id": mine}, raw).status_code == 201


def test_a_patient_bound_token_cannot_touch_another_patients_appointment(make_user, client):
    clerk = make_user("registration_clerk")
    mine, other = new_patient(mrn="MRN-A"), new_patient(given="Bea", mrn="MRN-B")
    relate(clerk, mine, "appointment_today")
    theirs = _booked_appointment(clerk, other)
    raw = token(clerk, "patient/Appointment.cruds", patient_id=mine)
    assert _post(client, f"{BASE}/appointments/{theirs}/cancel/", {}, raw).status_code == 404
