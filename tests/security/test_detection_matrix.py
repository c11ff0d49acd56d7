"""The authorization matrix of the detection and incident pages: every route
under every one of the twelve roles, and anonymously. Expectations are
written out by hand from the role descriptions: security and privacy
officers triage alerts; only the security officer contains accounts and
configures rules; the privacy officer reviews unexplained accesses; both
officers keep incident records. The auditor reads alerts, incidents and the
review history and changes nothing (issue 12): no triage, containment,
incident change, review decision, nor the patient scope pages."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_identity_matrix import EVERYONE, ROLES
from tests.security.test_url_permissions import declared_permission, walk

pytestmark = pytest.mark.django_db

TRIAGERS = {"security_officer", "privacy_officer"}
CONTAINERS = {"security_officer"}
REVIEWERS = {"privacy_officer"}
CONFIGURERS = {"security_officer"}
INCIDENT_KEEPERS = {"security_officer", "privacy_officer"}
AUDIT_EXPORTERS = {"security_officer", "privacy_officer"}
ALERT_READERS = TRIAGERS | {"auditor"}
INCIDENT_READERS = INCIDENT_KEEPERS | {"auditor", "compliance_officer"}
REVIEW_READERS = REVIEWERS | {"auditor"}
MISSING = 999_999

# (method, path, roles allowed, status for an allowed role). Missing targets
# give 404 to those allowed (nothing changes); everyone else gets 403 first.
ROUTES = [
    ("get", "/detection/alerts/", ALERT_READERS, 200),
    ("get", f"/detection/alerts/{MISSING}/", ALERT_READERS, 404),
    ("post", f"/detection/alerts/{MISSING}/assign/", TRIAGERS, 404),
    ("post", f"/detection/alerts/{MISSING}/triage/", TRIAGERS, 404),
    ("post", f"/detection/alerts/{MISSING}/dismiss/", TRIAGERS, 404),
    ("post", f"/detection/alerts/{MISSING}/confirm/", TRIAGERS, 404),
    ("get", f"/detection/alerts/{MISSING}/contain/", CONTAINERS, 404),
    ("post", f"/detection/alerts/{MISSING}/contain/", CONTAINERS, 404),
    ("get", f"/detection/alerts/{MISSING}/incident/", INCIDENT_KEEPERS & TRIAGERS, 404),
    ("post", f"/detection/alerts/{MISSING}/incident/", INCIDENT_KEEPERS & TRIAGERS, 404),
    ("post", f"/detection/alerts/{MISSING}/incident/link/", INCIDENT_KEEPERS & TRIAGERS, 404),
    ("get", f"/detection/alerts/{MISSING}/patients/", TRIAGERS, 404),
    ("get", f"/detection/alerts/{MISSING}/patients.csv", TRIAGERS & AUDIT_EXPORTERS, 404),
    ("get", "/detection/reviews/", REVIEW_READERS, 200),
    ("post", f"/detection/reviews/{MISSING}/", REVIEWERS, 404),
    ("get", "/detection/rules/", CONFIGURERS, 200),
    ("get", "/detection/rules/mass_access/", CONFIGURERS, 200),
    ("get", "/detection/rules/no_such_rule/", CONFIGURERS, 404),
    ("get", "/incidents/", INCIDENT_READERS, 200),
    ("get", f"/incidents/{MISSING}/", INCIDENT_READERS, 404),
    ("post", f"/incidents/{MISSING}/status/", INCIDENT_KEEPERS, 404),
    ("get", f"/incidents/{MISSING}/patients/", INCIDENT_KEEPERS, 404),
    ("get", f"/incidents/{MISSING}/patients.csv", INCIDENT_KEEPERS & AUDIT_EXPORTERS, 404),
]


@pytest.mark.parametrize("role", ROLES)
def test_detection_routes_under_each_role(role):
    client = Client()
    user = UserFactory(roles=[role], totp_secret=True)
    sign_in(client, user)
    failures = []
    for method, path, allowed, status in ROUTES:
        assert allowed <= EVERYONE
        expected = status if role in allowed else 403
        data = {"status": "open"} if path.endswith("/status/") else {}
        response = getattr(client, method)(path, data)
        if response.status_code != expected:
            failures.append(f"{method.upper()} {path}: {response.status_code}, expected {expected}")
    assert not failures, f"{role}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in ROUTES])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_every_detection_route_is_in_this_matrix():
    """A new detection or incident route without a row here fails."""
    from tests.security.test_incidents_matrix import MATRIX as CASE_ROUTES

    names = {
        name
        for _, name, _ in walk_routes()
        if name.startswith(("detection:", "incidents:")) and name not in CASE_ROUTES
    }
    assert names == {
        "detection:alerts",
        "detection:alert_detail",
        "detection:alert_assign",
        "detection:alert_triage",
        "detection:alert_dismiss",
        "detection:alert_confirm",
        "detection:alert_contain",
        "detection:alert_patients",
        "detection:alert_patients_csv",
        "detection:reviews",
        "detection:review_decide",
        "detection:rules",
        "detection:rule_edit",
        "incidents:list",
        "incidents:detail",
        "incidents:alert_open",
        "incidents:alert_link",
        "incidents:status",
        "incidents:patients",
        "incidents:patients_csv",
    }


def walk_routes():
    from django.urls import get_resolver

    return list(walk(get_resolver()))


def test_detection_routes_declare_what_the_matrix_expects():
    declared = {name: declared_permission(callback) for _, name, callback in walk_routes()}
    assert declared["detection:alerts"] == "detection:alert:read"
    assert declared["detection:alert_detail"] == "detection:alert:read"
    assert declared["detection:alert_triage"] == "detection:alert:triage"
    assert declared["detection:alert_contain"] == "detection:alert:contain"
    assert declared["detection:reviews"] == "audit:review:read"
    assert declared["detection:review_decide"] == "detection:access:review"
    assert declared["detection:rule_edit"] == "security:config:manage"
    assert declared["incidents:list"] == "incident:record:read"
    assert declared["incidents:detail"] == "incident:record:read"
    assert declared["incidents:status"] == "incident:record:manage"


def test_wrong_methods_are_refused(signed_in):
    client, _ = signed_in("security_officer")
    assert client.post("/detection/alerts/").status_code == 405
    assert client.get(f"/detection/alerts/{MISSING}/dismiss/").status_code == 405
    assert client.get(f"/incidents/{MISSING}/status/").status_code == 405
    assert client.delete("/detection/rules/").status_code == 405
