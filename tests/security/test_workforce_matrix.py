"""The authorization matrix of the workforce pages: every route under every
one of the twelve roles, and anonymously. Written out by hand from the role
descriptions: HR keeps workforce records, training and agreements; everyone
has their own training page."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import EVERYONE, MISSING, ROLES

pytestmark = pytest.mark.django_db

HR = {"hr_officer"}
# workforce:person:read without managing: the compliance officer sees training and reviews as evidence.
READERS = HR | {"compliance_officer"}
AUDIT_REPORTERS = {"security_officer", "privacy_officer", "auditor"}

# (method, path, roles allowed, status for an allowed role). Empty posts and
# missing targets change nothing: a form error (400) or 404 for those allowed.
ROUTES = [
    ("get", "/workforce/", READERS, 200),
    ("get", "/workforce/me/", EVERYONE, 200),
    ("get", "/workforce/people/new/", HR, 200),
    ("get", f"/workforce/people/{MISSING}/", READERS, 404),
    ("post", f"/workforce/people/{MISSING}/terminate/", HR, 404),
    ("get", "/workforce/training/", READERS, 200),
    ("get", "/workforce/terminations/", READERS, 200),
    ("get", "/workforce/reviews/", READERS, 200),
    ("get", f"/workforce/reviews/{MISSING}/report/", AUDIT_REPORTERS, 404),
    ("get", "/workforce/import/", HR, 200),
    ("get", "/workforce/setup/", READERS, 200),
    ("post", "/workforce/setup/positions/", HR, 400),
    ("post", "/workforce/setup/courses/", HR, 400),
    ("post", "/workforce/setup/agreements/", HR, 400),
]


@pytest.mark.parametrize("role", ROLES)
def test_workforce_routes_under_each_role(role):
    client = Client()
    sign_in(client, UserFactory(roles=[role], totp_secret=True))
    failures = []
    for method, path, allowed, status in ROUTES:
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


def test_setup_forms_refuse_get(signed_in):
    client, _ = signed_in("hr_officer")
    for path in ("positions/", "courses/", "agreements/"):
        assert client.get(f"/workforce/setup/{path}").status_code == 405
