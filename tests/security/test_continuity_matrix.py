"""The authorization matrix of the continuity app: every route (web and API)
under every role, and anonymously. The IT administrator, security and
compliance officers and the auditor read the continuity state; the IT
administrator and the security officer declare, confirm and end downtime;
the IT administrator alone runs a periodic job now (ADR 1505)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import ROLES
from tests.security.test_url_permissions import declared_permission, walk

pytestmark = pytest.mark.django_db

EVERYONE = set(ROLES)
READERS = {"it_admin", "security_officer", "auditor", "compliance_officer"}
DECLARERS = {"it_admin", "security_officer"}
KIT_READERS = {"physician", "nurse"}
RUNNERS = {"it_admin"}
MISSING = 999_999

ROUTES = [
    ("get", "/continuity/", READERS, 200),
    ("get", "/continuity/bia/", READERS, 200),
    ("get", "/continuity/schedule/", READERS, 200),
    ("post", "/continuity/schedule/nosuchjob/run/", RUNNERS, 404),
    ("get", "/continuity/downtime/declare/", DECLARERS, 200),
    ("post", "/continuity/downtime/declare/", DECLARERS, 400),
    ("post", f"/continuity/downtime/{MISSING}/confirm/", DECLARERS, 404),
    ("post", f"/continuity/downtime/{MISSING}/end/", DECLARERS, 404),
    ("get", "/continuity/kits/", KIT_READERS, 200),
    ("get", "/continuity/kits/nosuchward/download/", KIT_READERS, 404),
    ("get", "/continuity/recovery/", KIT_READERS, 200),
    ("post", "/continuity/recovery/", KIT_READERS, 400),
    ("post", f"/continuity/recovery/{MISSING}/verify/", KIT_READERS, 404),
    ("post", f"/continuity/recovery/{MISSING}/chart/", KIT_READERS, 404),
    ("post", f"/continuity/recovery/{MISSING}/patient/", KIT_READERS, 404),
    ("get", "/continuity/recovery/report/", READERS, 200),
    ("get", "/api/v1/continuity/status/", READERS, 200),
    ("get", "/api/v1/continuity/backups/", READERS, 200),
    ("get", "/api/v1/continuity/bia/", READERS, 200),
    ("get", "/api/v1/continuity/schedule/", READERS, 200),
    ("post", "/api/v1/continuity/schedule/", RUNNERS, 400),
]


@pytest.mark.parametrize("role", ROLES)
def test_continuity_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        expected = status if role in allowed else 403
        if method == "post" and path.startswith("/api/"):
            response = client.post(path, {}, content_type="application/json")  # the API takes JSON
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


@pytest.mark.parametrize("path", sorted({p for _, p, _, _ in ROUTES if p.startswith("/api/")}))
def test_anonymous_api_calls_are_refused(client, path):
    assert client.get(path).status_code in {401, 403}


MATRIX = {
    "continuity:dashboard": "continuity:status:read",
    "continuity:bia": "continuity:status:read",
    "continuity:downtime_declare": "continuity:downtime:declare",
    "continuity:downtime_confirm": "continuity:downtime:declare",
    "continuity:downtime_end": "continuity:downtime:declare",
    "continuity:kits": "continuity:kit:read",
    "continuity:kit_download": "continuity:kit:read",
    "continuity:recovery": "continuity:kit:read",
    "continuity:recovery_verify": "continuity:kit:read",
    "continuity:recovery_chart": "continuity:kit:read",
    "continuity:recovery_patient_search": "continuity:kit:read",
    "continuity:recovery_report": "continuity:status:read",
    "continuity:schedule": "continuity:status:read",
    "continuity:schedule_run": "continuity:schedule:run",
}


def test_every_continuity_route_is_in_this_matrix_with_its_permission():
    from django.urls import get_resolver

    declared = {
        name: declared_permission(cb)
        for _, name, cb in walk(get_resolver())
        if name.startswith("continuity:")
    }
    assert declared == MATRIX
