"""Backend services' tokens (SMART client credentials) are bound at issue like every
other token (ADR 1020): to the device whose certificate the token request presents,
else to the device the client is linked to; and refused, audited, when that device is
lost or a linked client's key is presented from another device."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from jwt.algorithms import ECAlgorithm
from oauth2_provider.models import AccessToken

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.devices.identity import posture_for_token
from safeward.devices.models import Device, TokenDevice
from safeward.devices.oauth_links import client_link, client_unlink
from safeward.devices.posture import device_report_lost
from safeward.fhir import clients
from tests.devices.posture_support import BAD, GOOD, ward_behind_proxies

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    # No frozen clock: the client assertion's expiry is checked against the real time too.
    settings.VAR_DIR = tmp_path
    ward_behind_proxies(settings)


@pytest.fixture
def officer(make_user):
    return make_user("security_officer")


@pytest.fixture
def lab(make_user):
    """A registered backend service (the lab analyser's middleware) and its private key."""
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": "lab-1"}
    registered = clients.client_register(
        actor=make_user("it_admin"),
        name="Lab analyser middleware",
        owner=make_user("it_admin"),
        grant="client-credentials",
        client_type="confidential",
        scopes="system/Observation.rs",
        expires_at=clock.now() + dt.timedelta(days=365),
        jwks=json.dumps({"keys": [jwk]}),
        service_account=make_user("physician"),
    )
    return registered.registration.application, key


def ask(lab, fingerprint: str | None = None):
    application, key = lab
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": application.client_id,
            "sub": application.client_id,
            "aud": "http://testserver/o/token/",
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
        },
        key,
        algorithm="ES384",
        headers={"kid": "lab-1"},
    )
    headers: dict[str, Any] = {"REMOTE_ADDR": PROXY}
    if fingerprint is not None:
        headers["HTTP_X_CLIENT_CERT_SHA256"] = fingerprint
    return Client(**headers).post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": "system/Observation.rs",
        },
    )


def binding(raw: str) -> TokenDevice | None:
    access = AccessToken.objects.get(token_checksum=hashlib.sha256(raw.encode()).hexdigest())
    return TokenDevice.objects.filter(access_token=access).select_related("device").first()


def device(tag: str) -> Device:
    return Device.objects.get(asset_tag=tag)


def bindings_audited() -> list[str]:
    return [e.detail["source"] for e in AuditEvent.objects.filter(resource_type="TokenDevice")]


def refusals() -> list[str]:
    return list(
        AuditEvent.objects.filter(resource_type="OAuthToken", outcome="denied").values_list(
            "reason", flat=True
        )
    )


def test_an_unlinked_service_from_its_server_binds_nothing(lab):
    response = ask(lab)
    assert response.status_code == 200, response.content
    assert binding(response.json()["access_token"]) is None


def test_the_presented_certificate_binds_the_token(lab):
    response = ask(lab, BAD)
    assert response.status_code == 200, response.content
    bound = binding(response.json()["access_token"])
    assert bound is not None
    assert bound.device == device("LT-BAD")
    assert bindings_audited() == ["request"]


def test_a_linked_service_from_its_server_is_bound_to_the_linked_device(lab, officer):
    application, _ = lab
    client_link(
        actor=officer, device_id=device("LT-BAD").pk, client_id=application.client_id, reason="lab PC"
    )
    response = ask(lab)
    assert response.status_code == 200, response.content
    raw = response.json()["access_token"]
    bound = binding(raw)
    assert bound is not None
    assert bound.device == device("LT-BAD")
    assert bindings_audited() == ["link"]
    # Unlinking later does not free the token: it stays judged by the device it was issued for.
    client_unlink(actor=officer, client_id=application.client_id, reason="moved")
    token_id = AccessToken.objects.get(token_checksum=hashlib.sha256(raw.encode()).hexdigest()).pk
    assert posture_for_token(Client().get("/").wsgi_request, token_id) == "non_compliant"


def test_a_linked_service_from_its_own_device_is_issued(lab, officer):
    application, _ = lab
    client_link(
        actor=officer, device_id=device("LT-GOOD").pk, client_id=application.client_id, reason="lab PC"
    )
    response = ask(lab, GOOD)
    assert response.status_code == 200, response.content
    assert binding(response.json()["access_token"]).device == device("LT-GOOD")


def test_a_linked_service_key_from_another_device_is_refused(lab, officer):
    application, _ = lab
    client_link(
        actor=officer, device_id=device("LT-GOOD").pk, client_id=application.client_id, reason="lab PC"
    )
    response = ask(lab, BAD)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "linked to another device" in response.json()["error_description"]
    assert not AccessToken.objects.filter(application=application).exists()
    assert refusals() == ["client_on_another_device"]
    event = AuditEvent.objects.get(reason="client_on_another_device")
    assert event.detail["linked_device"] == device("LT-GOOD").pk
    assert event.detail["request_device"] == device("LT-BAD").pk


def test_a_lost_linked_device_refuses_its_service(lab, officer):
    application, _ = lab
    laptop = device("LT-GOOD")
    client_link(actor=officer, device_id=laptop.pk, client_id=application.client_id, reason="lab PC")
    device_report_lost(actor=officer, device_id=laptop.pk, state="stolen", reason="gone from the lab")
    for fingerprint in (None, GOOD):  # from the server, and from the stolen device itself
        response = ask(lab, fingerprint)
        assert response.status_code == 400
        assert "lost or stolen" in response.json()["error_description"]
    assert not AccessToken.objects.filter(application=application).exists()
    assert refusals() == ["device_lost", "device_lost"]


def test_a_lost_device_asking_for_an_unlinked_service_is_refused(lab, officer):
    application, _ = lab
    laptop = device("LT-BAD")
    device_report_lost(actor=officer, device_id=laptop.pk, state="lost", reason="left on a bus")
    response = ask(lab, BAD)
    assert response.status_code == 400
    assert not AccessToken.objects.filter(application=application).exists()
    assert refusals() == ["device_lost"]
    # The same service from its server is not affected.
    assert ask(lab).status_code == 200
