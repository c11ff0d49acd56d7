"""Registering OAuth/SMART clients (ADR 0606): the checks of what a
registration may hold, the secret shown once and hashed at rest, expiry and
revocation refused on the request path, scopes bounded by the registration,
PKCE `plain` refused before consent, and the `safeward oauth` command."""

from __future__ import annotations

import base64
import datetime as dt
import json
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from oauth2_provider.models import AccessToken, Application

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.fhir import clients
from safeward.fhir.models import ClientKey, ClientRegistration
from tests.clinical.conftest import relate
from tests.conftest import sign_in
from tests.fhir.helpers import REDIRECT, authorize_query, bearer, pkce
from tests.fhir.test_smart import _assertion, _token_request

pytestmark = pytest.mark.django_db

NEXT_YEAR = dt.timedelta(days=365)


def jwks_of(public_key, **extra) -> str:
    algorithm = ECAlgorithm if isinstance(public_key, ec.EllipticCurvePublicKey) else RSAAlgorithm
    jwk = json.loads(algorithm.to_jwk(public_key))
    return json.dumps({"keys": [{**jwk, "kid": "key-1", **extra}]})


@pytest.fixture
def admin(make_user):
    return make_user("it_admin")


def register_app(admin, owner, **overrides):
    arguments = {
        "actor": admin,
        "name": "Growth charts",
        "owner": owner,
        "grant": "authorization-code",
        "client_type": "public",
        "scopes": "openid fhirUser launch/patient patient/*.rs user/*.rs",
        "redirect_uris": REDIRECT,
        "expires_at": clock.now() + NEXT_YEAR,
        **overrides,
    }
    return clients.client_register(**arguments)


# --- what a registration may hold -------------------------------------------------------------------
def test_a_confidential_apps_secret_is_shown_once_and_hashed_at_rest(admin, make_user):
    registered = register_app(admin, make_user("physician"), client_type="confidential")
    assert registered.client_secret
    stored = Application.objects.get(pk=registered.registration.application_id).client_secret
    assert stored != registered.client_secret
    assert check_password(registered.client_secret, stored)
    event = AuditEvent.objects.get(resource_type="OAuthClient")
    assert event.actor_id == admin.pk
    assert event.detail["client"] == "register"
    assert registered.client_secret not in json.dumps(event.detail)


def test_a_public_app_has_no_secret_to_show(admin, make_user):
    assert register_app(admin, make_user("physician")).client_secret is None


@pytest.mark.parametrize(
    "uris",
    [
        "http://app.example.test/cb",
        "https://app.example.test/cb#frag",
        "ftp://x/y",
        "app.example.test/cb",
        "",
    ],
)
def test_redirect_uris_must_be_https_or_loopback(admin, make_user, uris):
    with pytest.raises(ValidationError) as refused:
        register_app(admin, make_user("physician"), redirect_uris=uris)
    assert "redirect_uris" in refused.value.message_dict
    assert not ClientRegistration.objects.exists()
    assert not Application.objects.exists()


def test_several_https_redirect_uris_are_kept(admin, make_user):
    registered = register_app(
        admin, make_user("physician"), redirect_uris="https://a.example.test/cb https://b.example.test/cb"
    )
    assert registered.registration.application.redirect_uris.split() == [
        "https://a.example.test/cb",
        "https://b.example.test/cb",
    ]


def test_unknown_scopes_and_past_expiries_are_refused(admin, make_user):
    owner = make_user("physician")
    with pytest.raises(ValidationError, match="scopes"):
        register_app(admin, owner, scopes="patient/*.rs everything")
    with pytest.raises(ValidationError, match="expires_at"):
        register_app(admin, owner, expires_at=clock.now() - dt.timedelta(minutes=1))
    assert not Application.objects.exists()


def test_only_holders_of_the_permission_register(make_user):
    with pytest.raises(ValidationError, match="Not permitted"):
        register_app(make_user("physician"), make_user("nurse"))


def backend_arguments(make_user, jwks: str) -> dict:
    return {
        "grant": "client-credentials",
        "client_type": "confidential",
        "scopes": "system/*.rs",
        "redirect_uris": "",
        "jwks": jwks,
        "service_account": make_user("physician"),
    }


