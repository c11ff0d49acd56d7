"""Containment from an alert: step-up required, audited with the alert, and
effective on the suspect's NEXT request, both for a live browser session
(a real second client) and for a bearer token."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken, set_token_value

from safeward.audit.models import AuditEvent
from safeward.identity.models import User, UserSession
from tests.conftest import sign_in
from tests.detection_ops.factories import AlertFactory, alert_about

pytestmark = pytest.mark.django_db


def issue_token(user) -> str:
    application = Application.objects.create(
        name="ward tablet",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://tablet.hospital.test/callback",
    )
    raw = secrets.token_urlsafe(32)
    access = AccessToken(
        user=user, application=application, expires=timezone.now() + dt.timedelta(hours=1), scope="read"
    )
    set_token_value(access, raw)
    access.save()
    refresh = RefreshToken(user=user, application=application, access_token=access)
    set_token_value(refresh, secrets.token_urlsafe(32))
    refresh.save()
    return raw


@pytest.fixture
def officer(client, make_user):
    user = make_user("security_officer")
    sign_in(client, user)  # a fresh second factor: step-up satisfied
    return client, user


def test_containment_ends_a_live_session_and_a_bearer_token_on_the_next_request(officer, make_user):
    client, me = officer
    suspect = make_user("nurse")
    suspect_browser = Client()
    sign_in(suspect_browser, suspect)
    token = issue_token(suspect)
    assert suspect_browser.get("/").status_code == 200
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    alert = alert_about(suspect)

    page = client.get(f"/detection/alerts/{alert.pk}/contain/")
    assert page.status_code == 200
    assert "Contain the account" in page.content.decode()
    response = client.post(
        f"/detection/alerts/{alert.pk}/contain/", {"lock": "on", "end_sessions": "on", "revoke_tokens": "on"}
    )
    assert response.status_code == 302

    # The suspect's open session is refused on its very next request.
    refused = suspect_browser.get("/")
    assert refused.status_code == 401
    # ... and the API token no longer works.
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    suspect.refresh_from_db()
    assert suspect.is_locked
    assert not UserSession.objects.filter(user=suspect, ended_at__isnull=True).exists()
    assert not AccessToken.objects.filter(user=suspect).exists()

    event = AuditEvent.objects.get(resource_type="Alert", resource_id=str(alert.pk), action="execute")
    assert event.actor_id == me.pk
    assert event.detail["change"] == "contain"
    assert event.detail["subject_user_id"] == suspect.pk
    assert event.detail["locked"] is True
    assert event.detail["sessions_ended"] == 1
    assert event.detail["oauth_revoked"] >= 1
    assert event.detail["steps"] == ["lock", "sessions", "oauth"]
    assert AuditEvent.objects.filter(action="account_lock", resource_id=str(suspect.pk)).exists()
    # The alert page shows the account locked now.
    detail = client.get(f"/detection/alerts/{alert.pk}/").content.decode()
    assert "locked" in detail


def test_containment_needs_step_up(client, make_user):
    officer = make_user("security_officer")
    user_session = sign_in(client, officer)
    UserSession.objects.filter(pk=user_session.pk).update(mfa_at=None)
    suspect = make_user("nurse")
    alert = alert_about(suspect)
    response = client.post(f"/detection/alerts/{alert.pk}/contain/", {"lock": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/reauthenticate/")
    suspect.refresh_from_db()
    assert not suspect.is_locked
    assert not AuditEvent.objects.filter(resource_type="Alert", action="execute").exists()


def test_containment_refusals(officer, make_user):
    client, me = officer
    # No step chosen: 400, nothing done.
    suspect = make_user("nurse")
    alert = alert_about(suspect)
    assert client.post(f"/detection/alerts/{alert.pk}/contain/", {}).status_code == 400
    suspect.refresh_from_db()
    assert not suspect.is_locked
    # An alert about no account (a password-spraying address): nothing to contain.
    address_alert = AlertFactory(rule="failed_login_address", client_ip="203.0.113.9")
    assert client.post(f"/detection/alerts/{address_alert.pk}/contain/", {"lock": "on"}).status_code == 400
    # One's own account: separation of duties.
    own = alert_about(me)
    assert client.post(f"/detection/alerts/{own.pk}/contain/", {"lock": "on"}).status_code == 403
    assert User.objects.get(pk=me.pk).locked_at is None
    # Unknown alert.
    assert client.post("/detection/alerts/999999/contain/", {"lock": "on"}).status_code == 404
    assert not AuditEvent.objects.filter(resource_type="Alert", action="execute").exists()


def test_privacy_officers_triage_but_do_not_contain(signed_in, make_user):
    client, _ = signed_in("privacy_officer")
    suspect = make_user("nurse")
    alert = alert_about(suspect)
    assert client.get(f"/detection/alerts/{alert.pk}/").status_code == 200
    assert client.post(f"/detection/alerts/{alert.pk}/contain/", {"lock": "on"}).status_code == 403
    suspect.refresh_from_db()
    assert not suspect.is_locked
