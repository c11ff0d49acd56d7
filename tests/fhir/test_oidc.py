"""OpenID Connect for SMART (ADR 0541): `openid fhirUser` gets an RS256
id_token that verifies against the published key set, with iss/aud/sub/
fhirUser and nothing else about the person; discovery and JWKS are public."""

from __future__ import annotations

import json

import jwt
import pytest

from tests.conftest import sign_in
from tests.fhir.helpers import app, authorize, bearer

pytestmark = pytest.mark.django_db
ALLOWED_CLAIMS = {"iss", "aud", "sub", "exp", "iat", "auth_time", "jti", "nonce", "at_hash", "fhirUser"}


def _verify(client, id_token: str, audience: str) -> dict:
    discovery = client.get("/o/.well-known/openid-configuration").json()
    keys = client.get("/o/.well-known/jwks.json").json()["keys"]
    kid = jwt.get_unverified_header(id_token)["kid"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid))
    return dict(
        jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256"],
            audience=audience,
            issuer=discovery["issuer"],
            options={"require": ["iss", "aud", "sub", "exp", "iat"]},
        )
    )


def test_openid_fhiruser_gets_a_verifiable_id_token(make_user, client):
    doctor = make_user("physician")
    doctor.first_name, doctor.last_name, doctor.email = "Gwendolyn", "Hartigan", "gh@hospital.example"
    doctor.save()
    application = app()
    sign_in(client, doctor)
    body = authorize(client, application, "openid fhirUser user/*.rs", nonce="n-0S6_WzA2Mj")
    assert "openid" in body["scope"].split()
    claims = _verify(client, body["id_token"], application.client_id)
    assert claims["sub"] == str(doctor.pk)
    assert claims["fhirUser"] == f"http://testserver/fhir/Practitioner/{doctor.pk}"
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["iss"] == "http://testserver/o"
    assert set(claims) <= ALLOWED_CLAIMS
    payload = json.dumps(claims)
    for personal in ("Gwendolyn", "Hartigan", "gh@hospital", doctor.username):
        assert personal not in payload
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "RS256"
    # fhirUser resolves, for this account only.
    practitioner = client.get(
        claims["fhirUser"].removeprefix("http://testserver"), **bearer(body["access_token"])
    )
    assert practitioner.status_code == 200, practitioner.content
    assert practitioner.json()["name"][0] == {"use": "official", "family": "Hartigan", "given": ["Gwendolyn"]}
    other = make_user("nurse")
    assert client.get(f"/fhir/Practitioner/{other.pk}", **bearer(body["access_token"])).status_code == 404
    # The userinfo endpoint tells the same, with the access token.
    info = client.get("/o/userinfo/", **bearer(body["access_token"]))
    assert info.status_code == 200, info.content
    assert info.json() == {"sub": str(doctor.pk), "fhirUser": claims["fhirUser"]}


def test_fhiruser_claim_only_with_its_scope_and_id_token_only_with_openid(make_user, client):
    doctor = make_user("physician")
    application = app()
    sign_in(client, doctor)
    body = authorize(client, application, "openid user/*.rs")
    claims = _verify(client, body["id_token"], application.client_id)
    assert "fhirUser" not in claims
    sign_in(client, doctor)
    assert "id_token" not in authorize(client, application, "user/*.rs")


def test_a_forged_or_foreign_id_token_does_not_verify(make_user, client):
    from cryptography.hazmat.primitives.asymmetric import rsa

    doctor = make_user("physician")
    application = app()
    sign_in(client, doctor)
    body = authorize(client, application, "openid fhirUser user/*.rs")
    claims = _verify(client, body["id_token"], application.client_id)
    header = jwt.get_unverified_header(body["id_token"])
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({**claims, "sub": "1"}, other_key, algorithm="RS256", headers={"kid": header["kid"]})
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(client, forged, application.client_id)
    with pytest.raises(jwt.InvalidAudienceError):
        _verify(client, body["id_token"], "another-client")


def test_discovery_and_jwks_are_public_and_smart_configuration_points_at_them(client):
    discovery = client.get("/o/.well-known/openid-configuration")
    assert discovery.status_code == 200
    document = discovery.json()
    assert document["issuer"] == "http://testserver/o"
    assert document["jwks_uri"] == "http://testserver/o/.well-known/jwks.json"
    assert document["authorization_endpoint"] == "http://testserver/o/authorize/"
    assert document["token_endpoint"] == "http://testserver/o/token/"
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert "token" not in document["response_types_supported"]  # no implicit flow
    keys = client.get("/o/.well-known/jwks.json").json()["keys"]
    assert keys
    assert all(k["kty"] == "RSA" and "d" not in k and "p" not in k for k in keys)  # public halves only
    smart = client.get("/fhir/.well-known/smart-configuration").json()
    assert smart["issuer"] == document["issuer"]
    assert smart["jwks_uri"] == document["jwks_uri"]
    assert {"sso-openid-connect", "launch-standalone", "context-standalone-patient"} <= set(
        smart["capabilities"]
    )
    assert {"openid", "fhirUser"} <= set(smart["scopes_supported"])


def test_userinfo_refuses_without_a_token(client):
    assert client.get("/o/userinfo/").status_code in (401, 403)
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code in (401, 403)
    assert client.post("/o/.well-known/jwks.json").status_code == 405


def test_check_reports_a_missing_signing_key(settings):
    from safeward.fhir.checks import check_oidc_key

    assert check_oidc_key() == []
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": ""}
    assert [m.id for m in check_oidc_key()] == ["safeward.W540"]


def test_signing_key_files(tmp_path):
    import stat

    from safeward.fhir.signing_key import SigningKeyError, load_or_create_signing_key, read_signing_key

    path = tmp_path / "keys" / "oidc.pem"
    first = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_signing_key(path) == first  # made once, then reused
    assert "PRIVATE KEY" in read_signing_key(path)
    (tmp_path / "bad.pem").write_text("not a key")
    for bad in (tmp_path / "bad.pem", tmp_path / "missing.pem"):
        with pytest.raises(SigningKeyError) as error:
            read_signing_key(bad)
        assert str(bad) in str(error.value)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ec.pem").write_bytes(ec_key)
    with pytest.raises(SigningKeyError, match="RSA"):
        read_signing_key(tmp_path / "ec.pem")


def test_practitioner_read_needs_the_fhiruser_scope_and_is_self_only(make_user, client):
    from tests.fhir.helpers import token

    doctor = make_user("physician")
    raw = token(doctor, "user/*.rs")
    assert client.get(f"/fhir/Practitioner/{doctor.pk}", **bearer(raw)).status_code == 403
    assert client.get(f"/fhir/Practitioner/{doctor.pk}").status_code == 401
    sign_in(client, doctor)
    assert client.get(f"/fhir/Practitioner/{doctor.pk}").status_code == 200
    for bad in ("0", "999999999", "abc", "1.5"):
        assert client.get(f"/fhir/Practitioner/{bad}").status_code == 404