def test_a_backend_service_registers_its_public_key_from_a_jwks(admin, make_user):
    key = ec.generate_private_key(ec.SECP384R1())
    registered = register_app(
        admin, make_user("it_admin"), **backend_arguments(make_user, jwks_of(key.public_key()))
    )
    assert registered.client_secret is None  # private_key_jwt: there is no secret to show
    stored = ClientKey.objects.get(application_id=registered.registration.application_id)
    assert (stored.kid, stored.algorithm) == ("key-1", "ES384")


def _private_jwk_jwks() -> str:
    key = ec.generate_private_key(ec.SECP384R1())
    return json.dumps({"keys": [{**json.loads(ECAlgorithm.to_jwk(key)), "kid": "k"}]})


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        (lambda: _private_jwk_jwks(), "private key material"),
        (lambda: jwks_of(ec.generate_private_key(ec.SECP384R1()).public_key(), kid=""), "kid"),
        (lambda: jwks_of(rsa.generate_private_key(65537, 1024).public_key()), "at least 2048"),  # noqa: S505  # the weak key is the point
        (
            lambda: json.dumps(
                {"keys": [{"kty": "oct", "kid": "s", "k": base64.urlsafe_b64encode(b"x" * 32).decode()}]}
            ),
            "private key material",
        ),
        (
            lambda: json.dumps({"keys": [{"kty": "OKP", "kid": "o", "crv": "Ed25519", "x": "AA"}]}),
            "RSA and EC",
        ),
        (lambda: json.dumps({"keys": []}), "exactly one key"),
        (lambda: "[" * 5000 + "]" * 5000, "not valid JSON"),
        (lambda: "{not json", "not valid JSON"),
    ],
)
def test_a_jwks_must_hold_one_public_rsa_or_ec_key_with_a_kid(admin, make_user, jwks, message):
    with pytest.raises(ValidationError) as refused:
        register_app(admin, make_user("it_admin"), **backend_arguments(make_user, jwks()))
    assert message in " ".join(refused.value.message_dict["jwks"])
    assert not Application.objects.exists()


# --- the request path -------------------------------------------------------------------------------
def _issue_token(application, user, scope="user/*.rs read") -> str:
    import secrets

    from django.utils import timezone
    from oauth2_provider.models import set_token_value

    raw = secrets.token_urlsafe(32)
    access = AccessToken(
        user=user, application=application, expires=timezone.now() + dt.timedelta(hours=1), scope=scope
    )
    set_token_value(access, raw)
    access.save()
    return raw


def test_an_expired_client_is_refused_on_the_request_path(admin, make_user, client):
    owner = make_user("physician")
    registration = register_app(admin, owner).registration
    raw = _issue_token(registration.application, owner)
    assert client.get("/api/v1/me/", **bearer(raw)).status_code == 200
    # Expiry passes: no sweep runs, the next request is refused.
    ClientRegistration.objects.filter(pk=registration.pk).update(
        expires_at=clock.now() - dt.timedelta(seconds=1)
    )
    assert client.get("/api/v1/me/", **bearer(raw)).status_code == 401
    assert client.get("/fhir/Patient?name=ada", **bearer(raw)).status_code == 401
    sign_in(client, owner)
    _, challenge = pkce()
    response = client.get("/o/authorize/", authorize_query(registration.application, "user/*.rs", challenge))
    assert b"authorizationForm" not in response.content


def test_revoking_a_client_ends_its_tokens_at_once(admin, make_user, client):
    owner = make_user("physician")
    registration = register_app(admin, owner).registration
    raw = _issue_token(registration.application, owner)
    assert (
        clients.client_revoke(actor=admin, registration_id=registration.pk, reason="vendor contract ended")
        == 1
    )
    assert client.get("/api/v1/me/", **bearer(raw)).status_code == 401
    assert not AccessToken.objects.filter(application=registration.application).exists()
    with pytest.raises(ValidationError, match="already revoked"):
        clients.client_revoke(actor=admin, registration_id=registration.pk, reason="again")
    assert AuditEvent.objects.filter(resource_type="OAuthClient", detail__client="revoke").count() == 1


def test_an_app_gets_no_scope_beyond_its_registration(admin, make_user, client):
    owner = make_user("physician")
    registration = register_app(admin, owner, scopes="openid user/Patient.rs").registration
    sign_in(client, owner)
    _, challenge = pkce()
    asked = client.get("/o/authorize/", authorize_query(registration.application, "user/*.cruds", challenge))
    assert b"authorizationForm" not in asked.content
    within = client.get(
        "/o/authorize/", authorize_query(registration.application, "user/Patient.rs", challenge)
    )
    assert within.status_code == 200
    assert b"authorizationForm" in within.content


