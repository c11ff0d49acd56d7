"""The authorization matrix of assessment campaigns and the risk register:
every route under every role, and anonymously. The security and privacy
officers, the auditor and the compliance officer read them; only the
compliance officer runs campaigns (answers, evidence, findings); the
security and compliance officers keep the risk register. Signing off is the
named reviewer's (tests/assessments/test_campaigns_web.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES
from tests.security.test_url_permissions import declared_permission, walk

pytestmark = pytest.mark.django_db

ALL_ROLES = ROLES
READERS = {"security_officer", "privacy_officer", "auditor", "compliance_officer"}
CAMPAIGNERS = {"compliance_officer"}
RISK_KEEPERS = {"security_officer", "compliance_officer"}
MISSING = 999_999
NO_UUID = "00000000-0000-4000-8000-000000000000"
A = "/compliance/assessments/"
R = "/compliance/risks/"

# (method, path, roles allowed, status for an allowed role). POSTs carry no
# data: an allowed role gets the form back with its errors (400), or 404.
ROUTES = [
    ("get", A, READERS, 200),
    ("get", A + "?status=bogus", READERS, 400),
    ("get", A + "new/", CAMPAIGNERS, 200),
    ("post", A + "new/", CAMPAIGNERS, 400),
    ("get", f"{A}{MISSING}/", READERS, 404),
    ("post", f"{A}{MISSING}/submit/", CAMPAIGNERS, 404),
    ("post", f"{A}{MISSING}/sign-off/", READERS, 404),
    ("post", f"{A}{MISSING}/return/", READERS, 404),
    ("get", f"{A}{MISSING}/compare/", READERS, 404),
    ("get", f"{A}questions/{MISSING}/", READERS, 404),
    ("post", f"{A}questions/{MISSING}/answer/", CAMPAIGNERS, 404),
    ("post", f"{A}questions/{MISSING}/evidence/", CAMPAIGNERS, 404),
    ("post", f"{A}questions/{MISSING}/findings/", CAMPAIGNERS, 404),
    ("get", f"{A}evidence/{NO_UUID}/", READERS, 404),
    ("get", A + "findings/", READERS, 200),
    ("get", A + "findings/?status=bogus", READERS, 400),
    ("get", f"{A}findings/{MISSING}/", READERS, 404),
    ("post", f"{A}findings/{MISSING}/edit/", CAMPAIGNERS, 404),
    ("get", R, READERS, 200),
    ("get", R + "?level=bogus", READERS, 400),
    ("get", R + "new/", RISK_KEEPERS, 200),
    ("post", R + "new/", RISK_KEEPERS, 400),
    ("get", f"{R}{MISSING}/", READERS, 404),
    ("get", f"{R}{MISSING}/edit/", RISK_KEEPERS, 404),
    ("post", f"{R}{MISSING}/edit/", RISK_KEEPERS, 404),
    ("post", f"{R}{MISSING}/review/", RISK_KEEPERS, 404),
]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_campaign_and_risk_routes_under_each_role(role):
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


def _routes():
    from django.urls import get_resolver

    return {name: callback for _, name, callback in walk(get_resolver())}


DECLARED = {
    "campaigns:list": "assessment:result:read",
    "campaigns:create": "assessment:campaign:manage",
    "campaigns:detail": "assessment:result:read",
    "campaigns:submit": "assessment:campaign:manage",
    "campaigns:sign_off": "assessment:result:read",
    "campaigns:return": "assessment:result:read",
    "campaigns:compare": "assessment:result:read",
    "campaigns:question": "assessment:result:read",
    "campaigns:answer": "assessment:campaign:manage",
    "campaigns:evidence_upload": "assessment:campaign:manage",
    "campaigns:finding_create": "assessment:campaign:manage",
    "campaigns:evidence": "assessment:result:read",
    "campaigns:findings": "assessment:result:read",
    "campaigns:finding": "assessment:result:read",
    "campaigns:finding_update": "assessment:campaign:manage",
    "risks:list": "assessment:result:read",
    "risks:create": "assessment:risk:manage",
    "risks:detail": "assessment:result:read",
    "risks:edit": "assessment:risk:manage",
    "risks:review": "assessment:risk:manage",
}


def test_every_campaign_and_risk_route_is_in_this_matrix_with_its_permission():
    routes = {
        name: callback for name, callback in _routes().items() if name.startswith(("campaigns:", "risks:"))
    }
    assert set(routes) == set(DECLARED), "add the new route to ROUTES and DECLARED"
    assert {name: declared_permission(callback) for name, callback in routes.items()} == DECLARED


# The evidence route of the campaign API under every role (a session; tokens
# are in tests/api/test_token_scope_matrix.py): readers list, only the
# compliance officer uploads; a missing question is 404 for those allowed.
API_ROUTES = [
    ("get", f"/api/v1/assessments/questions/{MISSING}/evidence/", READERS, 404),
    ("post", f"/api/v1/assessments/questions/{MISSING}/evidence/", CAMPAIGNERS, 404),
]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_evidence_api_under_each_role(role):
    client = Client()
    sign_in(client, UserFactory(roles=[role], totp_secret=True))
    for method, path, allowed, status in API_ROUTES:
        response = getattr(client, method)(path)
        assert response.status_code == (status if role in allowed else 403), f"{method} {path}"
