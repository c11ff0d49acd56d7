"""The authorization matrix of the asset register and export manifests: every
route under every role, and anonymously. From the role descriptions: IT keeps
the register with the security and privacy officers; the auditor reads it;
only the two officers see export manifests (they name patients); clinical and
other staff see none of it."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import EVERYONE, ROLES
from tests.security.test_url_permissions import declared_permission, walk

pytestmark = pytest.mark.django_db

READERS = {
    "it_admin",
    "security_officer",
    "privacy_officer",
    "auditor",
    "compliance_officer",
    "biomedical_engineer",
}
KEEPERS = {"it_admin", "security_officer", "privacy_officer"}
MANIFEST_READERS = {"security_officer", "privacy_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). POSTs carry no
# data: an allowed role gets the form back with its errors (400), or 404.
ROUTES = [
    ("get", "/assets/", READERS, 200),
    ("get", f"/assets/{MISSING}/", READERS, 404),
    ("get", "/assets/new/", KEEPERS, 200),
    ("post", "/assets/new/", KEEPERS, 400),
    ("get", "/assets/import/", KEEPERS, 200),
    ("post", "/assets/import/", KEEPERS, 400),
    ("get", f"/assets/{MISSING}/edit/", KEEPERS, 404),
    ("post", f"/assets/{MISSING}/edit/", KEEPERS, 404),
    ("post", f"/assets/{MISSING}/review/", KEEPERS, 404),
    ("get", "/assets/manifests/", MANIFEST_READERS, 200),
    ("get", "/assets/manifests/?sha256=" + "0" * 64, MANIFEST_READERS, 200),
    ("get", "/assets/manifests/?sha256=zz", MANIFEST_READERS, 400),
]


@pytest.mark.parametrize("role", ROLES)
def test_asset_routes_under_each_role(role):
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


def walk_routes():
    from django.urls import get_resolver

    return list(walk(get_resolver()))


MATRIX_NAMES = {
    "assets:list",
    "assets:detail",
    "assets:create",
    "assets:import",
    "assets:edit",
    "assets:review",
    "assets:manifests",
}


def test_every_asset_route_of_this_branch_is_in_this_matrix():
    """A new register or manifest route without a row here fails (the PHI
    scanner's routes keep their own matrix)."""
    names = {name for _, name, _ in walk_routes() if name.startswith("assets:")}
    assert names >= MATRIX_NAMES
    unlisted = {
        name for name in names - MATRIX_NAMES if not name.startswith(("assets:finding", "assets:scan"))
    }
    assert not unlisted


def test_asset_routes_declare_what_the_matrix_expects():
    declared = {name: declared_permission(callback) for _, name, callback in walk_routes()}
    assert declared["assets:list"] == "assets:asset:read"
    assert declared["assets:detail"] == "assets:asset:read"
    for name in ("assets:create", "assets:import", "assets:edit", "assets:review"):
        assert declared[name] == "assets:asset:manage"
    assert declared["assets:manifests"] == "assets:manifest:read"