def test_a_revoked_backend_service_gets_no_token(admin, make_user, client, patient):
    key = ec.generate_private_key(ec.SECP384R1())
    arguments = backend_arguments(make_user, jwks_of(key.public_key()))
    registration = register_app(admin, make_user("it_admin"), **arguments).registration
    relate(arguments["service_account"], patient, "care_team")
    application = registration.application
    assert _token_request(client, _assertion(application, key)).status_code == 200
    clients.client_revoke(actor=admin, registration_id=registration.pk, reason="key compromised")
    refused = _token_request(client, _assertion(application, key))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


# --- PKCE plain ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["plain", None, "S512"])
def test_pkce_other_than_s256_is_refused_before_the_consent_page(admin, make_user, client, method):
    owner = make_user("physician")
    registration = register_app(admin, owner).registration
    sign_in(client, owner)
    query = authorize_query(registration.application, "user/*.rs", "a" * 43)
    if method is None:
        del query["code_challenge_method"]  # RFC 7636: no method means plain
    else:
        query["code_challenge_method"] = method
    response = client.get("/o/authorize/", query)
    assert response.status_code == 400
    assert b"code_challenge_method=S256 only" in response.content
    assert b"authorizationForm" not in response.content
    # Not even the standalone patient picker comes first.
    response = client.get("/o/authorize/", {**query, "scope": "launch/patient patient/*.rs"})
    assert response.status_code == 400


# --- the command line ---------------------------------------------------------------------------------
def run(*args: str) -> str:
    out = StringIO()
    call_command("oauth", *args, stdout=out)
    return out.getvalue()


def test_the_oauth_command_registers_lists_shows_sets_expiry_and_revokes(make_user, tmp_path):
    owner = make_user("physician", username="dr.owner")
    output = run(
        "register",
        "--name",
        "Bedside charts",
        "--owner",
        "dr.owner",
        "--grant",
        "authorization-code",
        "--client-type",
        "confidential",
        "--scopes",
        "openid user/*.rs",
        "--redirect-uri",
        "https://charts.example.test/cb",
        "--expires",
        (clock.now() + NEXT_YEAR).date().isoformat(),
    )
    registration = ClientRegistration.objects.get()
    assert registration.owner == owner
    assert "client secret (shown once)" in output
    assert registration.application.client_id in output
    assert "Bedside charts" in run("list")
    shown = run("show", str(registration.pk))
    assert "openid user/*.rs" in shown
    assert "secret" not in shown.lower().replace("client secret: hashed", "")
    later = (clock.now() + 2 * NEXT_YEAR).date().isoformat()
    run("set-expiry", str(registration.pk), later)
    registration.refresh_from_db()
    assert registration.expires_at.date().isoformat() == later
    run("revoke", str(registration.pk), "--reason", "retired")
    registration.refresh_from_db()
    assert registration.revoked_at is not None
    assert AuditEvent.objects.filter(resource_type="OAuthClient", actor_username="system:cli").count() == 3


def test_the_oauth_command_registers_a_backend_service_from_a_jwks_file(make_user, tmp_path):
    make_user("it_admin", username="it.owner")
    make_user("physician", username="svc.lab")
    key_file = tmp_path / "jwks.json"
    key_file.write_text(jwks_of(ec.generate_private_key(ec.SECP384R1()).public_key()))
    run(
        "register",
        "--name",
        "Lab system",
        "--owner",
        "it.owner",
        "--grant",
        "client-credentials",
        "--client-type",
        "confidential",
        "--scopes",
        "system/*.rs",
        "--jwks-file",
        str(key_file),
        "--service-account",
        "svc.lab",
        "--expires",
        (clock.now() + NEXT_YEAR).date().isoformat(),
    )
    assert ClientKey.objects.get().kid == "key-1"


def test_the_oauth_command_reports_bad_input_without_a_traceback(make_user):
    from django.core.management.base import CommandError

    make_user("physician", username="dr.owner")
    with pytest.raises(CommandError, match="redirect_uris"):
        run(
            "register",
            "--name",
            "x",
            "--owner",
            "dr.owner",
            "--grant",
            "authorization-code",
            "--client-type",
            "public",
            "--scopes",
            "openid",
            "--redirect-uri",
            "http://evil.example.test/",
            "--expires",
            (clock.now() + NEXT_YEAR).date().isoformat(),
        )
