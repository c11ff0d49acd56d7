"""The OAuth client registry page: registering shows the secret once,
every change needs a fresh second factor, revoking ends the client; and the
authorization matrix of its routes under every role."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from oauth2_provider.models import Application

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.fhir.models import ClientRegistration
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES

pytestmark = pytest.mark.django_db

MANAGERS = {"it_admin", "security_officer"}
MISSING = 999_999
ROUTES = [
    ("get", "/oauth/clients/", 200),
    ("get", "/oauth/clients/new/", 200),
    ("post", "/oauth/clients/new/", 400),
    ("get", f"/oauth/clients/{MISSING}/", 404),
    ("post", f"/oauth/clients/{MISSING}/edit/", 404),
    ("post", f"/oauth/clients/{MISSING}/expiry/", 404),
    ("post", f"/oauth/clients/{MISSING}/revoke/", 404),
]


@pytest.mark.parametrize("role", ROLES)
def test_client_routes_under_each_role(role):
    client = Client()
    sign_in(client, UserFactory(roles=[role], totp_secret=True))
    failures = []
    for method, path, status in ROUTES:
        expected = status if role in MANAGERS else 403
        response = getattr(client, method)(path)
        if response.status_code != expected:
            failures.append(f"{method.upper()} {path}: {response.status_code}, expected {expected}")
    assert not failures, f"{role}:\n" + "\n".join(failures)
    assert not Application.objects.exists()


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in ROUTES])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def form(owner, **extra):
    return {
        "name": "Growth charts",
        "grant": "authorization-code",
        "client_type": "confidential",
        "owner": owner.username,
        "scopes": "openid fhirUser user/*.rs",
        "redirect_uris": "https://charts.example.test/callback",
        "expires": (clock.now() + dt.timedelta(days=200)).date().isoformat(),
        **extra,
    }


def test_registering_from_the_page_shows_the_secret_once(client, make_user):
    admin = make_user("it_admin")
    owner = make_user("physician")
    sign_in(client, admin)
    response = client.post("/oauth/clients/new/", form(owner))
    assert response.status_code == 201
    secret = response.context["client_secret"]
    assert secret
    assert secret.encode() in response.content
    assert response["Cache-Control"] == "no-store"
    registration = ClientRegistration.objects.get()
    assert registration.registered_by == admin
    listing = client.get("/oauth/clients/")
    assert b"Growth charts" in listing.content
    detail = client.get(f"/oauth/clients/{registration.pk}/")
    assert detail.status_code == 200
    assert secret.encode() not in detail.content
    assert secret.encode() not in listing.content


def test_bad_registrations_show_the_form_with_errors_and_save_nothing(client, make_user):
    admin = make_user("security_officer")
    sign_in(client, admin)
    owner = make_user("physician")
    response = client.post("/oauth/clients/new/", form(owner, redirect_uris="http://charts.example.test/cb"))
    assert response.status_code == 400
    assert b"must be absolute https URIs" in response.content
    response = client.post("/oauth/clients/new/", {**form(owner), "owner": "nobody.here"})
    assert response.status_code == 400
    assert b"No active account" in response.content
    assert not Application.objects.exists()
    assert not AuditEvent.objects.filter(resource_type="OAuthClient").exists()


def test_register_and_revoke_need_a_fresh_second_factor(client, make_user, frozen_clock, settings):
    admin = make_user("it_admin")
    owner = make_user("physician")
    sign_in(client, admin)
    frozen_clock.advance(minutes=settings.SAFEWARD_STEP_UP_MINUTES + 1)
    response = client.post("/oauth/clients/new/", form(owner))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/reauthenticate/")
    assert not Application.objects.exists()


def test_edit_expiry_and_revoke_from_the_page(client, make_user):
    admin = make_user("it_admin")
    owner = make_user("physician")
    sign_in(client, admin)
    client.post("/oauth/clients/new/", form(owner))
    registration = ClientRegistration.objects.get()
    edited = client.post(
        f"/oauth/clients/{registration.pk}/edit/",
        {
            "name": "Growth charts 2",
            "owner": owner.username,
            "scopes": "openid user/Patient.rs",
            "redirect_uris": "https://charts.example.test/callback\nhttps://charts.example.test/other",
        },
    )
    assert edited.status_code == 302
    registration.refresh_from_db()
    assert registration.allowed_scopes == "openid user/Patient.rs"
    assert registration.application.redirect_uris.split()[1] == "https://charts.example.test/other"
    later = (clock.now() + dt.timedelta(days=400)).date()
    client.post(f"/oauth/clients/{registration.pk}/expiry/", {"expires": later.isoformat()})
    registration.refresh_from_db()
    assert registration.expires_at.date() == later
    assert client.post(f"/oauth/clients/{registration.pk}/revoke/", {"reason": ""}).status_code == 302
    registration.refresh_from_db()
    assert registration.revoked_at is None  # a reason is required
    client.post(f"/oauth/clients/{registration.pk}/revoke/", {"reason": "replaced"})
    registration.refresh_from_db()
    assert registration.revoked_at is not None
    assert b"revoked" in client.get(f"/oauth/clients/{registration.pk}/").content
    verbs = list(
        AuditEvent.objects.filter(resource_type="OAuthClient")
        .order_by("id")
        .values_list("detail__client", flat=True)
    )
    assert verbs == ["register", "update", "set_expiry", "revoke"]
