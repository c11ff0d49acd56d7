"""The clinical pages through the test client: each flow, bad input, double
posts, and that URLs and pages carry no PHI beyond what the role may see."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from safeward import clock
from safeward.audit.models import AuditEvent
from tests.clinical.conftest import appointment_to_today, new_patient, relate

pytestmark = pytest.mark.django_db


def test_search_then_open_chart(signed_in, patient):
    client, doctor = signed_in("physician")
    relate(doctor, patient, "care_team")
    page = client.post("/clinical/", {"name": "qui"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "QUIST, Ada" in body
    assert f"/clinical/patients/{patient}/" in body
    chart = client.get(f"/clinical/patients/{patient}/")
    assert chart.status_code == 200
    assert "Allergies" in chart.content.decode()


def test_search_without_criteria_is_400(signed_in):
    client, _ = signed_in("registration_clerk")
    assert client.post("/clinical/", {"name": ""}).status_code == 400
    assert client.post("/clinical/", {"name": "x" * 101}).status_code == 400
    assert client.post("/clinical/", {"birth_date": "1980-02-31"}).status_code == 400
    assert client.post("/clinical/", {"name": "ab"}).status_code == 400  # too short for a prefix


def test_registration_flow_and_double_post(signed_in):
    client, _ = signed_in("registration_clerk")
    form = client.get("/clinical/patients/new/")
    token = re.search(r'name="submission" value="([0-9a-f]+)"', form.content.decode()).group(1)
    data = {
        "submission": token,
        "given_name": "Maja",
        "family_name": "Brandtsæter",
        "birth_date": "1990-05-06",
        "sex": "female",
        "phone": "+47 22 00 00 00",
    }
    first = client.post("/clinical/patients/new/", data)
    assert first.status_code == 302
    assert "Maja" not in first["Location"]
    assert "/clinical/patients/" in first["Location"]
    second = client.post("/clinical/patients/new/", data)
    assert second.status_code == 409
    assert AuditEvent.objects.filter(action="create", resource_type="Patient").count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "x" * 201),
        ("birth_date", "2999-01-01"),
        ("birth_date", "not-a-date"),
        ("email", "nope"),
    ],
)
def test_registration_bad_input_is_400_and_saves_nothing(signed_in, field, value):
    client, _ = signed_in("registration_clerk")
    data = {
        "submission": "t" * 32,
        "given_name": "A",
        "family_name": "B",
        "birth_date": "1990-01-01",
        "sex": "male",
    }
    data[field] = value
    response = client.post("/clinical/patients/new/", data)
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="create", resource_type="Patient").exists()


def test_add_note_then_double_post(signed_in, patient):
    client, doctor = signed_in("physician")
    relate(doctor, patient, "attending")
    chart = client.get(f"/clinical/patients/{patient}/").content.decode()
    token = re.search(r'id="note-form".*?name="submission" value="([0-9a-f]+)"', chart, re.S).group(1)
    data = {"submission": token, "kind": "progress", "title": "Review", "text": "Comfortable overnight."}
    assert client.post(f"/clinical/patients/{patient}/notes/", data).status_code == 302
    assert client.post(f"/clinical/patients/{patient}/notes/", data).status_code == 409
    body = client.get(f"/clinical/patients/{patient}/").content.decode()
    assert body.count("Comfortable overnight.") == 1


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("problems", {"code": "NOT-A-CODE", "display": "x"}),
        ("problems", {"code": "E11.9", "display": "x" * 301}),
        ("problems", {"code": "E11.9", "display": "Diabetes", "onset": "2020-13-01"}),
        ("vitals", {"vital": "8867-4|Heart rate|/min", "value": "abc"}),
        ("notes", {"kind": "progress", "title": "t", "text": "x" * 20_001}),
        ("allergies", {"substance": "", "criticality": "low"}),
    ],
)
def test_chart_forms_reject_bad_input(signed_in, patient, url, data):
    client, doctor = signed_in("physician")
    relate(doctor, patient, "care_team")
    response = client.post(f"/clinical/patients/{patient}/{url}/", {"submission": "s" * 32, **data})
    assert response.status_code == 400
    assert (
        not AuditEvent.objects.filter(action="create", outcome="success", patient_id=patient)
        .exclude(resource_type="Patient")
        .exists()
    )


def test_problem_vitals_allergy_medication_are_saved(signed_in, patient):
    client, doctor = signed_in("physician")
    relate(doctor, patient, "care_team")
    base = f"/clinical/patients/{patient}/"
    posts = [
        ("problems/", {"code": "e11.9", "display": "Type 2 diabetes mellitus"}),
        ("vitals/", {"vital": "8867-4|Heart rate|/min", "value": "72"}),
        ("vitals/", {"vital": "8867-4|Heart rate|/min", "value": "88"}),
        ("allergies/", {"substance": "Penicillin", "reaction": "Rash", "criticality": "high"}),
        ("medications/", {"medication": "Metformin 500 mg", "dosage": "1 tablet twice daily"}),
    ]
    for i, (path, data) in enumerate(posts):
        assert client.post(base + path, {"submission": f"tok{i}", **data}).status_code == 302
    body = client.get(base).content.decode()
    for text in ("E11.9", "Penicillin", "Metformin 500 mg", "<polyline"):
        assert text in body


def test_schedule_book_check_in_cancel(signed_in, patient):
    from safeward.clinical import gateway
    from safeward.identity.models import Department

    client, clerk = signed_in("registration_clerk")
    clinic = Department.objects.create(code="cardio", name="Cardiology clinic")
    from tests.clinical.conftest import WARD

    today = clock.now().date() + dt.timedelta(days=1)
    gateway.slots_create(
        actor=clerk,
        session=WARD,
        department_id=clinic.pk,
        day=today,
        start=dt.time(9),
        end=dt.time(10),
        minutes=30,
    )
    page = client.get(
        "/clinical/schedule/", {"department": clinic.pk, "day": today.isoformat(), "patient": patient}
    )
    assert page.status_code == 200
    body = page.content.decode()
    slot = re.search(r'name="slot" value="([0-9a-f-]+)"', body).group(1)
    data = {"submission": "book-1", "patient": patient, "slot": slot, "reason": "Follow-up"}
    assert client.post("/clinical/schedule/book/", data).status_code == 302
    assert client.post("/clinical/schedule/book/", {**data, "submission": "book-2"}).status_code == 409
    day = client.get(
        "/clinical/schedule/", {"department": clinic.pk, "day": today.isoformat()}
    ).content.decode()
    assert "QUIST, Ada" in day
    assert "/check-in/" not in day  # tomorrow's appointment is not checked in today
    appointment = re.search(r"/clinical/appointments/([0-9a-f-]+)/cancel/", day).group(1)
    refused = client.post(f"/clinical/appointments/{appointment}/check-in/")
    assert refused.status_code == 409
    assert "checked in on the appointment&#x27;s day" in refused.content.decode()
    appointment_to_today(appointment)
    assert client.post(f"/clinical/appointments/{appointment}/check-in/").status_code == 302
    assert client.post(f"/clinical/appointments/{appointment}/cancel/").status_code == 409


def test_it_admin_and_hr_see_no_chart(signed_in, patient):
    for role in ("it_admin", "hr_officer"):
        client, _ = signed_in(role)
        assert client.get(f"/clinical/patients/{patient}/").status_code == 403
        assert client.post("/clinical/", {"name": "quist"}).status_code == 403


def test_registration_never_sees_a_note(signed_in, patient, make_user):
    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from tests.clinical.conftest import WARD

    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    gateway.note_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        title="Psych",
        text="SECRET-NOTE",
    )
    client, clerk = signed_in("registration_clerk")
    relate(clerk, patient, "appointment_today")
    body = client.get(f"/clinical/patients/{patient}/").content.decode()
    assert "QUIST" in body
    assert "SECRET-NOTE" not in body
    assert 'id="notes"' not in body


def test_other_patient_id_is_404_same_as_missing(signed_in, patient):
    client, doctor = signed_in("physician")
    relate(doctor, patient, "care_team")
    other = new_patient(given="Eve", family="Elsewhere")
    missing = "00000000-0000-4000-8000-000000000000"
    a = client.get(f"/clinical/patients/{other}/")
    b = client.get(f"/clinical/patients/{missing}/")
    assert a.status_code == b.status_code == 404
    assert "Elsewhere" not in a.content.decode()

    def normalise(html: bytes) -> str:
        text = re.sub(r"[0-9a-f-]{36}", "ID", html.decode())
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", text)

    assert normalise(a.content) == normalise(b.content)


def test_search_criteria_never_travel_in_the_url(signed_in, patient):
    """Names and identifiers in a query string end up in browser history and logs."""
    client, doctor = signed_in("physician")
    relate(doctor, patient, "care_team")
    assert client.get("/clinical/", {"name": "qui"}).status_code == 200
    assert b"QUIST" not in client.get("/clinical/", {"name": "qui"}).content
    assert b'method="post"' in client.get("/clinical/").content
