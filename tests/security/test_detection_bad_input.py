"""Bad input on every detection and incident form: a clear 4xx and nothing
half-saved (alert, review, rule, incident rows and the audit trail's writes
are compared before and after)."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.detection.models import AccessReview, Alert, DetectionRule
from safeward.detection.triage import alert_version
from safeward.incidents.models import Incident
from tests.detection_ops.factories import AccessReviewFactory, alert_about

pytestmark = pytest.mark.django_db

NUL = "reason with a \x00 NUL byte inside"
HUGE = "x" * 100_000


def snapshot():
    return (
        list(
            Alert.objects.order_by("id").values_list(
                "status", "assignee_id", "resolution_reason", "incident_id"
            )
        ),
        list(AccessReview.objects.order_by("id").values_list("status", "comment")),
        list(DetectionRule.objects.order_by("code").values_list("enabled", "severity", "params")),
        Incident.objects.count(),
        AuditEvent.objects.exclude(action="read").count(),
    )


@pytest.fixture
def setup(signed_in, make_user):
    client, _ = signed_in("security_officer")
    alert = alert_about(make_user("nurse"))
    return client, alert


def cases(alert):
    version = alert_version(alert)
    base = f"/detection/alerts/{alert.pk}"
    return [
        (f"{base}/assign/", {"version": version, "assignee": "1; DROP TABLE"}),
        (f"{base}/assign/", {"version": version, "assignee": HUGE}),
        (f"{base}/assign/", {"version": version, "assignee": ["1", "2"]}),
        (f"{base}/assign/", {"assignee": "me"}),
        (f"{base}/triage/", {"version": HUGE}),
        (f"{base}/dismiss/", {"version": version, "reason": NUL}),
        (f"{base}/dismiss/", {"version": version, "reason": HUGE}),
        (f"{base}/dismiss/", {"version": version}),
        (f"{base}/confirm/", {"version": version, "reason": HUGE}),
        (f"{base}/confirm/", {"version": "' OR 1=1 --", "reason": ""}),
        (f"{base}/contain/", {}),
        (f"{base}/incident/", {"version": version, "title": NUL, "severity": "high"}),
        (f"{base}/incident/", {"version": version, "title": "t", "severity": "high", "summary": HUGE}),
        ("/detection/rules/mass_access/", {"severity": "high", "params": HUGE, "version": "-"}),
        (
            "/detection/rules/mass_access/",
            {"severity": "high", "params": '{"threshold": -1}', "version": "-"},
        ),
        ("/detection/rules/mass_access/", {"severity": "catastrophic", "params": "{}", "version": "-"}),
        (
            "/detection/rules/mass_access/",
            {"severity": "high", "params": '{"window_minutes": "NaN"}', "version": "-"},
        ),
        (
            "/detection/rules/after_hours/",
            {
                "severity": "low",
                "params": '{"default_schedule": {"days": ["someday"], "hours": "25:00-99:00"}}',
                "version": "-",
            },
        ),
        (
            "/detection/rules/mass_access/",
            {"severity": "high", "params": '{"role_thresholds": {"wizard": 5}}', "version": "-"},
        ),
    ]


def test_every_form_refuses_bad_input_without_saving_anything(setup):
    client, alert = setup
    failures = []
    for url, data in cases(alert):
        before = snapshot()
        response = client.post(url, data)
        if not 400 <= response.status_code < 500:
            failures.append(f"{url} {sorted(data)}: {response.status_code}")
        if snapshot() != before:
            failures.append(f"{url} {sorted(data)}: state changed")
    assert not failures, "\n".join(failures)


def test_review_and_incident_status_bad_input(signed_in):
    client, _ = signed_in("privacy_officer")
    review = AccessReviewFactory()
    incident = Incident.objects.create(title="t", severity="low", opened_at=review.occurred_at)
    for url, data in [
        (f"/detection/reviews/{review.pk}/", {"decision": "appropriate", "comment": NUL}),
        (f"/detection/reviews/{review.pk}/", {"decision": "appropriate", "comment": HUGE}),
        (f"/detection/reviews/{review.pk}/", {"decision": "perhaps", "comment": "long enough text"}),
        (f"/incidents/{incident.pk}/status/", {"status": HUGE}),
        (f"/incidents/{incident.pk}/status/", {}),
    ]:
        before = snapshot()
        response = client.post(url, data)
        assert 400 <= response.status_code < 500, (url, response.status_code)
        assert snapshot() == before, url
