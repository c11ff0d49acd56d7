"""The authorization matrix of the PHI discovery pages and API: every route
under every role, and anonymously. From the role descriptions: the security
and privacy officers scan shares and work the findings (they name how many
of our patients a file holds); IT keeps the register but sees no findings;
clinical and other staff see none of it."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import EVERYONE, ROLES
from tests.security.test_url_permissions import declared_permission, walk

pytestmark = pytest.mark.django_db

OFFICERS = {"security_officer", "privacy_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). Missing targets give 404
# (or the form's 400) to those allowed; everyone else gets 403 first.
ROUTES = [
    ("get", "/assets/discovery/", OFFICERS, 200),
    ("post", "/assets/discovery/scan/", OFFICERS, 400),
    ("get", f"/assets/discovery/findings/{MISSING}/", OFFICERS, 404),
    ("post", f"/assets/discovery/findings/{MISSING}/triage/", OFFICERS, 404),
    ("get", f"/assets/discovery/scans/{MISSING}/", OFFICERS, 404),
    ("get", "/api/v1/discovery/findings/", OFFICERS, 200),
    ("get", f"/api/v1/discovery/findings/{MISSING}/", OFFICERS, 404),
    ("post", f"/api/v1/discovery/findings/{MISSING}/triage/", OFFICERS, 404),
    ("post", f"/api/v1/discovery/shares/{MISSING}/scan/", OFFICERS, 400),
]


@pytest.mark.parametrize("role", ROLES)
def test_discovery_routes_under_each_role(role):
    client = Client()
    sign_in(client, UserFactory(roles=[role], totp_secret=True))
    failures = []
    for method, path, allowed, status in ROUTES:
        assert allowed <= EVERYONE
        expected = status if role in allowed else 403
        if path.startswith("/api/") and method == "post":
            response = client.post(path, "{}", content_type="application/json")
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
def test_anonymous_api_callers_are_refused(client, method, path):
    response = (
        client.post(path, "{}", content_type="application/json") if method == "post" else client.get(path)
    )
    assert response.status_code in (401, 403)


def test_every_discovery_route_is_in_this_matrix():
    names = {
        name
        for _, name, _ in walk_routes()
        if name.startswith(("assets:finding", "assets:scan", "discovery_api:"))
    }
    assert names == {
        "assets:findings",
        "assets:finding",
        "assets:finding_triage",
        "assets:scan",
        "assets:scan_share",
        "discovery_api:findings",
        "discovery_api:finding",
        "discovery_api:finding_triage",
        "discovery_api:share_scan",
    }


def walk_routes():
    from django.urls import get_resolver

    return list(walk(get_resolver()))


def test_discovery_routes_declare_what_the_matrix_expects():
    declared = {name: declared_permission(callback) for _, name, callback in walk_routes()}
    assert declared["assets:findings"] == "assets:finding:read"
    assert declared["assets:finding_triage"] == "assets:finding:triage"
    assert declared["assets:scan_share"] == "assets:discovery:run"
    assert declared["discovery_api:finding_triage"] == "assets:finding:triage"
    assert declared["discovery_api:share_scan"] == "assets:discovery:run"


def test_wrong_methods_are_refused(signed_in):
    client, _ = signed_in("privacy_officer")
    assert client.post("/assets/discovery/").status_code == 405
    assert client.get("/assets/discovery/scan/").status_code == 405
    assert client.get(f"/assets/discovery/findings/{MISSING}/triage/").status_code == 405
