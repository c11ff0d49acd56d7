"""Every response carries the security headers; cookies carry the right flags."""

from __future__ import annotations

import pytest

from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

SAMPLES = [
    ("/accounts/login/", "anonymous"),
    ("/", "signed_in"),
    ("/identity/sessions/", "signed_in"),
    ("/identity/users/", "signed_in"),  # 403 for a nurse
    ("/no/such/page/", "signed_in"),  # 404
    ("/healthz", "anonymous"),
    ("/", "anonymous"),  # redirect to sign in
]


def assert_transport_headers(response, *, https: bool) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    if https:
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in response  # browsers ignore HSTS over HTTP


def assert_security_headers(response, *, https: bool) -> None:
    assert_transport_headers(response, https=https)
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert "camera=()" in response["Permissions-Policy"]
    assert "publickey-credentials-get=(self)" in response["Permissions-Policy"]


@pytest.mark.parametrize(("path", "who"), SAMPLES)
@pytest.mark.parametrize("https", [True, False])
def test_every_response_carries_the_headers(client, make_user, path, who, https):
    if who == "signed_in":
        from tests.conftest import sign_in

        sign_in(client, make_user("nurse"))
    response = client.get(path, secure=https)
    assert response.status_code in {200, 302, 403, 404}
    assert_security_headers(response, https=https)


@pytest.mark.parametrize("https", [True, False])
def test_static_files_carry_the_transport_headers(client, https):
    # WhiteNoise answers before the page middleware; CSP and frame options mean
    # nothing for a stylesheet, nosniff and HSTS do.
    response = client.get("/static/safeward/safeward.css", secure=https)
    assert response.status_code == 200
    assert_transport_headers(response, https=https)
    response.close()


def test_pages_with_account_data_are_not_cached(signed_in):
    client, _ = signed_in("nurse")
    assert client.get("/identity/sessions/")["Cache-Control"] == "no-store"


def test_error_and_refusal_pages_carry_the_headers(signed_in, frozen_clock):
    client, _ = signed_in("nurse")
    assert_security_headers(client.get("/identity/zones/", secure=True), https=True)  # 403
    frozen_clock.advance(hours=1)
    refused = client.get("/", secure=True)
    assert refused.status_code == 401
    assert_security_headers(refused, https=True)


def test_pages_load_no_inline_script(signed_in):
    client, _ = signed_in("it_admin")
    for path in [
        "/",
        "/identity/users/",
        "/identity/zones/",
        "/accounts/2fa/",
        "/accounts/2fa/webauthn/add/",
    ]:
        body = client.get(path).content.decode()
        for chunk in body.split("<script")[1:]:
            opening = chunk.split(">", 1)[0]
            executable = "src=" not in opening and 'type="application/json"' not in opening
            assert not executable, (path, opening)
        for handler in (" onclick=", " onload=", "javascript:"):
            assert handler not in body


def test_cookies_are_host_prefixed_secure_httponly_samesite(client, make_user):
    user = make_user("nurse")
    client.get("/accounts/login/", secure=True)
    response = client.post(
        "/accounts/login/", {"login": user.username, "password": TEST_PASSWORD}, secure=True
    )
    cookies = response.cookies
    session = cookies["__Host-safeward_session"]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    assert session["path"] == "/"
    assert not session["domain"]  # __Host- forbids a Domain attribute
    csrf = client.cookies["__Host-safeward_csrf"]
    assert csrf["secure"]
    assert csrf["httponly"]
    assert csrf["samesite"] == "Lax"
    assert csrf["path"] == "/"
    assert not csrf["domain"]
