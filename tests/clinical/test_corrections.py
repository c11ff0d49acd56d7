"""Corrections and amendments (issue 12, ONC 170.315(d)(4)): each workflow
through the gateway and the pages, the values replaced kept and shown, the
audit naming fields and versions but never a value, patient amendment
requests accepted (linked) or denied (reason, statement of disagreement),
and refusals for people not allowed."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.audit.selectors import patient_accesses
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import Conflict, Forbidden, InvalidInput, NotFound, PatientInput
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
TREAT, OPS = PurposeOfUse.TREATMENT, PurposeOfUse.OPERATIONS


def client_for(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


@pytest.fixture
def team(make_user):
    doctor = make_user("physician")
    nurse = make_user("nurse")
    clerk = make_user("registration_clerk")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    relate(nurse, patient, "care_team")
    return doctor, nurse, clerk, patient


def _chart(user, patient):
    return gateway.chart_read(actor=user, session=WARD, purpose=TREAT, patient_id=patient)


def _no_values_in_audit(*values: str) -> None:
    dump = json.dumps(list(AuditEvent.objects.values("reason", "fields", "detail", "resource_id")))
    for value in values:
        assert value not in dump


# --- notes ------------------------------------------------------------------------------------------
def _note(doctor, patient, text="Chest clear."):
    return gateway.note_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, title="Ward round", text=text
    )


def _amend(actor, patient, note_id, text="Chest clear, mild wheeze.", **kwargs):
    return gateway.note_amend(
        actor=actor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        note_id=note_id,
        title="Ward round",
        text=text,
        reason=kwargs.pop("reason", "Wheeze omitted"),
        **kwargs,
    )


def test_note_amendment_is_append_only_and_shows_the_earlier_version(team):
    doctor, _nurse, _clerk, patient = team
    first = _note(doctor, patient)
    second = _amend(doctor, patient, first.id)
    third = _amend(doctor, patient, second.id, text="Chest clear, mild wheeze, sats 97%.")
    (shown,) = _chart(doctor, patient).notes
    assert shown.id == third.id
    assert shown.amends == second.id
    assert shown.amendment_reason == "Wheeze omitted"
    assert [v.text for v in shown.previous] == ["Chest clear, mild wheeze.", "Chest clear."]
    event = AuditEvent.objects.filter(resource_type="ClinicalNote", action="update").latest("pk")
    assert (event.detail["changed"], event.detail["amends"]) == (["text"], second.id)
    _no_values_in_audit("Chest clear", "Wheeze omitted")
    with pytest.raises(Conflict):  # an amended version is not amended again
        _amend(doctor, patient, first.id)


def test_only_the_author_amends_a_note(team, make_user):
    doctor, nurse, clerk, patient = team
    note = _note(doctor, patient)
    with pytest.raises(Forbidden):
        _amend(nurse, patient, note.id)
    denied = AuditEvent.objects.filter(resource_type="ClinicalNote", outcome="denied").latest("pk")
    assert denied.reason == "not_author"
    for outsider in (clerk, make_user("physician"), make_user("lab_technician")):
        with pytest.raises(NotFound):
            _amend(outsider, patient, note.id)
    assert [n.id for n in _chart(doctor, patient).notes] == [note.id]


def test_note_amendment_bad_input_saves_nothing(team):
    doctor, _nurse, _clerk, patient = team
    note = _note(doctor, patient)
    for bad in ({"reason": ""}, {"text": ""}, {"text": "x" * 20_001}):
        with pytest.raises(InvalidInput):
            _amend(doctor, patient, note.id, **bad)
    with pytest.raises(NotFound):
        _amend(doctor, patient, "not-a-uuid")
    with pytest.raises(NotFound):
        _amend(doctor, patient, uuid.uuid4())
    assert _chart(doctor, patient).notes[0].previous == ()


def test_note_amend_page_shows_the_previous_version(team):
    doctor, nurse, _clerk, patient = team
    note = _note(doctor, patient)
    client = client_for(doctor)
    chart = client.get(f"/clinical/patients/{patient}/").content.decode()
    path = f"/clinical/patients/{patient}/notes/{note.id}/amend/"
    assert path in chart
    page = client.get(path)
    assert page.status_code == 200
    assert "Current version" in page.content.decode()
    token = re.search(r'name="submission" value="([0-9a-f]+)"', page.content.decode()).group(1)
    data = {
        "title": "Ward round",
        "text": "Chest clear, mild wheeze.",
        "reason": "Omission",
        "submission": token,
    }
    assert client.post(path, {**data, "reason": ""}).status_code == 400
    done = client.post(path, data)
    assert done.status_code == 302
    body = client.get(f"/clinical/patients/{patient}/").content.decode()
    assert "amended" in body
    assert "Earlier version" in body
    assert "Chest clear." in body
    assert client.post(path, data).status_code == 409  # the same form again
    # The nurse sees no Amend link and is refused by the page.
    nurse_client = client_for(nurse)
    assert path not in nurse_client.get(f"/clinical/patients/{patient}/").content.decode()
    latest = _chart(doctor, patient).notes[0].id
    refused = nurse_client.post(
        f"/clinical/patients/{patient}/notes/{latest}/amend/", {**data, "submission": uuid.uuid4().hex}
    )
    assert refused.status_code == 403


# --- medications, problems, allergies -----------------------------------------------------------------
def test_discontinue_resolve_and_allergy_status_keep_the_old_status(team):
    doctor, nurse, _clerk, patient = team
    medication = gateway.medication_request_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, medication="Amlodipine 5 mg"
    )
    stopped = gateway.medication_discontinue(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        medication_id=medication.id,
        reason="Hypotension",
    )
    assert stopped.status == "stopped"
    with pytest.raises(Conflict):
        gateway.medication_discontinue(
            actor=doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            medication_id=medication.id,
            reason="again",
        )
    with pytest.raises(InvalidInput):
        gateway.medication_discontinue(
            actor=doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            medication_id=medication.id,
            reason=" ",
        )
    condition = gateway.condition_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, code="J45.909", display="Asthma"
    )
    gateway.condition_resolve(
        actor=nurse, session=WARD, purpose=TREAT, patient_id=patient, condition_id=condition.id
    )
    allergy = gateway.allergy_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, substance="Latex"
    )
    with pytest.raises(InvalidInput):  # entered in error needs a reason
        gateway.allergy_set_status(
            actor=doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            allergy_id=allergy.id,
            status="entered-in-error",
        )
    gateway.allergy_set_status(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        allergy_id=allergy.id,
        status="entered-in-error",
        reason="Wrong patient",
    )
    with pytest.raises(Conflict):  # entered in error is final
        gateway.allergy_set_status(
            actor=doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            allergy_id=allergy.id,
            status="active",
        )
    chart = _chart(doctor, patient)
    assert [c.clinical_status for c in chart.problems] == ["resolved"]
    assert [a.clinical_status for a in chart.allergies] == ["entered-in-error"]
    history = {
        (c.resource_type, c.before["status" if "status" in c.before else "clinical_status"])
        for c in chart.corrections
    }
    assert history == {
        ("MedicationRequest", "active"),
        ("Condition", "active"),
        ("AllergyIntolerance", "active"),
    }
    event = AuditEvent.objects.get(resource_type="MedicationRequest", action="update")
    assert event.detail["changed"] == ["status"]
    assert event.detail["version"] == next(
        c.id for c in chart.corrections if c.resource_type == "MedicationRequest"
    )
    _no_values_in_audit("Hypotension", "Wrong patient", "Latex")


def test_corrections_refused_for_people_not_allowed(team, make_user):
    doctor, nurse, clerk, patient = team
    medication = gateway.medication_request_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, medication="Amlodipine 5 mg"
    )
    for outsider in (nurse, clerk, make_user("physician"), make_user("pharmacist")):
        with pytest.raises(NotFound):
            gateway.medication_discontinue(
                actor=outsider,
                session=WARD,
                purpose=TREAT,
                patient_id=patient,
                medication_id=medication.id,
                reason="x",
            )
    other = new_patient(family="Other")
    relate(doctor, other, "care_team")
    with pytest.raises(NotFound):  # a row of another patient
        gateway.medication_discontinue(
            actor=doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=other,
            medication_id=medication.id,
            reason="x",
        )
    assert _chart(doctor, patient).medications[0].status == "active"


def test_chart_actions_through_the_pages(team):
    doctor, _nurse, _clerk, patient = team
    gateway.medication_request_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, medication="Amlodipine 5 mg"
    )
    client = client_for(doctor)
    body = client.get(f"/clinical/patients/{patient}/").content.decode()
    action = re.search(r'action="(/clinical/patients/[^"]+/discontinue/)"', body).group(1)
    token = re.search(rf'action="{action}".*?name="submission" value="([0-9a-f]+)"', body, re.S).group(1)
    assert client.post(action, {"submission": token, "reason": ""}).status_code == 400
    assert client.post(action, {"submission": token, "reason": "Hypotension"}).status_code == 302
    assert client.post(action, {"submission": token, "reason": "Hypotension"}).status_code == 409
    assert _chart(doctor, patient).medications[0].status == "stopped"
    assert "Corrections" in client.get(f"/clinical/patients/{patient}/").content.decode()


# --- lab results ---------------------------------------------------------------------------------------
@pytest.fixture
def resulted(team, make_user):
    doctor, _nurse, _clerk, patient = team
    lab = make_user("lab_technician")
    order = gateway.order_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, code="2823-3", display="Potassium"
    )
    gateway.order_result(
        actor=lab,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        order_id=order.id,
        value="6.1",
        unit="mmol/L",
    )
    return doctor, lab, patient, order.id


def test_result_correction_keeps_the_old_value(resulted):
    doctor, lab, patient, result = resulted
    with pytest.raises(InvalidInput):  # impossible
        gateway.result_correct(
            actor=lab,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            observation_id=result,
            value="-5",
            unit="mmol/L",
            reason="Haemolysed",
        )
    corrected = gateway.result_correct(
        actor=lab,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        observation_id=result,
        value="4.1",
        unit="mmol/L",
        reason="Haemolysed sample",
    )
    assert corrected.status == "corrected"
    (shown,) = _chart(doctor, patient).results
    assert (shown.value, shown.previous_values) == ("4.1", ("6.1 mmol/L",))
    event = AuditEvent.objects.get(resource_type="Observation", action="update", detail__has_key="version")
    assert event.detail["changed"] == ["status", "unit", "value"]
    _no_values_in_audit("6.1", "Haemolysed")


def test_result_correction_page(resulted):
    doctor, lab, patient, result = resulted
    client = client_for(lab)
    path = f"/clinical/patients/{patient}/results/{result}/correct/"
    assert path in client.get(f"/clinical/patients/{patient}/").content.decode()
    data = {"value": "4.1", "unit": "mmol/L", "reason": "Haemolysed", "submission": uuid.uuid4().hex}
    assert client.post(path, {**data, "reason": ""}).status_code == 400
    assert client.post(path, data).status_code == 302
    body = client_for(doctor).get(f"/clinical/patients/{patient}/").content.decode()
    assert "corrected" in body
    assert "was 6.1 mmol/L" in body
    assert client_for(doctor).get(path).status_code == 403  # a physician does not correct lab results


# --- demographics ---------------------------------------------------------------------------------------
def test_demographics_edit_keeps_values_and_logs_field_names(team):
    doctor, _nurse, clerk, patient = team
    client = client_for(clerk)
    page = client.get(f"/clinical/patients/{patient}/edit/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="Quist"' in body
    token = re.search(r'name="submission" value="([0-9a-f]+)"', body).group(1)
    data = {
        "given_name": "Ada",
        "family_name": "Quist-Moreau",
        "birth_date": "1980-02-03",
        "sex": "female",
        "phone": "+44 20 7946 0000",
        "national_id": "123-45-6789",
        "address_line": "1 Test Street",
        "city": "Testville",
        "insurer": "Acme Health",
        "member_id": "AC-1",
        "reason": "Married name",
        "submission": token,
    }
    assert (
        client.post(f"/clinical/patients/{patient}/edit/", {**data, "birth_date": "2999-01-01"}).status_code
        == 400
    )
    assert client.post(f"/clinical/patients/{patient}/edit/", data).status_code == 302
    chart = _chart(doctor, patient)
    assert chart.patient.family_name == "Quist-Moreau"
    (correction,) = chart.corrections
    assert correction.before == {"family_name": "Quist"}
    event = AuditEvent.objects.get(resource_type="Patient", action="update")
    assert event.detail["changed"] == ["family_name"]
    _no_values_in_audit("Quist", "Married name")
    assert client_for(doctor).get(f"/clinical/patients/{patient}/edit/").status_code == 403


def test_national_id_of_another_patient_is_refused_on_edit(team):
    _doctor, _nurse, clerk, patient = team
    other = new_patient(given="Bo", family="Lind", birth=dt.date(1970, 1, 1))
    data = PatientInput(
        given_name="Bo",
        family_name="Lind",
        birth_date=dt.date(1970, 1, 1),
        sex="male",
        national_id="123-45-6789",
    )
    with pytest.raises(InvalidInput) as refused:
        gateway.patient_update(actor=clerk, session=WARD, purpose=OPS, patient_id=other, data=data)
    assert set(refused.value.errors) == {"national_id"}
    assert patient != other


# --- patient amendment requests --------------------------------------------------------------------------
def _request(clerk, patient, text="The penicillin allergy is wrong."):
    return gateway.amendment_request_record(
        actor=clerk, session=WARD, purpose=OPS, patient_id=patient, request=text
    )


def test_amendment_request_accepted_by_the_correction_that_answers_it(team):
    doctor, _nurse, clerk, patient = team
    note = _note(doctor, patient)
    request = _request(clerk, patient)
    amended = _amend(doctor, patient, note.id, amendment_request_id=request.id)
    (shown,) = _chart(doctor, patient).amendment_requests
    assert (shown.status, shown.applied_type, shown.applied_id) == ("accepted", "ClinicalNote", amended.id)
    with pytest.raises(Conflict):  # already decided
        gateway.amendment_request_deny(
            actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, request_id=request.id, reason="No"
        )
    accounting = [(e.resource_type, e.action) for e in patient_accesses(patient_id=patient)]
    assert ("AmendmentRequest", "create") in accounting
    assert ("ClinicalNote", "update") in accounting
    event = AuditEvent.objects.get(resource_type="ClinicalNote", action="update")
    assert event.detail["amendment_request"] == request.id
    _no_values_in_audit("penicillin allergy is wrong")


def test_amendment_request_denied_with_reason_and_disagreement(team):
    doctor, nurse, clerk, patient = team
    request = _request(clerk, patient)
    with pytest.raises(Forbidden):  # a nurse may not decide amendments
        gateway.amendment_request_deny(
            actor=nurse, session=WARD, purpose=TREAT, patient_id=patient, request_id=request.id, reason="No"
        )
    with pytest.raises(Forbidden):
        gateway.amendment_request_deny(
            actor=clerk, session=WARD, purpose=OPS, patient_id=patient, request_id=request.id, reason="No"
        )
    with pytest.raises(Conflict):  # no disagreement before a denial
        gateway.amendment_disagreement_attach(
            actor=clerk,
            session=WARD,
            purpose=OPS,
            patient_id=patient,
            request_id=request.id,
            statement="I disagree",
        )
    gateway.amendment_request_deny(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        request_id=request.id,
        reason="Documented reaction in 2019",
    )
    gateway.amendment_disagreement_attach(
        actor=clerk,
        session=WARD,
        purpose=OPS,
        patient_id=patient,
        request_id=request.id,
        statement="I never reacted.",
    )
    with pytest.raises(Conflict):
        gateway.amendment_disagreement_attach(
            actor=clerk,
            session=WARD,
            purpose=OPS,
            patient_id=patient,
            request_id=request.id,
            statement="Again",
        )
    (shown,) = _chart(doctor, patient).amendment_requests
    assert (shown.status, shown.denial_reason, shown.disagreement) == (
        "denied",
        "Documented reaction in 2019",
        "I never reacted.",
    )
    _no_values_in_audit("Documented reaction", "never reacted")


def test_amendment_request_pages(team):
    doctor, nurse, clerk, patient = team
    clerk_client = client_for(clerk)
    body = clerk_client.get(f"/clinical/patients/{patient}/").content.decode()
    token = re.search(r'id="amendment-form".*?name="submission" value="([0-9a-f]+)"', body, re.S).group(1)
    path = f"/clinical/patients/{patient}/amendments/"
    assert clerk_client.post(path, {"submission": token, "request": ""}).status_code == 400
    assert clerk_client.post(path, {"submission": token, "request": "Wrong birth date"}).status_code == 302
    assert clerk_client.post(path, {"submission": token, "request": "Wrong birth date"}).status_code == 409
    (request,) = _chart(doctor, patient).amendment_requests
    deny = f"/clinical/patients/{patient}/amendments/{request.id}/deny/"
    assert client_for(nurse).post(deny, {"submission": uuid.uuid4().hex, "reason": "No"}).status_code == 403
    doctor_client = client_for(doctor)
    assert "Deny the request" in doctor_client.get(f"/clinical/patients/{patient}/").content.decode()
    assert doctor_client.post(deny, {"submission": uuid.uuid4().hex, "reason": ""}).status_code == 400
    assert (
        doctor_client.post(deny, {"submission": uuid.uuid4().hex, "reason": "Correct as is"}).status_code
        == 302
    )
    statement = f"/clinical/patients/{patient}/amendments/{request.id}/disagreement/"
    assert (
        clerk_client.post(statement, {"submission": uuid.uuid4().hex, "statement": "I disagree"}).status_code
        == 302
    )
    body = doctor_client.get(f"/clinical/patients/{patient}/").content.decode()
    assert "statement of disagreement" in body
    assert "I disagree" in body


# --- pharmacist verification ----------------------------------------------------------------------------
def test_pharmacist_verifies_or_queries(team, make_user):
    doctor, _nurse, _clerk, patient = team
    pharmacist = make_user("pharmacist")
    first = gateway.medication_request_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, medication="Amlodipine 5 mg"
    )
    second = gateway.medication_request_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, medication="Metformin 500 mg"
    )
    waiting = gateway.medication_orders_to_verify(actor=pharmacist, session=WARD, purpose=TREAT)
    assert [i.order.id for i in waiting.items] == [first.id, second.id]
    assert waiting.items[0].patient.family_name == "Quist"
    with pytest.raises(InvalidInput):  # a query needs its question
        gateway.medication_verify(
            actor=pharmacist,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            medication_id=second.id,
            outcome="queried",
        )
    gateway.medication_verify(
        actor=pharmacist,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        medication_id=first.id,
        outcome="verified",
    )
    gateway.medication_verify(
        actor=pharmacist,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        medication_id=second.id,
        outcome="queried",
        note="eGFR? Confirm the dose.",
    )
    with pytest.raises(Conflict):
        gateway.medication_verify(
            actor=pharmacist,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            medication_id=first.id,
            outcome="queried",
            note="x",
        )
    waiting = gateway.medication_orders_to_verify(actor=pharmacist, session=WARD, purpose=TREAT)
    assert waiting.items == []  # a queried order waits for the prescriber
    meds = {m.id: m for m in _chart(doctor, patient).medications}
    assert meds[first.id].verification == "verified"
    assert (meds[second.id].verification, meds[second.id].verification_note) == (
        "queried",
        "eGFR? Confirm the dose.",
    )
    with pytest.raises(Forbidden):
        gateway.medication_verify(
            actor=doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            medication_id=second.id,
            outcome="verified",
        )
    _no_values_in_audit("eGFR", "Metformin")


def test_pharmacy_pages(team, make_user):
    doctor, _nurse, _clerk, patient = team
    pharmacist = make_user("pharmacist")
    order = gateway.medication_request_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, medication="Amlodipine 5 mg"
    )
    client = client_for(pharmacist)
    page = client.get("/clinical/pharmacy/")
    assert page.status_code == 200
    assert "Amlodipine 5 mg" in page.content.decode()
    path = f"/clinical/patients/{patient}/medications/{order.id}/verify/"
    assert client.post(path, {"submission": uuid.uuid4().hex, "outcome": "maybe"}).status_code == 400
    assert (
        client.post(path, {"submission": uuid.uuid4().hex, "outcome": "queried", "note": ""}).status_code
        == 400
    )
    assert client.post(path, {"submission": uuid.uuid4().hex, "outcome": "verified"}).status_code == 302
    assert client.post(path, {"submission": uuid.uuid4().hex, "outcome": "verified"}).status_code == 409
    assert "Amlodipine" not in client.get("/clinical/pharmacy/").content.decode()
    assert client_for(doctor).get("/clinical/pharmacy/").status_code == 403


def test_fhir_shows_an_allergy_entered_in_error_by_its_verification_status(team):
    from safeward.fhir.resources import allergy_resource

    doctor, _nurse, _clerk, patient = team
    allergy = gateway.allergy_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, substance="Latex"
    )
    view = gateway.allergy_set_status(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        allergy_id=allergy.id,
        status="entered-in-error",
        reason="Wrong patient",
    )
    resource = allergy_resource(view, patient)
    assert "clinicalStatus" not in resource
    assert resource["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
