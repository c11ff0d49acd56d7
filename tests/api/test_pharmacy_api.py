"""Pharmacist verification over REST (issue 12, ADR 0584): the orders to
verify, then verify or query back, through the same gateway as the web
pages; bad input is a 4xx with the one error shape and changes nothing."""

from __future__ import annotations

import uuid

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db
BASE = "/api/v1/clinical"
TREAT = PurposeOfUse.TREATMENT


@pytest.fixture
def orders(make_user):
    doctor = make_user("physician")
    patient = new_patient(mrn="RX-1")
    relate(doctor, patient, "care_team")
    made = [
        gateway.medication_request_create(
            actor=doctor,
            session=WARD,
            purpose=TREAT,
            patient_id=patient,
            medication=name,
            dosage="once daily",
        )
        for name in ("Amlodipine 5 mg", "Metformin 500 mg")
    ]
    return patient, made


def test_the_pharmacist_lists_verifies_and_queries(make_user, client, orders):
    patient, (first, second) = orders
    pharmacist = make_user("pharmacist")
    sign_in(client, pharmacist)
    body = client.get(f"{BASE}/medication-orders/to-verify/").json()
    assert [i["order"]["id"] for i in body["items"]] == [first.id, second.id]
    assert body["items"][0]["patient"]["mrn"] == "RX-1"
    assert body["items"][0]["order"]["verification"] == "pending"
    assert (body["withheld"], body["capped"]) == (0, False)
    assert client.get(f"{BASE}/medication-orders/to-verify/", {"limit": 1}).json()["capped"] is True

    verified = client.post(
        f"{BASE}/patients/{patient}/medications/{first.id}/verify/",
        {"outcome": "verified"},
        "application/json",
    )
    assert verified.status_code == 200
    assert verified.json()["verification"] == "verified"
    queried = client.post(
        f"{BASE}/patients/{patient}/medications/{second.id}/verify/",
        {"outcome": "queried", "note": "eGFR? Confirm the dose."},
        "application/json",
    )
    assert queried.status_code == 200
    assert (queried.json()["verification"], queried.json()["verification_note"]) == (
        "queried",
        "eGFR? Confirm the dose.",
    )
    assert client.get(f"{BASE}/medication-orders/to-verify/").json()["items"] == []
    events = AuditEvent.objects.filter(
        actor_id=pharmacist.pk, resource_type="MedicationRequest", action="update"
    )
    assert events.filter(outcome="success").count() == 2
    assert "eGFR" not in str(list(events.values("detail", "reason")))


def test_bad_verifications_are_refused_and_change_nothing(make_user, client, orders):
    patient, (first, _) = orders
    pharmacist = make_user("pharmacist")
    sign_in(client, pharmacist)
    path = f"{BASE}/patients/{patient}/medications/{first.id}/verify/"
    cases = [
        ({"outcome": "maybe"}, 400),
        ({}, 400),
        ({"outcome": "queried"}, 400),  # a query needs its question
        ({"outcome": "queried", "note": ""}, 400),
        ({"outcome": "queried", "note": "x" * 1001}, 400),
    ]
    for data, expected in cases:
        response = client.post(path, data, "application/json")
        assert response.status_code == expected, data
        assert set(response.json()) <= {"detail", "errors"}
    assert client.post(path, "not json", "application/json").status_code == 400
    unknown = f"{BASE}/patients/{patient}/medications/{uuid.uuid4()}/verify/"
    assert client.post(unknown, {"outcome": "verified"}, "application/json").status_code == 404
    other = new_patient(given="Other", mrn="RX-2")
    elsewhere = f"{BASE}/patients/{other}/medications/{first.id}/verify/"
    assert client.post(elsewhere, {"outcome": "verified"}, "application/json").status_code == 404
    for bad in ("0", "201", "many"):
        assert client.get(f"{BASE}/medication-orders/to-verify/", {"limit": bad}).status_code == 400
    waiting = gateway.medication_orders_to_verify(actor=pharmacist, session=WARD, purpose=TREAT)
    assert [i.order.verification for i in waiting.items] == ["pending", "pending"]
    assert client.post(path, {"outcome": "verified"}, "application/json").status_code == 200
    again = client.post(path, {"outcome": "queried", "note": "Too late"}, "application/json")
    assert again.status_code == 409  # a verified order is final


def test_only_the_pharmacist_verifies(make_user, client, orders):
    patient, (first, _) = orders
    for role in ("physician", "nurse", "registration_clerk", "it_admin"):
        user = make_user(role)
        if role in ("physician", "nurse"):
            relate(user, patient, "care_team")
        sign_in(client, user)
        assert client.get(f"{BASE}/medication-orders/to-verify/").status_code == 403, role
        response = client.post(
            f"{BASE}/patients/{patient}/medications/{first.id}/verify/",
            {"outcome": "verified"},
            "application/json",
        )
        assert response.status_code == 403, role
    pharmacist = make_user("pharmacist")
    waiting = gateway.medication_orders_to_verify(actor=pharmacist, session=WARD, purpose=TREAT)
    assert len(waiting.items) == 2


def test_tokens_need_medication_request_scopes(make_user, client, orders):
    """A pharmacy system's token: user/MedicationRequest.s lists, .u verifies;
    a token without them, or a patient/ token on another patient, is refused."""
    patient, (first, second) = orders
    pharmacist = make_user("pharmacist")
    listing = f"{BASE}/medication-orders/to-verify/"
    verify = f"{BASE}/patients/{patient}/medications/{first.id}/verify/"
    body = {"outcome": "verified"}
    read_only = bearer(token(pharmacist, "user/MedicationRequest.rs"))
    assert client.get(listing, **read_only).status_code == 200
    assert client.post(verify, body, "application/json", **read_only).status_code == 403
    other_type = bearer(token(pharmacist, "user/Observation.cruds"))
    assert client.get(listing, **other_type).status_code == 403
    writer = bearer(token(pharmacist, "user/MedicationRequest.rus"))
    assert client.post(verify, body, "application/json", **writer).status_code == 200
    someone = new_patient(given="Someone", mrn="RX-3")
    pinned = bearer(token(pharmacist, "launch/patient patient/MedicationRequest.rus", patient_id=someone))
    assert client.get(listing, **pinned).status_code == 403  # many patients' orders: not a launch patient's
    other = f"{BASE}/patients/{patient}/medications/{second.id}/verify/"
    assert client.post(other, body, "application/json", **pinned).status_code == 404
