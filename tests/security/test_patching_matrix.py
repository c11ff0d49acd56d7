"""The authorization matrix of vulnerabilities and patching (issue 17):
every route under every role, and anonymously. The security officer holds
everything; IT administrators and biomedical engineers import and triage;
the compliance officer reads and approves exceptions (and the deadline
table); the auditor reads; nobody else sees anything."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES

pytestmark = pytest.mark.django_db

EVERYONE = set(ROLES)
READERS = {"security_officer", "it_admin", "biomedical_engineer", "compliance_officer", "auditor"}
IMPORTERS = {"security_officer", "it_admin", "biomedical_engineer"}
TRIAGERS = IMPORTERS
APPROVERS = {"security_officer", "compliance_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). POSTs carry no
# data: an allowed role gets the form back with its errors (400), or 404.
ROUTES = [
    ("get", "/vulns/", READERS, 200),
    ("get", "/vulns/findings/", READERS, 200),
    ("get", f"/vulns/findings/{MISSING}/", READERS, 404),
    ("post", f"/vulns/findings/{MISSING}/triage/", TRIAGERS, 404),
    ("post", f"/vulns/findings/{MISSING}/exception/", TRIAGERS, 404),
    ("get", "/vulns/exceptions/", READERS, 200),
    ("post", f"/vulns/exceptions/{MISSING}/approve/", APPROVERS, 404),
    ("post", f"/vulns/exceptions/{MISSING}/reject/", APPROVERS, 404),
    ("get", "/vulns/import/", IMPORTERS, 200),
    ("post", "/vulns/import/", IMPORTERS, 400),
    ("get", "/vulns/feeds/", IMPORTERS, 200),
    ("post", "/vulns/feeds/", IMPORTERS, 400),
    ("get", "/vulns/policy/", READERS, 200),
    ("post", "/vulns/policy/", APPROVERS, 400),
    ("get", "/vulns/plans/", READERS, 200),
    ("get", "/vulns/plans/new/", TRIAGERS, 200),
    ("post", "/vulns/plans/new/", TRIAGERS, 400),
    ("get", f"/vulns/plans/{MISSING}/", READERS, 404),
    ("post", f"/vulns/plans/{MISSING}/update/", TRIAGERS, 404),
    ("get", "/vulns/controls/", READERS, 200),
    ("get", "/vulns/vex/cyclonedx/", READERS, 200),
    ("get", "/vulns/vex/openvex/", READERS, 200),
    ("get", "/vulns/vex/spdx/", READERS, 404),
    ("get", "/api/v1/vulns/findings/", READERS, 200),
    ("get", f"/api/v1/vulns/findings/{MISSING}/", READERS, 404),
    ("put", f"/api/v1/vulns/findings/{MISSING}/analysis/", TRIAGERS, 404),
    ("post", "/api/v1/vulns/inventories/", IMPORTERS, 400),
    ("get", "/api/v1/vulns/exceptions/", READERS, 200),
    ("post", f"/api/v1/vulns/findings/{MISSING}/exceptions/", TRIAGERS, 404),
    ("post", f"/api/v1/vulns/exceptions/{MISSING}/approve/", APPROVERS, 404),
    ("post", f"/api/v1/vulns/exceptions/{MISSING}/reject/", APPROVERS, 404),
    # A file upload only: the JSON body of this test is refused (415) once the role may import.
    ("post", "/api/v1/vulns/feeds/", IMPORTERS, 415),
    ("get", "/api/v1/vulns/vex/cyclonedx/", READERS, 200),
    ("get", "/api/v1/vulns/vex/openvex/", READERS, 200),
    ("get", "/api/v1/vulns/vex/spdx/", READERS, 404),
    ("get", "/api/v1/vulns/policy/", READERS, 200),
    ("get", "/api/v1/vulns/plans/", READERS, 200),
    ("post", "/api/v1/vulns/plans/", TRIAGERS, 400),
    ("get", f"/api/v1/vulns/plans/{MISSING}/", READERS, 404),
    ("post", f"/api/v1/vulns/plans/{MISSING}/update/", TRIAGERS, 404),
]


@pytest.mark.parametrize("role", ROLES)
def test_patching_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        assert allowed <= EVERYONE
        expected = status if role in allowed else 403
        if path.startswith("/api/") and method != "get":
            response = getattr(client, method)(path, "{}", content_type="application/json")
        else:
            response = getattr(client, method)(path)
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
    response = getattr(client, method)(path, *(("{}", "application/json") if method != "get" else ()))
    assert response.status_code in {401, 403}
