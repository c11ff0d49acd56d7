"""The clinical REST API: chart and scheduling through the gateway, errors
mapped to 404/400/409/403 with one JSON shape, every route declared."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import new_submission_token
from tests.clinical.conftest import WARD, appointment_to_today, relate
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db
BASE = "/api/v1/clinical"


def test_chart_read_through_the_gateway(make_user, client, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    gateway.note_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        title="Day 1",
        text="Stable.",
    )
    sign_in(client, doctor)
    body = client.get(f"{BASE}/patients/{patient}/chart/").json()
    assert body["patient"]["family_name"] == "Quist"
    assert [n["text"] for n in body["notes"]] == ["Stable."]
    assert AuditEvent.objects.filter(actor_id=doctor.pk, action="read", resource_type="Chart").exists()


def test_the_chart_body_is_its_output_serializers_data(make_user, client):
    """`chart_data` reuses one `ChartOutput`'s fields (ADR 1631): the body is
    what a new serializer gives, for a chart with every kind of row."""
    from safeward.clinical.api import ChartOutput, chart_data
    from tests.clinical.chart_items import patient_with_items
    from tests.clinical.test_facts import _fill_chart

    doctor = make_user("physician")
    patient = patient_with_items(2)
    relate(doctor, patient, "care_team")
    _fill_chart(patient, [doctor], 2)
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    assert all((chart.notes, chart.results, chart.reports, chart.care_team))
    assert chart_data(chart) == ChartOutput(chart).data
    sign_in(client, doctor)
    assert client.get(f"{BASE}/patients/{patient}/chart/").json() == ChartOutput(chart).data


def test_registration_never_sees_a_note_and_ids_reveal_nothing(make_user, client, patient):
    clerk = make_user("registration_clerk")
    relate(clerk, patient, "appointment_today")
    sign_in(client, clerk)
    body = client.get(f"{BASE}/patients/{patient}/chart/").json()
    assert body["notes"] is None
    assert body["problems"] is None
    missing = client.get(f"{BASE}/patients/00000000-0000-4000-8000-000000000001/chart/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No such record."}


def test_unrelated_clinician_gets_404_not_403(make_user, client, patient):
    doctor = make_user("physician")
    sign_in(client, doctor)
    assert client.get(f"{BASE}/patients/{patient}/chart/").status_code == 404


def test_it_admin_sees_no_chart(make_user, client, patient):
    admin = make_user("it_admin")
    sign_in(client, admin)
    assert client.get(f"{BASE}/patients/{patient}/chart/").status_code in (403, 404)
    assert client.get(f"{BASE}/patients/?name=ada").status_code == 403
    assert (
        client.post(f"{BASE}/patients/search/", {"name": "ada"}, content_type="application/json").status_code
        == 403
    )


def test_search_register_and_double_post(make_user, client):
    clerk = make_user("registration_clerk")
    sign_in(client, clerk)
    submission = new_submission_token()
    data = {
        "given_name": "Iris",
        "family_name": "Okafor",
        "birth_date": "1988-08-08",
        "sex": "female",
        "submission": submission,
    }
    first = client.post(f"{BASE}/patients/", data, content_type="application/json")
    assert first.status_code == 201, first.content
    second = client.post(f"{BASE}/patients/", data, content_type="application/json")
    assert second.status_code == 409
    # A name alone finds only the clerk's own patients: with the date of birth.
    search = client.post(
        f"{BASE}/patients/search/",
        {"name": "oka", "birth_date": "1988-08-08"},
        content_type="application/json",
    )
    assert search.status_code == 200, search.content
    assert [r["id"] for r in search.json()["results"]] == [first.json()["id"]]


@pytest.mark.parametrize(
    "data",
    [
        {"given_name": "", "family_name": "X", "birth_date": "1988-08-08"},
        {"given_name": "A" * 500, "family_name": "X", "birth_date": "1988-08-08"},
        {"given_name": "A", "family_name": "X", "birth_date": "1988-02-31"},
        {"given_name": "A", "family_name": "X", "birth_date": "2999-01-01"},
        {"given_name": "A", "family_name": "X", "birth_date": "1988-08-08", "sex": "robot"},
        {"given_name": "A", "family_name": "X", "birth_date": "1988-08-08", "email": "nope"},
        # No letter or digit: nothing the duplicate check could compare (was a 500).
        {"given_name": "A", "family_name": "-'.", "birth_date": "1988-08-08"},
    ],
)
def test_bad_input_is_400_and_nothing_saved(make_user, client, data):
    clerk = make_user("registration_clerk")
    sign_in(client, clerk)
    response = client.post(f"{BASE}/patients/", data, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input."
    assert "A" * 50 not in response.content.decode()
    found = client.post(
        f"{BASE}/patients/search/", {"birth_date": "1988-08-08"}, content_type="application/json"
    )
    assert found.json()["results"] == []


def test_malformed_json_is_400(make_user, client):
    sign_in(client, make_user("registration_clerk"))
    response = client.post(f"{BASE}/patients/", "{oops", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_schedule_book_cancel_check_in(make_user, client, patient):
    from safeward.identity.models import Department

    scheduler = make_user("registration_clerk")
    clinic = Department.objects.create(code="api-clinic", name="API clinic")
    today = clock.now().date() + dt.timedelta(days=1)
    gateway.slots_create(
        actor=scheduler,
        session=WARD,
        department_id=clinic.pk,
        day=today,
        start=dt.time(9),
        end=dt.time(10),
        minutes=30,
    )
    sign_in(client, scheduler)
    slots = client.get(f"{BASE}/schedule/", {"department_id": clinic.pk, "day": today.isoformat()}).json()
    assert len(slots) == 2
    booking = {"patient_id": patient, "slot_id": slots[0]["id"], "reason": "check-up"}
    booked = client.post(f"{BASE}/appointments/", booking, content_type="application/json")
    assert booked.status_code == 201, booked.content
    taken = client.post(f"{BASE}/appointments/", booking, content_type="application/json")
    assert taken.status_code == 409
    appointment = booked.json()["id"]
    early = client.post(f"{BASE}/appointments/{appointment}/check-in/", content_type="application/json")
    assert early.status_code == 409  # tomorrow's appointment: check-in only on its day
    appointment_to_today(appointment)
    assert (
        client.post(
            f"{BASE}/appointments/{appointment}/check-in/", content_type="application/json"
        ).status_code
        == 200
    )
    other = client.post(
        f"{BASE}/appointments/", {**booking, "slot_id": slots[1]["id"]}, content_type="application/json"
    )
    assert (
        client.post(
            f"{BASE}/appointments/{other.json()['id']}/cancel/", content_type="application/json"
        ).status_code
        == 200
    )


def test_bearer_token_scopes_narrow_the_rest_api(make_user, client, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    # The chart opens as a Patient read; other sections show as far as the token reads their type.
    assert (
        client.get(
            f"{BASE}/patients/{patient}/chart/", **bearer(token(doctor, "user/Observation.rs"))
        ).status_code
        == 403
    )
    raw = token(doctor, "user/Patient.r user/Observation.rs")
    body = client.get(f"{BASE}/patients/{patient}/chart/", **bearer(raw)).json()
    assert body["results"] == []
    assert body["notes"] is None
    assert body["problems"] is None
    assert body["patient"]["family_name"] == "Quist"


def test_schema_is_served_at_a_stable_url(make_user, client):
    sign_in(client, make_user("physician"))
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = (
        response.json()["paths"] if response["Content-Type"].endswith("json") else response.content.decode()
    )
    assert "/api/v1/clinical/patients/{patient_id}/chart/" in paths


def test_get_search_refuses_criteria_in_the_url_and_points_to_post(make_user, client, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    sign_in(client, doctor)
    for query in (
        {"name": "quist"},
        {"mrn": "MRN-1"},
        {"birth_date": "1980-02-03"},
        {"national_id": "999-88-7777"},
        {},
    ):
        response = client.get(f"{BASE}/patients/", query)
        assert response.status_code == 405  # GET is not offered: a search is a POST
        body = response.json()
        assert "/api/v1/clinical/patients/search/" in body["detail"]
        for value in query.values():
            assert value not in response.content.decode()
        assert sorted(body.get("errors", {})) == sorted(query)
    # The same search by POST finds the patient, and is audited by kind, never by value.
    response = client.post(f"{BASE}/patients/search/", {"name": "quist"}, content_type="application/json")
    assert [r["id"] for r in response.json()["results"]] == [patient]
    event = AuditEvent.objects.filter(actor_id=doctor.pk, action="search").latest("pk")
    assert "quist" not in str(event.detail).lower()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"birth_date": "1980-02-31"},
        {"birth_date": None},
        {"name": "ada", "page": 0},
        {"name": "ada", "page_size": 51},
        ["name", "ada"],
    ],
)
def test_post_search_bad_input_is_400(make_user, client, body):
    sign_in(client, make_user("physician"))
    response = client.post(f"{BASE}/patients/search/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "detail" in response.json()
    assert "x" * 50 not in response.content.decode()


def test_post_search_refuses_other_media_types(make_user, client):
    sign_in(client, make_user("physician"))
    response = client.post(
        f"{BASE}/patients/search/", "name=ada", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
