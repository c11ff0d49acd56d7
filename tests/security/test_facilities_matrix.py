"""The authorization matrix of the facilities app: every route (web and API)
under every role, and anonymously. Areas: the security officer manages; the
security desk, auditor and compliance officer read. The visitor desk is the
security desk's; flagged visits are for the privacy and security officers.
Custody and disposal: IT administrators and biomedical engineers manage;
security, privacy, auditors read. Workstations in secure areas and their chart
reads without a badge-in: alert readers see them, the security officer places."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES

pytestmark = pytest.mark.django_db

EVERYONE = set(ROLES)
AREA_READ = {"auditor", "compliance_officer", "security_desk", "security_officer"}
AREA_MANAGE = {"security_officer"}
VISITOR_MANAGE = {"security_desk"}
VISITOR_READ = {"privacy_officer", "security_officer"}
CUSTODY_READ = {"auditor", "biomedical_engineer", "it_admin", "privacy_officer", "security_officer"}
CUSTODY_MANAGE = {"biomedical_engineer", "it_admin"}
# Who opened charts where without a badge-in: those who read the rule's alerts.
ALERT_READ = {"auditor", "privacy_officer", "security_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). POSTs carry no data.
ROUTES = [
    ("get", "/facilities/", AREA_READ, 200),
    ("get", "/facilities/areas/new/", AREA_MANAGE, 200),
    ("post", "/facilities/areas/new/", AREA_MANAGE, 400),
    ("get", f"/facilities/areas/{MISSING}/", AREA_READ, 404),
    ("post", f"/facilities/areas/{MISSING}/authorise/", AREA_MANAGE, 404),
    ("get", f"/facilities/people/{MISSING}/events/", AREA_READ, 200),
    ("get", "/facilities/import/", AREA_MANAGE, 200),
    ("post", "/facilities/import/", AREA_MANAGE, 400),
    ("get", "/facilities/visitors/", VISITOR_MANAGE, 200),
    ("post", "/facilities/visitors/", VISITOR_MANAGE, 400),
    ("get", "/facilities/visitors/flagged/", VISITOR_READ, 200),
    ("get", f"/facilities/visitors/{MISSING}/badge/", VISITOR_MANAGE, 404),
    ("post", f"/facilities/visitors/{MISSING}/sign-out/", VISITOR_MANAGE, 404),
    ("get", "/facilities/custody/", CUSTODY_READ, 200),
    ("post", "/facilities/custody/new/", CUSTODY_MANAGE, 400),
    ("get", "/facilities/disposals/", CUSTODY_READ, 200),
    ("get", "/facilities/certificates/new/", CUSTODY_MANAGE, 200),
    ("post", "/facilities/certificates/new/", CUSTODY_MANAGE, 400),
    ("get", f"/facilities/certificates/{MISSING}/", CUSTODY_READ, 404),
    ("post", f"/facilities/certificates/{MISSING}/validate/", CUSTODY_MANAGE, 404),
    ("post", f"/facilities/certificates/{MISSING}/dispose/", CUSTODY_MANAGE, 404),
    ("get", f"/facilities/certificates/{MISSING}/pdf/", CUSTODY_READ, 404),
    ("get", "/facilities/pickups/none/", CUSTODY_READ, 404),
    ("get", "/facilities/workstations/", ALERT_READ, 200),
    ("post", "/facilities/workstations/place/", AREA_MANAGE, 400),
    ("get", "/api/v1/facilities/areas/", AREA_READ, 200),
    ("get", "/api/v1/facilities/events/?area=1", AREA_READ, 200),
    ("post", "/api/v1/facilities/events/import/", AREA_MANAGE, 400),
    ("get", "/api/v1/facilities/visitors/", VISITOR_MANAGE, 200),
    ("post", "/api/v1/facilities/visitors/sign-in/", VISITOR_MANAGE, 400),
    ("post", "/api/v1/facilities/visitors/patient-lookup/", VISITOR_MANAGE, 400),
    # POST only: a GET that could carry names in its query string is not offered.
    ("get", "/api/v1/facilities/visitors/patient-lookup/", VISITOR_MANAGE, 405),
    ("get", "/api/v1/facilities/custody/", CUSTODY_READ, 200),
    ("get", "/api/v1/facilities/certificates/", CUSTODY_READ, 200),
    ("post", "/api/v1/facilities/certificates/new/", CUSTODY_MANAGE, 400),
    ("post", f"/api/v1/facilities/certificates/{MISSING}/validate/", CUSTODY_MANAGE, 404),
    ("post", f"/api/v1/facilities/certificates/{MISSING}/dispose/", CUSTODY_MANAGE, 404),
    ("post", "/api/v1/facilities/disposals/bulk/", CUSTODY_MANAGE, 400),
]


def _call(client, method, path):
    if method == "post" and path.startswith("/api/"):
        return client.post(path, {}, content_type="application/json")
    return getattr(client, method)(path)


@pytest.mark.parametrize("role", ROLES)
def test_facilities_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        assert allowed <= EVERYONE
        expected = status if role in allowed else 403
        response = _call(client, method, path)
        if response.status_code != expected:
            failures.append(f"{method.upper()} {path}: {response.status_code}, expected {expected}")
    assert not failures, f"{role}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES if not p.startswith("/api/")])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES if p.startswith("/api/")])
def test_anonymous_api_calls_are_refused(client, method, path):
    assert _call(client, method, path).status_code in (401, 403)
