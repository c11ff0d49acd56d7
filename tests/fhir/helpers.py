"""Bearer tokens as django-oauth-toolkit issues them, with a SMART launch context."""

from __future__ import annotations

import datetime as dt
import secrets

from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, set_token_value

from safeward import clock
from safeward.fhir.models import TokenContext


def app(name: str = "smart app", grant: str = Application.GRANT_AUTHORIZATION_CODE, user=None) -> Application:
    return Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC
        if grant == Application.GRANT_AUTHORIZATION_CODE
        else Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        redirect_uris="https://app.example.test/callback"
        if grant == Application.GRANT_AUTHORIZATION_CODE
        else "",
        user=user,
        algorithm="",
    )


def token(user, scope: str, *, patient_id: str | None = None, application: Application | None = None) -> str:
    raw = secrets.token_urlsafe(32)
    access = AccessToken(
        user=user,
        application=application or app(),
        expires=timezone.now() + dt.timedelta(hours=1),
        scope=scope,
    )
    set_token_value(access, raw)
    access.save()
    TokenContext.objects.create(access_token=access, patient_id=patient_id, created_at=clock.now())
    return raw


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


REDIRECT = "https://app.example.test/callback"


def pkce() -> tuple[str, str]:
    import base64
    import hashlib

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_query(application: Application, scope: str, challenge: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": application.client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def exchange(client, application: Application, location: str, verifier: str):
    """The token endpoint's answer for the code in a redirect `location`."""
    from urllib.parse import parse_qs, urlsplit

    code = parse_qs(urlsplit(location).query)["code"][0]
    return client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": application.client_id,
            "code_verifier": verifier,
        },
    )


def authorize(client, application: Application, scope: str, **extra: str) -> dict:
    """The authorization code flow for a signed-in `client` (consent given):
    the token endpoint's JSON."""
    verifier, challenge = pkce()
    query = authorize_query(application, scope, challenge, **extra)
    response = client.get("/o/authorize/", query)
    assert response.status_code == 200, response.content[:500]
    response = client.post("/o/authorize/", {**query, "allow": "Authorize"})
    assert response.status_code == 302, response.content[:500]
    client.logout()
    token_response = exchange(client, application, response["Location"], verifier)
    assert token_response.status_code == 200, token_response.content
    return dict(token_response.json())
