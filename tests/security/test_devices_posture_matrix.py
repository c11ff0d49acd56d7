"""The authorization matrix of the posture pages and API: every route under every
role, and anonymously. Device readers (IT, security, biomedical engineering, audit,
compliance) see posture; the device managers (IT, security, biomedical engineering)
import exports and report devices lost or stolen; security officers link OAuth clients
to devices (ADR 1018); nobody else."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES

pytestmark = pytest.mark.django_db

EVERYONE = set(ROLES)
READERS = {"auditor", "biomedical_engineer", "compliance_officer", "it_admin", "security_officer"}
MANAGERS = {"biomedical_engineer", "it_admin", "security_officer"}
OFFICERS = {"security_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). Bodies are empty: an
# allowed role gets its errors back (400) or 404 for the missing device.
ROUTES = [
    ("get", "/devices/posture/", READERS, 200),
    ("post", "/devices/posture/import/", MANAGERS, 400),
    ("get", f"/devices/posture/{MISSING}/", READERS, 404),
    ("get", f"/devices/posture/{MISSING}/report-lost/", MANAGERS, 404),
    ("post", f"/devices/posture/{MISSING}/report-lost/", MANAGERS, 404),
    ("post", "/api/v1/devices/posture/imports/", MANAGERS, 400),
    ("get", f"/api/v1/devices/posture/devices/{MISSING}/", READERS, 404),
    ("post", f"/api/v1/devices/posture/devices/{MISSING}/report-lost/", MANAGERS, 404),
    # Wipe confirmation (ADR 1017).
    ("get", f"/devices/posture/wipes/{MISSING}/confirm/", MANAGERS, 404),
    ("post", f"/devices/posture/wipes/{MISSING}/confirm/", MANAGERS, 404),
    ("get", "/api/v1/devices/posture/wipes/", READERS, 200),
    ("post", f"/api/v1/devices/posture/wipes/{MISSING}/confirm/", MANAGERS, 404),
    # OAuth clients on a device (ADR 1018): security officers link and unlink.
    ("get", f"/devices/posture/{MISSING}/clients/link/", OFFICERS, 404),
    ("post", f"/devices/posture/{MISSING}/clients/link/", OFFICERS, 404),
    ("post", f"/devices/posture/{MISSING}/clients/unlink/", OFFICERS, 404),
    ("get", "/api/v1/devices/posture/client-links/", READERS, 200),
    ("post", "/api/v1/devices/posture/client-links/link/", OFFICERS, 400),
    ("post", "/api/v1/devices/posture/client-links/unlink/", OFFICERS, 400),
]


@pytest.mark.parametrize("role", ROLES)
def test_posture_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        assert allowed <= EVERYONE
        expected = status if role in allowed else 403
        if path.startswith("/api/"):
            response = getattr(client, method)(path, {}, content_type="application/json")
        else:
            response = getattr(client, method)(path)
        if response.status_code != expected:
            failures.append(f"{method.upper()} {path}: {response.status_code}, expected {expected}")
    assert not failures, f"{role}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES])
def test_anonymous_visitors_are_refused(client, method, path):
    if path.startswith("/api/"):
        response = getattr(client, method)(path, {}, content_type="application/json")
        assert response.status_code == 401
    else:
        response = getattr(client, method)(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
