"""The authorization matrix of the incident case pages (issue 19): every
route under every role, and anonymously. Both officers keep cases
(incident:record:manage); the privacy officer alone overrides discovery,
records the risk assessment and notices (incident:breach:manage); the
auditor and the compliance officer read. The alert-page actions and the
list/detail/status/patients routes are in test_detection_matrix."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import EVERYONE, ROLES
from tests.security.test_url_permissions import declared_permission, walk

pytestmark = pytest.mark.django_db

KEEPERS = {"security_officer", "privacy_officer"}
READERS = KEEPERS | {"auditor", "compliance_officer"}
BREACH = {"privacy_officer"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). POSTs carry no
# data; a missing case answers 404 to those allowed, a new case's empty form 400.
ROUTES = [
    ("get", "/incidents/new/", KEEPERS, 200),
    ("post", "/incidents/new/", KEEPERS, 400),
    ("get", "/incidents/deadlines/", READERS, 200),
    ("post", f"/incidents/{MISSING}/assign/", KEEPERS, 404),
    ("post", f"/incidents/{MISSING}/timeline/", KEEPERS, 404),
    ("post", f"/incidents/timeline/{MISSING}/flag/", KEEPERS, 404),
    ("post", f"/incidents/tasks/{MISSING}/done/", KEEPERS, 404),
    ("post", f"/incidents/tasks/{MISSING}/due/", KEEPERS, 404),
    ("post", f"/incidents/{MISSING}/follow-ups/", KEEPERS, 404),
    ("post", f"/incidents/{MISSING}/lessons/", KEEPERS, 404),
    ("post", f"/incidents/{MISSING}/exercise/", KEEPERS, 404),
    ("post", f"/incidents/{MISSING}/evidence/", KEEPERS, 404),
    ("get", f"/incidents/evidence/{MISSING}/download/", KEEPERS, 404),
    ("post", f"/incidents/evidence/{MISSING}/verify/", KEEPERS, 404),
    ("post", f"/incidents/evidence/{MISSING}/transfer/", KEEPERS, 404),
    ("post", f"/incidents/{MISSING}/contain/", KEEPERS, 404),
    ("post", f"/incidents/{MISSING}/breach/", KEEPERS, 404),
    ("post", f"/incidents/{MISSING}/breach/discovery/", BREACH, 404),
    ("post", f"/incidents/{MISSING}/breach/risk/", BREACH, 404),
    ("post", f"/incidents/{MISSING}/breach/notified/", BREACH, 404),
    ("get", f"/incidents/{MISSING}/letters/1/download/", BREACH, 404),
    ("get", "/api/v1/incidents/", READERS, 200),
    ("get", f"/api/v1/incidents/{MISSING}/", READERS, 404),
]


@pytest.mark.parametrize("role", ROLES)
def test_incident_case_routes_under_each_role(role):
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


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES if not p.startswith("/api/")])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", [p for _, p, _, _ in ROUTES if p.startswith("/api/")])
def test_anonymous_api_callers_are_refused(client, path):
    assert client.get(path).status_code in (401, 403)


MATRIX = {
    "incidents:new": "incident:record:manage",
    "incidents:deadlines": "incident:record:read",
    "incidents:assign": "incident:record:manage",
    "incidents:timeline_add": "incident:record:manage",
    "incidents:timeline_flag": "incident:record:manage",
    "incidents:task_done": "incident:record:manage",
    "incidents:task_due": "incident:record:manage",
    "incidents:follow_up_add": "incident:record:manage",
    "incidents:lessons": "incident:record:manage",
    "incidents:exercise": "incident:record:manage",
    "incidents:evidence_add": "incident:record:manage",
    "incidents:evidence_download": "incident:record:manage",
    "incidents:evidence_verify": "incident:record:manage",
    "incidents:evidence_transfer": "incident:record:manage",
    "incidents:contain": "incident:record:manage",
    "incidents:breach_scope": "incident:record:manage",
    "incidents:breach_discovery": "incident:breach:manage",
    "incidents:breach_risk": "incident:breach:manage",
    "incidents:breach_notified": "incident:breach:manage",
    "incidents:letters_download": "incident:breach:manage",
}


def test_every_incident_case_route_is_in_this_matrix_with_its_permission():
    from django.urls import get_resolver

    declared = {name: declared_permission(cb) for _, name, cb in walk(get_resolver()) if name in MATRIX}
    assert declared == MATRIX
