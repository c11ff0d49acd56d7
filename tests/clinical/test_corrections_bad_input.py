"""Bad input on every correction, amendment, safety and pharmacy form: a
clear 4xx (never a 500 or a redirect), and the record unchanged."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from django.test import Client

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
TREAT, OPS = PurposeOfUse.TREATMENT, PurposeOfUse.OPERATIONS
HUGE = "x" * 30_000
BAD_ID = "00000000-0000-4000-8000-00000000abcd"


@pytest.fixture
def world(make_user):
    doctor, clerk, lab, pharmacist = (
        make_user(role) for role in ("physician", "registration_clerk", "lab_technician", "pharmacist")
    )
    patient = new_patient()
    relate(doctor, patient, "care_team")
    ctx = {"actor": doctor, "session": WARD, "purpose": TREAT, "patient_id": patient}
    ids = {
        "medication": gateway.medication_request_create(**ctx, medication="Amlodipine 5 mg").id,
        "condition": gateway.condition_create(**ctx, code="I10", display="HTN").id,
        "allergy": gateway.allergy_create(**ctx, substance="Penicillin").id,
        "note": gateway.note_create(**ctx, title="Day 1", text="Stable.").id,
        "request": gateway.amendment_request_record(
            actor=clerk, session=WARD, purpose=OPS, patient_id=patient, request="Wrong date"
        ).id,
    }
    order = gateway.order_create(**ctx, code="2823-3", display="Potassium").id
    ids["result"] = gateway.order_result(
        actor=lab, session=WARD, purpose=TREAT, patient_id=patient, order_id=order, value="4.2", unit="mmol/L"
    ).id
    users = {"doctor": doctor, "clerk": clerk, "lab": lab, "pharmacist": pharmacist}
    return users, patient, ids


def _snapshot(doctor, patient):
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient)
    return dataclasses.replace(chart, appointments=None)


# (who, path template, bad bodies)
CASES = [
    ("doctor", "medications/", [{"medication": ""}, {"medication": HUGE}, {"medication": "Amoxicillin"}]),
    ("doctor", "medications/", [{"medication": "Amoxicillin", "override_reason": HUGE}]),
    (
        "doctor",
        "medications/{medication}/discontinue/",
        [{"reason": ""}, {"reason": HUGE}],
    ),
    ("doctor", f"medications/{BAD_ID}/discontinue/", [{"reason": "x"}]),
    (
        "doctor",
        "problems/{condition}/status/",
        [{"status": "cured"}, {"status": ""}, {"status": "resolved", "reason": HUGE}],
    ),
    (
        "doctor",
        "allergies/{allergy}/status/",
        [{"status": "gone"}, {"status": "entered-in-error"}, {"status": "inactive", "reason": HUGE}],
    ),
    ("doctor", f"allergies/{BAD_ID}/status/", [{"status": "inactive"}]),
    (
        "doctor",
        "notes/{note}/amend/",
        [
            {"title": "", "text": "x", "reason": "r"},
            {"title": "t", "text": HUGE, "reason": "r"},
            {"title": "t", "text": "x", "reason": ""},
            {"title": "t", "text": "x", "reason": "r", "amendment_request": BAD_ID},
        ],
    ),
    ("doctor", f"notes/{BAD_ID}/amend/", [{"title": "t", "text": "x", "reason": "r"}]),
    (
        "doctor",
        "vitals/",
        [
            {"vital": "8867-4|Heart rate|/min", "value": "400"},
            {"vital": "8867-4|Heart rate|/min", "value": "NaN"},
            {"vital": "x|y|z", "value": "1"},
        ],
    ),
    (
        "lab",
        "results/{result}/correct/",
        [
            {"value": "-5", "unit": "mmol/L", "reason": "r"},
            {"value": "4.2", "unit": "mmol/L", "reason": "r"},
            {"value": "abc", "unit": "mmol/L", "reason": "r"},
            {"value": "4.3", "unit": "<script>", "reason": "r"},
            {"value": "4.3", "unit": "mmol/L", "reason": ""},
        ],
    ),
    ("lab", f"results/{BAD_ID}/correct/", [{"value": "4.3", "unit": "mmol/L", "reason": "r"}]),
    (
        "clerk",
        "edit/",
        [
            {"given_name": "", "family_name": "Q", "birth_date": "1980-02-03", "sex": "female"},
            {"given_name": "A", "family_name": "Q", "birth_date": "3000-01-01", "sex": "female"},
            {"given_name": "A", "family_name": "Q", "birth_date": "1980-02-03", "sex": "robot"},
        ],
    ),
    ("clerk", "amendments/", [{"request": ""}, {"request": HUGE}]),
    (
        "clerk",
        "amendments/{request}/disagreement/",
        [{"statement": ""}, {"statement": "Pending, not denied"}],
    ),
    (
        "doctor",
        "amendments/{request}/deny/",
        [{"reason": ""}, {"reason": HUGE}, {"reason": "r", "disagreement": HUGE}],
    ),
    ("doctor", f"amendments/{BAD_ID}/deny/", [{"reason": "r"}]),
    (
        "pharmacist",
        "medications/{medication}/verify/",
        [{"outcome": "approve"}, {"outcome": "queried"}, {"outcome": "queried", "note": HUGE}],
    ),
    ("pharmacist", f"medications/{BAD_ID}/verify/", [{"outcome": "verified"}]),
]


@pytest.mark.parametrize(("who", "path", "bodies"), CASES)
def test_bad_input_is_a_clear_4xx_and_saves_nothing(world, who, path, bodies):
    users, patient, ids = world
    client = Client()
    sign_in(client, users[who])
    before = _snapshot(users["doctor"], patient)
    for body in bodies:
        response = client.post(
            f"/clinical/patients/{patient}/{path.format(**ids)}", {"submission": uuid.uuid4().hex, **body}
        )
        assert 400 <= response.status_code < 500, (body, response.status_code)
    assert _snapshot(users["doctor"], patient) == before


def test_duplicate_registration_without_confirmation_saves_nothing(make_user):
    clerk = make_user("registration_clerk")
    new_patient()
    client = Client()
    sign_in(client, clerk)
    data = {"given_name": "Ada", "family_name": "Quist", "birth_date": "1980-02-03", "sex": "female"}
    for extra in (
        {},
        {"confirm_not_duplicate": ""},
        {"confirm_not_duplicate": "off", "national_id": "123-45-6789"},
    ):
        response = client.post("/clinical/patients/new/", {**data, **extra, "submission": uuid.uuid4().hex})
        assert response.status_code in (400, 409)
    page = gateway.patient_search(
        actor=clerk, session=WARD, purpose=OPS, name="quist", birth_date=None, mrn=None
    )
    assert len(page.results) <= 1
