"""The authorization matrix of the vendor register: every route under every
role, and anonymously. The privacy officer manages (vendor:vendor:manage);
the security and compliance officers and the auditor read; nobody else,
and never the vendor role."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES

pytestmark = pytest.mark.django_db

EVERYONE = set(ROLES)
READERS = {"privacy_officer", "security_officer", "compliance_officer", "auditor"}
MANAGERS = {"privacy_officer"}
REVIEWERS = {"privacy_officer", "compliance_officer"}  # vendor:assessment:review signs questionnaires off
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). POSTs carry no
# data: an allowed role gets the form back with its errors (400), or 404.
ROUTES = [
    ("get", "/vendors/", READERS, 200),
    ("get", f"/vendors/{MISSING}/", READERS, 404),
    ("get", "/vendors/new/", MANAGERS, 200),
    ("post", "/vendors/new/", MANAGERS, 400),
    ("get", f"/vendors/{MISSING}/agreements/new/", MANAGERS, 404),
    ("post", f"/vendors/{MISSING}/agreements/new/", MANAGERS, 404),
    ("get", f"/vendors/{MISSING}/credentials/new/", MANAGERS, 404),
    ("post", f"/vendors/{MISSING}/credentials/new/", MANAGERS, 404),
    ("post", f"/vendors/{MISSING}/suspend/", MANAGERS, 404),
    ("post", f"/vendors/{MISSING}/offboard/", MANAGERS, 404),
    ("post", f"/vendors/agreements/{MISSING}/terminate/", MANAGERS, 404),
    ("post", f"/vendors/agreements/{MISSING}/notice/", MANAGERS, 404),
    ("post", f"/vendors/agreements/{MISSING}/renew/", MANAGERS, 404),
    ("post", f"/vendors/agreements/{MISSING}/documents/", MANAGERS, 404),
    ("get", f"/vendors/documents/{MISSING}/", READERS, 404),
    ("get", "/api/v1/vendors/", READERS, 200),
    ("get", f"/api/v1/vendors/{MISSING}/", READERS, 404),
    ("post", f"/api/v1/vendors/{MISSING}/suspend/", MANAGERS, 404),
    ("post", f"/api/v1/vendors/agreements/{MISSING}/terminate/", MANAGERS, 404),
    ("post", f"/api/v1/vendors/agreements/{MISSING}/renew/", MANAGERS, 404),
    # The security questionnaire (ADR 1213).
    ("get", "/vendors/questionnaires/", READERS, 200),
    ("get", f"/vendors/{MISSING}/questionnaires/new/", MANAGERS, 404),
    ("post", f"/vendors/{MISSING}/questionnaires/new/", MANAGERS, 404),
    ("get", f"/vendors/questionnaires/{MISSING}/", READERS, 404),
    ("post", f"/vendors/questionnaires/{MISSING}/sign-off/", REVIEWERS, 404),
    ("get", f"/vendors/questionnaires/evidence/{MISSING}/", READERS, 404),
    ("get", "/api/v1/vendors/questionnaires/", READERS, 200),
    ("post", f"/api/v1/vendors/{MISSING}/questionnaires/", MANAGERS, 404),
    ("post", f"/api/v1/vendors/questionnaires/{MISSING}/sign-off/", REVIEWERS, 404),
]


def _call(client, method, path):
    if method == "post" and path.startswith("/api/"):
        return client.post(path, {}, content_type="application/json")
    return getattr(client, method)(path)


@pytest.mark.parametrize("role", ROLES)
def test_vendor_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        expected = status if role in allowed else 403
        response = _call(client, method, path)
        if response.status_code != expected:
            failures.append(f"{method.upper()} {path}: {response.status_code}, expected {expected}")
    assert not failures, f"{role}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES])
def test_anonymous_visitors_are_refused(client, method, path):
    response = _call(client, method, path)
    if path.startswith("/api/"):
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("role", [*ROLES, None])
def test_the_questionnaire_link_asks_no_account_and_opens_only_with_its_token(role, make_user):
    """The one route open to anyone: every role and an anonymous visitor get
    the same answer, decided by the token alone (ADR 1213)."""
    from safeward.vendors import questionnaires
    from tests.vendors.conftest import make_agreement, make_vendor

    officer = make_user("privacy_officer")
    vendor = make_vendor(officer)
    make_agreement(officer, vendor)
    sent = questionnaires.questionnaire_send(
        actor=officer, vendor=vendor, contact_name="Dana", contact_email="dana@vendor.example", link_for=str
    )
    client = Client()
    if role is not None:
        sign_in(client, UserFactory(roles=[role], totp_secret=True))
    assert client.get(f"/vendors/answer/{sent.link}/").status_code == 200
    assert client.get(f"/vendors/answer/{sent.link[:-2]}/").status_code == 404
    assert client.post(f"/vendors/answer/{'x' * 43}/", {}).status_code == 404
