"""Standalone launch with a patient picker (ADR 0542): `launch/patient`
without an EHR launch sends the signed-in person to pick a patient (search by
POST through the gateway, audited); only patients they may see can be chosen;
the token response names the patient and its `patient/` scopes reach that
patient alone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from safeward.audit.models import AuditEvent
from safeward.fhir.models import LaunchCode
from tests.clinical.conftest import new_patient, relate
from tests.conftest import sign_in
from tests.fhir.helpers import REDIRECT, app, authorize_query, bearer, exchange, pkce

pytestmark = pytest.mark.django_db
PICKER = "/o/authorize/patient/"
SCOPE = "launch/patient patient/*.rs openid fhirUser"


@pytest.fixture
def setting(make_user, client):
    doctor = make_user("physician")
    mine = new_patient(given="Ada", family="Quist", mrn="MRN-A")
    also_mine = new_patient(given="Bert", family="Quist", mrn="MRN-B")
    not_mine = new_patient(given="Cora", family="Quist", mrn="MRN-C")
    relate(doctor, mine, "care_team")
    relate(doctor, also_mine, "care_team")
    application = app()
    sign_in(client, doctor)
    verifier, challenge = pkce()
    query = authorize_query(application, SCOPE, challenge)
    return doctor, mine, also_mine, not_mine, application, verifier, query


def test_standalone_launch_picks_a_patient_and_binds_the_token(setting, client):
    doctor, mine, also_mine, not_mine, application, verifier, query = setting
    response = client.get("/o/authorize/", query)
    assert response.status_code == 302
    assert response["Location"] == PICKER
    page = client.get(PICKER)
    assert page.status_code == 200
    assert application.name in page.content.decode()
    found = client.post(PICKER, {"action": "search", "name": "quist"})
    assert found.status_code == 200
    body = found.content.decode()
    assert "Ada" in body
    assert "Bert" in body
    search = AuditEvent.objects.filter(actor_id=doctor.pk, action="search").latest("pk")
    assert "quist" not in f"{search.detail} {search.reason}".lower()
    chosen = client.post(PICKER, {"action": "choose", "patient_id": mine})
    assert chosen.status_code == 302
    assert chosen["Location"].startswith("/o/authorize/?")
    assert "quist" not in chosen["Location"].lower()
    assert mine not in chosen["Location"]
    consent = client.get(chosen["Location"])
    assert consent.status_code == 200
    assert "QUIST, Ada" in consent.content.decode()
    allowed = client.post("/o/authorize/", {**query, "allow": "Authorize"})
    assert allowed.status_code == 302, allowed.content[:300]
    assert allowed["Location"].startswith(REDIRECT)
    client.logout()
    tokens = exchange(client, application, allowed["Location"], verifier)
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    assert body["patient"] == mine
    assert "launch/patient" in body["scope"].split()
    assert "id_token" in body
    raw = body["access_token"]
    assert client.get(f"/fhir/Patient/{mine}", **bearer(raw)).status_code == 200
    # The person may see Bert too, but the token's patient/ scopes reach Ada only.
    assert client.get(f"/fhir/Patient/{also_mine}", **bearer(raw)).status_code == 404
    assert client.get(f"/fhir/Patient/{not_mine}", **bearer(raw)).status_code == 404
    assert [
        e["resource"]["id"] for e in client.get("/fhir/Patient?name=quist", **bearer(raw)).json()["entry"]
    ] == [mine]
    assert LaunchCode.objects.get(patient_id=mine).used_at is not None


def test_a_patient_the_person_may_not_see_cannot_be_chosen(setting, client):
    doctor, _mine, _also_mine, not_mine, _application, _verifier, query = setting
    client.get("/o/authorize/", query)
    for bad in (not_mine, "not-a-uuid", "00000000-0000-4000-8000-000000000000", ""):
        response = client.post(PICKER, {"action": "choose", "patient_id": bad})
        assert response.status_code == 404
        assert "Cora" not in response.content.decode()
    assert not LaunchCode.objects.exists()
    assert AuditEvent.objects.filter(actor_id=doctor.pk, patient_id=not_mine, outcome="denied").exists()
    # Still no patient chosen: the authorize step sends the person back to the picker.
    assert client.get("/o/authorize/", query)["Location"] == PICKER


@pytest.mark.parametrize(
    "form",
    [
        {"action": "search"},
        {"action": "search", "name": "x" * 101},
        {"action": "search", "birth_date": "1980-02-31"},
        {"action": "search", "page": "-1", "name": "quist"},
    ],
)
def test_picker_bad_input_is_400(setting, client, form):
    *_, query = setting
    client.get("/o/authorize/", query)
    response = client.post(PICKER, form)
    assert response.status_code == 400
    assert not LaunchCode.objects.exists()


def test_cancel_returns_access_denied_to_the_app(setting, client):
    *_, query = setting
    client.get("/o/authorize/", query)
    response = client.post(PICKER, {"action": "cancel"})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert parse_qs(location.query) == {
        "error": ["access_denied"],
        "error_description": ["No patient was chosen."],
        "state": ["xyz"],
    }


def test_picker_needs_a_waiting_request_a_valid_client_and_patient_read(make_user, client):
    doctor = make_user("physician")
    sign_in(client, doctor)
    assert client.get(PICKER).status_code == 400  # nothing waiting
    _, challenge = pkce()
    bogus = authorize_query(app(), SCOPE, challenge, redirect_uri="https://evil.example/steal")
    client.get("/o/authorize/", bogus)
    assert client.get(PICKER).status_code == 400
    assert client.post(PICKER, {"action": "cancel"}).status_code == 400  # never redirects to an unknown URI
    client.logout()
    assert client.get(PICKER).status_code == 302  # to sign-in
    admin = make_user("it_admin")
    sign_in(client, admin)
    assert client.get(PICKER).status_code == 403


def test_ehr_launch_token_response_names_the_patient_too(make_user, client):
    doctor = make_user("physician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    application = app()
    sign_in(client, doctor)
    launch = client.post("/o/launch/", {"patient_id": patient}, content_type="application/json").json()[
        "launch"
    ]
    verifier, challenge = pkce()
    query = authorize_query(application, "launch patient/*.rs", challenge)
    assert client.get("/o/authorize/", {**query, "launch": launch}).status_code == 200
    allowed = client.post("/o/authorize/", {**query, "allow": "Authorize"})
    client.logout()
    body = exchange(client, application, allowed["Location"], verifier).json()
    assert body["patient"] == patient


def test_consent_and_picker_pages_let_their_forms_redirect_to_the_app_only(setting, client):
    *_, application, _verifier, query = setting
    assert client.get("/o/authorize/", query)["Location"] == PICKER
    picker_page = client.get(PICKER)
    assert "form-action 'self' https://app.example.test" in picker_page["Content-Security-Policy"]
    chosen = client.post(PICKER, {"action": "search", "name": "ada"})
    assert "https://app.example.test" in chosen["Content-Security-Policy"]
    ehr = {**query, "scope": "user/*.rs"}
    consent = client.get("/o/authorize/", ehr)
    assert consent.status_code == 200
    assert "form-action 'self' https://app.example.test;" in consent["Content-Security-Policy"] + ";"
    # An unregistered redirect URI gets DOT's error page and the plain policy.
    bad = client.get("/o/authorize/", {**ehr, "redirect_uri": "https://evil.example/x"})
    assert "evil.example" not in bad.get("Content-Security-Policy", "")
    assert application.client_id not in client.get("/").get("Content-Security-Policy", "")
