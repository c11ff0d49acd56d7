"""The authorization matrix of the compliance pages (issue 18): every route
under every role, and anonymously. The security, privacy and compliance
officers and the auditor read the results; the compliance and security
officers run the tests, ask for exceptions and approve them (a second
person: the service refuses the asker); nobody else sees any of it."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES
from tests.security.test_url_permissions import declared_permission, walk

pytestmark = pytest.mark.django_db

ALL_ROLES = sorted({*ROLES, "compliance_officer"})
READERS = {"security_officer", "privacy_officer", "auditor", "compliance_officer"}
RUNNERS = {"security_officer", "compliance_officer"}
APPROVERS = {"security_officer", "compliance_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). POSTs carry no
# data: an allowed role gets the form back with its errors (400), or 404.
ROUTES = [
    ("get", "/compliance/", READERS, 200),
    ("post", "/compliance/run/", RUNNERS, 302),
    ("get", "/compliance/runs/", READERS, 200),
    ("get", f"/compliance/runs/{MISSING}/", READERS, 404),
    ("get", f"/compliance/runs/{MISSING}/snapshot.json", READERS, 404),
    ("get", f"/compliance/runs/{MISSING}/controls/identity.mfa/", READERS, 404),
    ("get", "/compliance/exceptions/", READERS, 200),
    ("get", "/compliance/exceptions/?state=nonsense", READERS, 400),
    ("get", "/compliance/exceptions/new/", RUNNERS, 200),
    ("post", "/compliance/exceptions/new/", RUNNERS, 400),
    ("post", f"/compliance/exceptions/{MISSING}/approve/", APPROVERS, 404),
    ("post", f"/compliance/exceptions/{MISSING}/revoke/", APPROVERS, 404),
    ("get", "/compliance/frameworks/hicp/", READERS, 200),
    ("get", "/compliance/frameworks/nonsense/", READERS, 404),
    ("get", "/compliance/frameworks/hicp/clauses/1/", READERS, 200),
    ("get", "/compliance/frameworks/hicp/clauses/nonsense/", READERS, 404),
    ("get", "/compliance/frameworks/iso27001-2005/report.pdf", READERS, 200),
    ("get", "/compliance/frameworks/hicp/clauses.csv", READERS, 200),
    ("get", "/compliance/frameworks/hicp/entries.csv", READERS, 200),
    ("get", "/compliance/frameworks/hicp/other.csv", READERS, 404),
    ("get", "/compliance/frameworks/csf2/oscal.json", READERS, 200),
]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_compliance_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        assert allowed <= set(ALL_ROLES)
        expected = status if role in allowed else 403
        response = getattr(client, method)(path)
        if response.status_code != expected:
            failures.append(f"{method.upper()} {path}: {response.status_code}, expected {expected}")
    assert not failures, f"{role}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


DECLARED = {
    "assessments:dashboard": "assessment:result:read",
    "assessments:run_all": "assessment:control:run",
    "assessments:runs": "assessment:result:read",
    "assessments:run": "assessment:result:read",
    "assessments:run_snapshot": "assessment:result:read",
    "assessments:result": "assessment:result:read",
    "assessments:exceptions": "assessment:result:read",
    "assessments:exception_request": "assessment:control:run",
    "assessments:exception_approve": "assessment:exception:approve",
    "assessments:exception_revoke": "assessment:exception:approve",
    "assessments:framework": "assessment:result:read",
    "assessments:clause": "assessment:result:read",
    "assessments:report_pdf": "assessment:result:read",
    "assessments:report_csv": "assessment:result:read",
    "assessments:report_oscal": "assessment:result:read",
}


def test_every_compliance_route_is_in_this_matrix_and_declares_its_permission():
    """Campaign and risk routes keep their own matrix."""
    from django.urls import get_resolver

    declared = {name: declared_permission(callback) for _, name, callback in walk(get_resolver())}
    mine = {
        name
        for name in declared
        if name.startswith("assessments:")
        and not name.startswith(("assessments:campaign", "assessments:risk"))
    }
    assert mine == set(DECLARED)
    assert {name: declared[name] for name in mine} == DECLARED
