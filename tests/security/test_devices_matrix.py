"""The authorization matrix of devices and networks: every route under every
role, and anonymously. Reading takes devices:device:read (IT, security,
biomedical engineering, auditors, compliance); the inventory, MDS2 and
compensating controls take devices:device:manage (IT, security, biomedical
engineering); segments and flows take devices:network:manage (IT, security)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES as IDENTITY_ROLES

pytestmark = pytest.mark.django_db

ROLES = [
    *IDENTITY_ROLES,
    *[
        role
        for role in ("compliance_officer", "biomedical_engineer", "security_desk")
        if role not in IDENTITY_ROLES
    ],
]
EVERYONE = set(ROLES)
READERS = {"it_admin", "security_officer", "biomedical_engineer", "auditor", "compliance_officer"}
MANAGERS = {"it_admin", "security_officer", "biomedical_engineer"}
NETWORK = {"it_admin", "security_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). POSTs carry no
# data: an allowed role gets the form back with its errors (400), or 404.
WEB_ROUTES = [
    ("get", "/devices/", READERS, 200),
    ("get", "/devices/?kind=toaster", READERS, 400),
    ("get", f"/devices/{MISSING}/", READERS, 404),
    ("get", "/devices/segments/", READERS, 200),
    ("get", "/devices/mds2/", READERS, 200),
    ("get", f"/devices/mds2/{MISSING}/", READERS, 404),
    ("get", "/devices/controls/", READERS, 200),
    ("get", f"/devices/controls/{MISSING}/", READERS, 404),
    ("get", f"/devices/controls/{MISSING}/evidence/1/", READERS, 404),
    ("get", "/devices/new/", MANAGERS, 200),
    ("post", "/devices/new/", MANAGERS, 400),
    ("get", f"/devices/{MISSING}/edit/", MANAGERS, 404),
    ("post", f"/devices/{MISSING}/edit/", MANAGERS, 404),
    ("post", f"/devices/{MISSING}/lifecycle/", MANAGERS, 404),
    ("get", "/devices/import/", MANAGERS, 200),
    ("post", "/devices/import/", MANAGERS, 400),
    ("get", "/devices/mds2/import/", MANAGERS, 200),
    ("post", "/devices/mds2/import/", MANAGERS, 400),
    ("get", "/devices/controls/new/", MANAGERS, 200),
    ("post", "/devices/controls/new/", MANAGERS, 400),
    ("post", f"/devices/controls/{MISSING}/evidence/", MANAGERS, 404),
    ("post", f"/devices/controls/{MISSING}/renew/", MANAGERS, 404),
    ("post", f"/devices/controls/{MISSING}/retire/", MANAGERS, 404),
    ("get", "/devices/segments/new/", NETWORK, 200),
    ("post", "/devices/segments/new/", NETWORK, 400),
    ("get", "/devices/flows/new/", NETWORK, 200),
    ("post", "/devices/flows/new/", NETWORK, 400),
    ("get", "/devices/flows/import/", NETWORK, 200),
    ("post", "/devices/flows/import/", NETWORK, 400),
    ("get", "/devices/flows/observed/import/", NETWORK, 200),
    ("post", "/devices/flows/observed/import/", NETWORK, 400),
    ("post", f"/devices/flows/{MISSING}/delete/", NETWORK, 404),
]
API_ROUTES = [
    ("get", "/api/v1/devices/", READERS, 200),
    ("get", "/api/v1/devices/?control=maybe", READERS, 400),
    ("post", "/api/v1/devices/", MANAGERS, 400),
    ("get", f"/api/v1/devices/{MISSING}/", READERS, 404),
    ("post", "/api/v1/devices/import/", MANAGERS, 400),
    ("get", "/api/v1/devices/segments/", READERS, 200),
    ("get", "/api/v1/devices/flows/", READERS, 200),
    ("post", "/api/v1/devices/flows/", NETWORK, 400),
    ("post", "/api/v1/devices/flows/import/", NETWORK, 400),
    ("post", "/api/v1/devices/flows/observed/import/", NETWORK, 400),
    ("get", "/api/v1/devices/controls/", READERS, 200),
    ("get", "/api/v1/devices/mds2/", READERS, 200),
    ("post", "/api/v1/devices/mds2/import/", MANAGERS, 400),
]


def _call(client, method, path):
    if method == "post" and path.startswith("/api/") and "mds2" not in path:
        return client.post(path, {}, content_type="application/json")
    return getattr(client, method)(path)


@pytest.mark.parametrize("role", ROLES)
def test_device_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in WEB_ROUTES + API_ROUTES:
        assert allowed <= EVERYONE
        expected = status if role in allowed else 403
        response = _call(client, method, path)
        if response.status_code != expected:
            failures.append(f"{method.upper()} {path}: {response.status_code}, expected {expected}")
    assert not failures, f"{role}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in WEB_ROUTES])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in API_ROUTES])
def test_anonymous_api_calls_are_refused(client, method, path):
    assert _call(client, method, path).status_code in (401, 403)
