"""The unexplained-access review queue, the rule configuration pages and
incidents opened from alerts."""

from __future__ import annotations

import json

import pytest

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.detection.models import AccessReview, Alert, DetectionRule
from safeward.detection.triage import alert_version
from safeward.identity.models import UserSession
from safeward.incidents.models import Incident, NotificationDelivery
from tests.detection_ops.factories import AccessReviewFactory, alert_about

pytestmark = pytest.mark.django_db


# --- access reviews -----------------------------------------------------------------


def test_privacy_officer_decides_an_unexplained_access(signed_in, make_user):
    client, me = signed_in("privacy_officer")
    nurse = make_user("nurse")
    review = AccessReviewFactory(user_id=nurse.pk, username=nurse.username)
    drill = AccessReviewFactory(username="drill.nurse", is_drill=True)
    page = client.get("/detection/reviews/").content.decode()
    assert review.patient_id in page
    assert drill.patient_id not in page
    assert drill.patient_id in client.get("/detection/reviews/?status=open&drills=on").content.decode()
    response = client.post(
        f"/detection/reviews/{review.pk}/",
        {"decision": "inappropriate", "comment": "No clinical reason; referred to the manager."},
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == AccessReview.Status.INAPPROPRIATE
    assert review.reviewed_by_id == me.pk
    event = AuditEvent.objects.get(resource_type="AccessReview", resource_id=str(review.pk))
    assert event.detail == {"decision": "inappropriate", "event_id": review.event_id, "user_id": nurse.pk}
    assert "manager" not in json.dumps(event.detail)
    decided = client.get("/detection/reviews/?status=inappropriate").content.decode()
    assert "referred to the manager" in decided


def test_review_bad_input_and_double_posts(signed_in):
    client, me = signed_in("privacy_officer")
    review = AccessReviewFactory()
    url = f"/detection/reviews/{review.pk}/"
    assert client.post(url, {"decision": "appropriate", "comment": ""}).status_code == 400
    assert client.post(url, {"decision": "appropriate", "comment": "short"}).status_code == 400
    assert client.post(url, {"decision": "maybe", "comment": "A perfectly long comment."}).status_code == 400
    assert (
        client.post(
            "/detection/reviews/999999/", {"decision": "appropriate", "comment": "x" * 20}
        ).status_code
        == 404
    )
    review.refresh_from_db()
    assert review.status == "open"
    assert (
        client.post(url, {"decision": "appropriate", "comment": "Covering colleague, rota."}).status_code
        == 302
    )
    again = client.post(url, {"decision": "inappropriate", "comment": "Covering colleague, rota."})
    assert again.status_code == 409
    review.refresh_from_db()
    assert review.status == "appropriate"
    assert AuditEvent.objects.filter(resource_type="AccessReview").count() == 1
    # Nobody reviews their own access.
    own = AccessReviewFactory(user_id=me.pk, username=me.username)
    assert (
        client.post(
            f"/detection/reviews/{own.pk}/", {"decision": "appropriate", "comment": "It was fine, me."}
        ).status_code
        == 403
    )
    assert client.get("/detection/reviews/?status=nonsense").status_code == 400
    assert client.get("/detection/reviews/?after=garbage").status_code == 400


# --- rule configuration ----------------------------------------------------------------


def test_rule_list_and_edit_with_step_up_and_audit(signed_in):
    client, me = signed_in("security_officer")
    page = client.get("/detection/rules/").content.decode()
    assert "mass_access" in page
    assert "canary_access" in page
    edit = client.get("/detection/rules/mass_access/")
    assert edit.status_code == 200
    rule = DetectionRule.objects.get(code="mass_access")
    params = dict(rule.params)
    first_key = next(
        key for key, value in params.items() if isinstance(value, int) and not isinstance(value, bool)
    )
    params[first_key] = params[first_key] + 1
    response = client.post(
        "/detection/rules/mass_access/",
        {"enabled": "on", "severity": "critical", "params": json.dumps(params), "version": "-"},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    rule.refresh_from_db()
    assert rule.severity == "critical"
    assert rule.params[first_key] == params[first_key]
    assert rule.updated_by_id == me.pk
    event = AuditEvent.objects.filter(action="config_change", resource_type="DetectionRule").latest("id")
    assert event.actor_id == me.pk
    assert first_key in event.detail["changed"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{not json", "Not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"no_such_parameter": 1}', "Unknown parameter"),
    ],
)
def test_rule_edit_refuses_bad_parameters_with_a_clear_message(signed_in, params, message):
    client, _ = signed_in("security_officer")
    before = DetectionRule.objects.get(code="mass_access")
    response = client.post(
        "/detection/rules/mass_access/",
        {"enabled": "on", "severity": "high", "params": params, "version": "-"},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    after = DetectionRule.objects.get(code="mass_access")
    assert (after.params, after.severity, after.updated_at) == (
        before.params,
        before.severity,
        before.updated_at,
    )
    assert not AuditEvent.objects.filter(action="config_change", resource_type="DetectionRule").exists()


def test_rule_edit_refuses_negative_thresholds_and_stale_forms(signed_in):
    client, _ = signed_in("security_officer")
    rule = DetectionRule.objects.get(code="mass_access")
    params = dict(rule.params)
    key = next(key for key, value in params.items() if isinstance(value, int) and not isinstance(value, bool))
    params[key] = -5
    bad = client.post(
        "/detection/rules/mass_access/",
        {"enabled": "on", "severity": "high", "params": json.dumps(params), "version": "-"},
    )
    assert bad.status_code == 400
    assert key in bad.content.decode()
    stale = client.post(
        "/detection/rules/mass_access/",
        {"enabled": "on", "severity": "high", "params": json.dumps(rule.params), "version": "1.000000"},
    )
    assert stale.status_code == 409
    assert client.get("/detection/rules/no_such_rule/").status_code == 404
    assert not AuditEvent.objects.filter(action="config_change", resource_type="DetectionRule").exists()


def test_rule_edit_needs_step_up(client, make_user):
    from tests.conftest import sign_in

    officer = make_user("security_officer")
    user_session = sign_in(client, officer)
    UserSession.objects.filter(pk=user_session.pk).update(mfa_at=None)
    response = client.post(
        "/detection/rules/mass_access/", {"enabled": "on", "severity": "low", "params": "{}"}
    )
    assert response.status_code == 302
    assert "/reauthenticate/" in response["Location"]
    assert DetectionRule.objects.get(code="mass_access").severity != "low"


# --- incidents ------------------------------------------------------------------------------


def test_open_an_incident_from_an_alert(signed_in, make_user):
    client, me = signed_in("security_officer")
    suspect = make_user("nurse")
    alert = alert_about(suspect, severity="critical")
    form = client.get(f"/detection/alerts/{alert.pk}/incident/")
    assert form.status_code == 200
    response = client.post(
        f"/detection/alerts/{alert.pk}/incident/",
        {
            "version": alert_version(alert),
            "title": "Snooping by a ward nurse",
            "severity": "high",
            "summary": "Account contained; HR informed.",
        },
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert response["Location"] == f"/incidents/{incident.pk}/"
    alert.refresh_from_db()
    assert alert.incident_id == incident.pk
    assert alert.status == Alert.Status.CONFIRMED
    event = AuditEvent.objects.get(action="create", resource_type="Incident")
    assert event.actor_id == me.pk
    assert event.detail["alert_id"] == alert.pk
    assert "HR informed" not in json.dumps(event.detail)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Snooping by a ward nurse" in page
    assert f"/detection/alerts/{alert.pk}/" in page
    assert "Snooping by a ward nurse" in client.get("/incidents/").content.decode()
    # Move it along: contained, then closed.
    assert client.post(f"/incidents/{incident.pk}/status/", {"status": "contained"}).status_code == 302
    assert client.post(f"/incidents/{incident.pk}/status/", {"status": "contained"}).status_code == 409
    assert client.post(f"/incidents/{incident.pk}/status/", {"status": "gone"}).status_code == 400
    assert client.post(f"/incidents/{incident.pk}/status/", {"status": "closed"}).status_code == 302
    incident.refresh_from_db()
    assert incident.status == "closed"
    assert incident.closed_at is not None


def test_incident_bad_input_and_double_posts(signed_in, make_user):
    client, _ = signed_in("security_officer")
    alert = alert_about(make_user("nurse"))
    url = f"/detection/alerts/{alert.pk}/incident/"
    good = {
        "version": alert_version(alert),
        "title": "Credential stuffing",
        "severity": "high",
        "summary": "",
    }
    assert client.post(url, {**good, "title": ""}).status_code == 400
    assert client.post(url, {**good, "severity": "apocalyptic"}).status_code == 400
    assert client.post(url, {**good, "title": "x" * 201}).status_code == 400
    assert client.post(url, {**good, "version": "stale"}).status_code == 409
    assert not Incident.objects.exists()
    assert client.post(url, good).status_code == 302
    # The same form posted again: the alert changed (and already has an incident).
    assert client.post(url, good).status_code == 409
    assert Incident.objects.count() == 1
    # A dismissed alert cannot open one.
    dismissed = alert_about(make_user("nurse"), status="dismissed")
    response = client.post(
        f"/detection/alerts/{dismissed.pk}/incident/", {**good, "version": alert_version(dismissed)}
    )
    assert response.status_code == 409
    assert Incident.objects.count() == 1
    assert client.get("/incidents/999999/").status_code == 404
    assert client.get("/incidents/?status=bogus").status_code == 400
    assert client.get("/incidents/?before=abc").status_code == 400


def test_add_a_second_alert_to_an_open_incident(signed_in, make_user):
    client, _ = signed_in("security_officer")
    suspect = make_user("nurse")
    first = alert_about(suspect, rule="family_snooping")
    second = alert_about(suspect, rule="mass_access")
    client.post(
        f"/detection/alerts/{first.pk}/incident/",
        {"version": alert_version(first), "title": "Snooping", "severity": "high", "summary": ""},
    )
    incident = Incident.objects.get()
    page = client.get(f"/detection/alerts/{second.pk}/").content.decode()
    assert "Or add to an open incident" in page
    url = f"/detection/alerts/{second.pk}/incident/link/"
    assert client.post(url, {"version": alert_version(second), "incident_id": "999999"}).status_code == 400
    assert client.post(url, {"version": "stale", "incident_id": str(incident.pk)}).status_code == 409
    assert client.post(url, {"version": alert_version(second), "incident_id": "abc"}).status_code == 400
    second.refresh_from_db()
    assert second.incident_id is None
    response = client.post(url, {"version": alert_version(second), "incident_id": str(incident.pk)})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.incident_id == incident.pk
    assert second.status == Alert.Status.CONFIRMED
    assert AuditEvent.objects.filter(
        action="update", resource_type="Incident", resource_id=str(incident.pk)
    ).exists()
    detail = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"/detection/alerts/{first.pk}/" in detail
    assert f"/detection/alerts/{second.pk}/" in detail
    # A closed incident takes no more alerts.
    third = alert_about(suspect, rule="vip_access")
    client.post(f"/incidents/{incident.pk}/status/", {"status": "closed"})
    closed = client.post(
        f"/detection/alerts/{third.pk}/incident/link/",
        {"version": alert_version(third), "incident_id": str(incident.pk)},
    )
    assert closed.status_code == 409


def test_the_alert_page_shows_incidents_panels(signed_in, make_user):
    """Incidents' actions and deliveries are panels incidents registers on the
    alert page (ADR 0562): shown while they apply, gone when they do not."""
    client, _ = signed_in("security_officer")
    alert = alert_about(make_user("nurse"), rule="family_snooping")
    page = client.get(f"/detection/alerts/{alert.pk}/").content.decode()
    assert f'href="/detection/alerts/{alert.pk}/incident/"' in page
    assert "Notification deliveries" not in page
    NotificationDelivery.objects.create(
        alert_id=alert.pk,
        channel="webhook",
        payload={},
        attempts=2,
        last_error="HTTP 503",
        next_attempt_at=clock.now(),
        created_at=clock.now(),
    )
    client.post(
        f"/detection/alerts/{alert.pk}/incident/",
        {"version": alert_version(alert), "title": "Snooping", "severity": "high", "summary": ""},
    )
    page = client.get(f"/detection/alerts/{alert.pk}/").content.decode()
    assert f'href="/detection/alerts/{alert.pk}/incident/"' not in page
    assert "Notification deliveries" in page
    assert "HTTP 503" in page
