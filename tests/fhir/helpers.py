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


def token(user, scope: str, *, patient_id: str | None = None) -> str:
    raw = secrets.token_urlsafe(32)
    access = AccessToken(
        user=user, application=app(), expires=timezone.now() + dt.timedelta(hours=1), scope=scope
    )
    set_token_value(access, raw)
    access.save()
    TokenContext.objects.create(access_token=access, patient_id=patient_id, created_at=clock.now())
    return raw


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
