"""The authorization matrix of the identity pages: every route under every one
of the twelve roles, and anonymously. The expectations are written out by
hand from the role descriptions (not derived from the catalog), so a role
widened or narrowed in roles.py shows up here."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROLES = [
    "physician",
    "nurse",
    "registration_clerk",
    "billing_clerk",
    "lab_technician",
    "pharmacist",
    "hr_officer",
    "it_admin",
    "security_officer",
    "privacy_officer",
    "auditor",
    "compliance_officer",
    "biomedical_engineer",
    "security_desk",
    "vendor",
]
EVERYONE = set(ROLES)
USER_VIEWERS = {
    "hr_officer",
    "it_admin",
    "security_officer",
    "privacy_officer",
    "auditor",
    "compliance_officer",
}
ACCOUNT_MANAGERS = {"it_admin"}
# HR requests the roles of a person's new position (workforce, docs/decisions/0401).
ROLE_REQUESTERS = {"it_admin", "hr_officer"}
SESSION_REVOKERS = {"it_admin", "security_officer"}
APPROVERS = {"security_officer", "privacy_officer"}
SECURITY_CONFIGURERS = {"security_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). Targets that do not
# exist give 404 to those allowed, so nothing is changed by the matrix itself;
# everyone else gets 403 before the object is even looked up.
ROUTES = [
    ("get", "/", EVERYONE, 200),
    ("get", "/identity/sessions/", EVERYONE, 200),
    ("post", f"/identity/sessions/{uuid.UUID(int=1)}/end/", EVERYONE, 404),
    ("get", "/identity/users/", USER_VIEWERS, 200),
    ("get", "/identity/users/{other}/", USER_VIEWERS, 200),
    ("get", f"/identity/users/{MISSING}/", USER_VIEWERS, 404),
    ("get", "/identity/users/new/", ACCOUNT_MANAGERS, 200),
    ("post", f"/identity/users/{MISSING}/roles/", ROLE_REQUESTERS, 404),
    ("post", f"/identity/users/{MISSING}/roles/{MISSING}/revoke/", ROLE_REQUESTERS, 404),
    ("post", f"/identity/users/{MISSING}/sessions/end/", SESSION_REVOKERS, 404),
    ("post", f"/identity/users/{MISSING}/lock/", ACCOUNT_MANAGERS, 404),
    ("get", "/identity/approvals/", APPROVERS, 200),
    ("post", f"/identity/approvals/{MISSING}/approve/", APPROVERS, 404),
    ("post", f"/identity/approvals/{MISSING}/reject/", APPROVERS, 404),
    ("get", "/identity/zones/", ACCOUNT_MANAGERS, 200),
    ("get", "/identity/session-policy/", SECURITY_CONFIGURERS, 200),
    ("get", "/accounts/enrol/", EVERYONE, 200),
    ("get", "/accounts/2fa/", EVERYONE, 200),
]


@pytest.fixture
def other():
    return UserFactory(roles=["nurse"])


@pytest.mark.parametrize("role", ROLES)
def test_identity_routes_under_each_role(role, other):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        url = path.format(other=other.pk)
        expected = status if role in allowed else 403
        response = getattr(client, method)(url)
        if response.status_code != expected:
            failures.append(f"{method.upper()} {url}: {response.status_code}, expected {expected}")
    assert not failures, f"{role}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path, other):
    response = getattr(client, method)(path.format(other=other.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_wrong_methods_are_refused(signed_in):
    client, _ = signed_in("it_admin")
    assert client.post("/identity/users/").status_code == 405
    assert client.get(f"/identity/users/{MISSING}/lock/").status_code == 405
    assert client.delete("/identity/sessions/").status_code == 405
