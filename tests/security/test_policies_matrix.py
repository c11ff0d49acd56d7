"""The authorization matrix of the policy library: every route under every
role, and anonymously. Every signed-in person reads the published library,
acknowledges and sees their own acknowledgements; the compliance and privacy
officers keep the library (policy:document:manage) and approve revisions
(policy:document:approve); nobody else sees drafts, campaigns or the
lifecycle actions."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES as IDENTITY_ROLES
from tests.security.test_url_permissions import declared_permission, walk

pytestmark = pytest.mark.django_db

# The compliance officer (issue 18) joins the identity matrix's roles here if it does not list it yet.
ROLES = [*IDENTITY_ROLES, *(["compliance_officer"] if "compliance_officer" not in IDENTITY_ROLES else [])]
EVERYONE = set(ROLES)
KEEPERS = {"compliance_officer", "privacy_officer"}
APPROVERS = {"compliance_officer", "privacy_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). POSTs carry no
# data: an allowed role gets the form back with its errors (400), or 404.
ROUTES = [
    ("get", "/policies/", EVERYONE, 200),
    ("get", "/policies/mine/", EVERYONE, 200),
    ("get", "/policies/acknowledge/", EVERYONE, 302),  # nothing to acknowledge: on to the dashboard
    ("post", "/policies/acknowledge/later/", EVERYONE, 302),
    ("get", f"/policies/acknowledge/{MISSING}/", EVERYONE, 404),
    ("post", f"/policies/acknowledge/{MISSING}/", EVERYONE, 404),
    ("get", f"/policies/{MISSING}/", EVERYONE, 404),
    ("get", f"/policies/revisions/{MISSING}/", EVERYONE, 404),
    ("get", f"/policies/revisions/{MISSING}/pdf/", EVERYONE, 404),
    ("get", "/policies/new/", KEEPERS, 200),
    ("post", "/policies/new/", KEEPERS, 400),
    ("get", f"/policies/{MISSING}/edit/", KEEPERS, 404),
    ("post", f"/policies/{MISSING}/edit/", KEEPERS, 404),
    ("post", f"/policies/{MISSING}/review/", KEEPERS, 404),
    ("post", f"/policies/{MISSING}/retire/", KEEPERS, 404),
    ("get", f"/policies/{MISSING}/revisions/new/", KEEPERS, 404),
    ("post", f"/policies/{MISSING}/revisions/new/", KEEPERS, 404),
    ("get", f"/policies/{MISSING}/campaigns/new/", KEEPERS, 404),
    ("post", f"/policies/{MISSING}/campaigns/new/", KEEPERS, 404),
    ("get", "/policies/campaigns/", KEEPERS, 200),
    ("get", f"/policies/campaigns/{MISSING}/", KEEPERS, 404),
    ("get", f"/policies/revisions/{MISSING}/edit/", KEEPERS, 404),
    ("post", f"/policies/revisions/{MISSING}/edit/", KEEPERS, 404),
    ("post", f"/policies/revisions/{MISSING}/submit/", KEEPERS, 404),
    ("post", f"/policies/revisions/{MISSING}/publish/", KEEPERS, 404),
    ("post", f"/policies/revisions/{MISSING}/approve/", APPROVERS, 404),
    ("post", f"/policies/revisions/{MISSING}/reject/", APPROVERS, 404),
]


@pytest.mark.parametrize("role", ROLES)
def test_policy_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        assert allowed <= EVERYONE
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


MATRIX = {
    "policies:library": "authenticated",
    "policies:mine": "authenticated",
    "policies:interstitial": "authenticated",
    "policies:interstitial_later": "authenticated",
    "policies:acknowledge": "authenticated",
    "policies:document": "authenticated",
    "policies:revision": "authenticated",
    "policies:revision_pdf": "authenticated",
    "policies:document_new": "policy:document:manage",
    "policies:document_edit": "policy:document:manage",
    "policies:document_review": "policy:document:manage",
    "policies:document_retire": "policy:document:manage",
    "policies:revision_new": "policy:document:manage",
    "policies:revision_edit": "policy:document:manage",
    "policies:revision_submit": "policy:document:manage",
    "policies:revision_publish": "policy:document:manage",
    "policies:campaign_new": "policy:document:manage",
    "policies:campaigns": "policy:document:manage",
    "policies:campaign": "policy:document:manage",
    "policies:revision_approve": "policy:document:approve",
    "policies:revision_reject": "policy:document:approve",
}


def test_every_policy_route_is_in_this_matrix_with_its_permission():
    from django.urls import get_resolver

    declared = {
        name: declared_permission(cb) for _, name, cb in walk(get_resolver()) if name.startswith("policies:")
    }
    assert declared == MATRIX
