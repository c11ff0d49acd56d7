"""SMART on FHIR: scopes narrow a token to at most its user's rights;
`patient/` scopes pin it to the launch patient; authorization code with PKCE
behind SafeWard's sign-in; backend services with a signed JWT (RFC 7523)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from oauth2_provider.models import AccessToken, Application

from safeward import clock
from safeward.clinical.policy import Section
from safeward.clinical.scopes import Operation, ScopeOutcome, parse_scope, scope_decide, scopes_within_rights
from safeward.fhir.models import ClientKey, TokenContext
from tests.clinical.conftest import new_patient, relate
from tests.conftest import sign_in
from tests.fhir.helpers import app, bearer, token

pytestmark = pytest.mark.django_db


def test_scope_grammar():
    assert parse_scope("patient/*.rs").permissions == frozenset("rs")
    assert parse_scope("user/Observation.read").permissions == frozenset("rs")
    assert parse_scope("user/Spaceship.rs") is None
    assert parse_scope("user/Observation.sr") is None  # v2 order is c r u d s


def test_the_scope_decision():
    """The one decision every interface asks (ADR 0607): a pure function."""

    def decide(scopes, operation, launch="p1"):
        return scope_decide(scopes=scopes, launch_patient=launch, operation=operation)

    bound = "launch/patient patient/*.rs"
    assert decide(bound, Operation("Observation", "r", "p1")).outcome is ScopeOutcome.ALLOW
    assert decide(bound, Operation("Observation", "r", "p2")).outcome is ScopeOutcome.NOT_FOUND
    search = decide(bound, Operation("Patient", "s"))
    assert search.allowed
    assert search.patient_limit == "p1"
    assert decide(bound, Operation("Observation", "r", "p1"), launch=None).outcome is ScopeOutcome.FORBIDDEN
    assert decide(bound, Operation("Condition", "c", "p1")).outcome is ScopeOutcome.FORBIDDEN
    # A new patient, or a clinic's day, cannot be narrowed to the launch patient.
    assert decide("patient/*.cruds", Operation("Patient", "c", pinnable=False)).reason == (
        "patient_scope_spans_patients"
    )
    assert decide("patient/*.cruds", Operation("Appointment", "s", pinnable=False)).outcome is (
        ScopeOutcome.FORBIDDEN
    )
    wide = decide("user/Patient.rs user/Observation.r", Operation("Patient", "r", "p2"))
    assert wide.allowed
    assert wide.patient_limit is None
    assert wide.sections == {
        Section.DEMOGRAPHICS,
        Section.CONTACT,
        Section.NATIONAL_ID,
        Section.RESULTS,
        Section.ORDERS,
    }
    # v2 permissions are exact: read is not search, search is not read, neither writes.
    assert decide("user/Observation.r", Operation("Observation", "s", "p2")).outcome is ScopeOutcome.FORBIDDEN
    assert decide("user/*.rs", Operation("Condition", "c", "p2")).outcome is ScopeOutcome.FORBIDDEN
    assert decide("user/*.cruds", Operation("Condition", "c", "p2")).allowed
    assert decide("system/*.rs", Operation("Patient", "s")).allowed
    for scopes in ("openid fhirUser launch", "", "user/*.rs"):
        # No scope grants notes (DocumentReference): no token writes one.
        assert decide(scopes, Operation("DocumentReference", "c", "p1")).outcome is ScopeOutcome.FORBIDDEN


def test_patient_scope_reads_only_its_patient(make_user, client):
    doctor = make_user("physician")
    mine, other = new_patient(), new_patient(given="Other", family="Person", mrn="MRN-2")
    relate(doctor, mine, "care_team")
    relate(doctor, other, "care_team")  # the user could see both; the token only one
    raw = token(doctor, "launch/patient patient/*.rs", patient_id=mine)
    assert client.get(f"/fhir/Patient/{mine}", **bearer(raw)).status_code == 200
    assert client.get(f"/fhir/Patient/{other}", **bearer(raw)).status_code == 404
    assert client.get(f"/fhir/Observation?patient={other}", **bearer(raw)).json().get("entry") is None
    search = client.get("/fhir/Patient?name=oth", **bearer(raw)).json()
    assert search.get("entry") is None
    assert [
        e["resource"]["id"] for e in client.get("/fhir/Patient?name=ada", **bearer(raw)).json()["entry"]
    ] == [mine]


def test_token_never_exceeds_the_users_rights(make_user, client, patient):
    clerk = make_user("registration_clerk")
    relate(clerk, patient, "appointment_today")
    raw = token(clerk, "user/*.rs")
    assert client.get(f"/fhir/Patient/{patient}", **bearer(raw)).status_code == 200
    # Registration never sees clinical data, whatever the token says.
    assert client.get(f"/fhir/Observation?patient={patient}", **bearer(raw)).json().get("entry") is None
    assert client.get(f"/fhir/Condition?patient={patient}", **bearer(raw)).json().get("entry") is None
    granted = scopes_within_rights(
        ["user/*.rs", "user/Observation.rs", "user/Patient.rs", "launch"],
        ["clinical:patient:read", "clinical:appointment:read"],
    )
    assert "user/Observation.rs" not in granted
    assert "user/Patient.rs" in granted


def test_scope_for_another_type_is_403(make_user, client, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    raw = token(doctor, "user/Observation.rs")
    response = client.get(f"/fhir/Condition?patient={patient}", **bearer(raw))
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/Patient/{patient}", **bearer(raw)).status_code == 403


def _pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def test_authorization_code_with_pkce_and_ehr_launch(make_user, client, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    application = app()
    verifier, challenge = _pkce()
    query = {
        "response_type": "code",
        "client_id": application.client_id,
        "redirect_uri": "https://app.example.test/callback",
        "scope": "launch patient/*.rs user/Observation.rs",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    # Anonymous: to SafeWard's sign-in first.
    response = client.get("/o/authorize/", query)
    assert response.status_code == 302
    assert "/accounts/login" in response["Location"]
    sign_in(client, doctor)
    launch = client.post("/o/launch/", {"patient_id": patient}, content_type="application/json")
    assert launch.status_code == 201
    response = client.get("/o/authorize/", {**query, "launch": launch.json()["launch"]})
    assert response.status_code == 200
    form = dict(query.items())
    response = client.post("/o/authorize/", {**form, "allow": "Authorize"})
    assert response.status_code == 302, response.content
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    client.logout()
    response = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example.test/callback",
            "client_id": application.client_id,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.content
    raw = response.json()["access_token"]
    stored = AccessToken.objects.get(token_checksum=hashlib.sha256(raw.encode()).hexdigest())
    assert str(TokenContext.objects.get(access_token=stored).patient_id) == patient
    assert client.get(f"/fhir/Patient/{patient}", **bearer(raw)).status_code == 200


def test_pkce_is_required(make_user, client):
    doctor = make_user("physician")
    application = app()
    sign_in(client, doctor)
    response = client.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": application.client_id,
            "redirect_uri": "https://app.example.test/callback",
            "scope": "user/*.rs",
        },
    )
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "error=" in response["Location"]


@pytest.fixture
def backend(make_user):
    service = make_user("physician")
    application = app("lab system", grant=Application.GRANT_CLIENT_CREDENTIALS, user=service)
    key = ec.generate_private_key(ec.SECP384R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ClientKey.objects.create(
        application=application, public_key_pem=public.decode(), algorithm="ES384", created_at=clock.now()
    )
    return application, key


def _assertion(application, key, *, aud="http://testserver/o/token/", jti=None, lifetime=120):
    now = int(time.time())
    claims = {
        "iss": application.client_id,
        "sub": application.client_id,
        "aud": aud,
        "exp": now + lifetime,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="ES384")


def _token_request(client, assertion, scope="system/*.rs"):
    return client.post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": scope,
        },
    )


def test_backend_service_with_private_key_jwt(backend, client, patient):
    application, key = backend
    relate(application.user, patient, "care_team")
    response = _token_request(client, _assertion(application, key), "system/*.rs user/*.rs")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "system/*.rs"
    assert (
        client.get(f"/fhir/Observation?patient={patient}", **bearer(body["access_token"])).status_code == 200
    )


def test_backend_assertion_checks(backend, client):
    application, key = backend
    once = _assertion(application, key, jti="same")
    assert _token_request(client, once).status_code == 200
    assert _token_request(client, once).status_code == 401  # replay
    assert (
        _token_request(client, _assertion(application, key, aud="https://elsewhere/token")).status_code == 401
    )
    assert _token_request(client, _assertion(application, key, lifetime=3600)).status_code == 401
    other = ec.generate_private_key(ec.SECP384R1())
    assert _token_request(client, _assertion(application, other)).status_code == 401
    assert _token_request(client, "not-a-jwt").status_code == 401
