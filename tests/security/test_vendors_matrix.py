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
