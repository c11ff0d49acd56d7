"""Triage of alerts through the web: assign, start triage, dismiss with a
mandatory reason, confirm; stale forms and double posts are refused with
nothing saved; every change is audited without free text."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.audit.models import AuditEvent
from safeward.detection.models import Alert
from safeward.detection.triage import alert_version
from tests.detection_ops.factories import AlertFactory, alert_about

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(signed_in):
    return signed_in("security_officer")


@pytest.fixture
def suspect(make_user):
    return make_user("nurse")


def _post(client, alert, action, **data):
    return client.post(f"/detection/alerts/{alert.pk}/{action}/", {"version": alert_version(alert), **data})


def _updates(alert):
    return AuditEvent.objects.filter(resource_type="Alert", resource_id=str(alert.pk), action="update")


def test_the_alert_page_shows_evidence_subject_and_pseudonymous_patient(officer, suspect):
    client, _ = officer
    alert = alert_about(suspect, events=3)
    response = client.get(f"/detection/alerts/{alert.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert suspect.username in page
    assert alert.patient_id in page
    for event_id in alert.evidence.values_list("event_id", flat=True):
        assert f">{event_id}</a>" in page
    assert "/audit/report/?" in page
    # Opening an alert reads the audit trail: that use is itself recorded.
    assert AuditEvent.objects.filter(resource_type="Alert", resource_id=str(alert.pk), action="read").exists()


def test_start_triage_assigns_to_me_and_is_audited(officer, suspect):
    client, me = officer
    alert = alert_about(suspect)
    response = _post(client, alert, "triage")
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == Alert.Status.TRIAGE
    assert alert.assignee_id == me.pk
    event = _updates(alert).get()
    assert event.actor_id == me.pk
    assert event.detail["change"] == "triage_start"


def test_assign_to_another_officer(officer, suspect, make_user):
    client, _ = officer
    colleague = make_user("privacy_officer")
    alert = alert_about(suspect)
    assert _post(client, alert, "assign", assignee=str(colleague.pk)).status_code == 302
    alert.refresh_from_db()
    assert alert.assignee_id == colleague.pk


def test_assign_to_unknown_or_unqualified_people_is_refused(officer, suspect, make_user):
    client, _ = officer
    alert = alert_about(suspect)
    nurse = make_user("nurse")
    for assignee in ("999999", str(nurse.pk), "nobody", ""):
        response = _post(client, alert, "assign", assignee=assignee)
        assert response.status_code == 400, assignee
    alert.refresh_from_db()
    assert alert.assignee_id is None
    assert not _updates(alert).exists()


def test_dismiss_needs_a_reason_and_nothing_is_saved_without_one(officer, suspect):
    client, _ = officer
    alert = alert_about(suspect)
    for reason in ("", "   ", "too short"):
        response = _post(client, alert, "dismiss", reason=reason)
        assert response.status_code == 400
        assert "at least 10 characters" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == Alert.Status.NEW
    assert not _updates(alert).exists()


def test_dismiss_with_reason_keeps_the_reason_out_of_the_audit_row(officer, suspect):
    client, me = officer
    alert = alert_about(suspect)
    reason = "Covering the ward for a colleague; rota confirmed with the charge nurse."
    assert _post(client, alert, "dismiss", reason=reason).status_code == 302
    alert.refresh_from_db()
    assert alert.status == Alert.Status.DISMISSED
    assert alert.resolution_reason == reason
    assert alert.resolved_by_id == me.pk
    event = _updates(alert).get()
    assert event.detail == {
        "change": "dismissed",
        "status_before": "new",
        "status_after": "dismissed",
        "reason_given": True,
    }
    assert "rota" not in str(event.detail)
    assert "rota" not in event.reason


def test_confirm_then_a_second_post_is_refused(officer, suspect):
    client, _ = officer
    alert = alert_about(suspect)
    first = _post(client, alert, "confirm", reason="")
    assert first.status_code == 302
    alert.refresh_from_db()
    assert alert.status == Alert.Status.CONFIRMED
    # The same form posted again (double click, back button): the version is
    # stale now, and even with a fresh version the transition no longer applies.
    assert _post(client, alert, "dismiss", reason="Changed my mind about it.").status_code == 409
    alert.refresh_from_db()
    assert alert.status == Alert.Status.CONFIRMED
    assert _updates(alert).count() == 1


def test_a_stale_form_is_refused_and_the_page_shows_the_current_alert(officer, suspect, frozen_clock):
    client, _ = officer
    alert = alert_about(suspect)
    loaded_version = alert_version(alert)
    # Meanwhile the worker grouped a repeat into the alert.
    frozen_clock.advance(seconds=5)
    Alert.objects.filter(pk=alert.pk).update(occurrences=alert.occurrences + 1, updated_at=frozen_clock.now())
    response = client.post(
        f"/detection/alerts/{alert.pk}/dismiss/",
        {"version": loaded_version, "reason": "Looks like a rota change to me."},
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "changed after you opened it" in page
    # What was typed is kept for the second try.
    assert "Looks like a rota change to me." in page
    alert.refresh_from_db()
    assert alert.status == Alert.Status.NEW
    assert not _updates(alert).exists()


def test_unknown_alert_is_404_and_bad_versions_are_refused(officer, suspect):
    client, _ = officer
    assert client.post("/detection/alerts/999999/triage/", {"version": "x"}).status_code == 404
    alert = alert_about(suspect)
    assert client.post(f"/detection/alerts/{alert.pk}/triage/", {"version": "nonsense"}).status_code == 409
    assert (
        client.post(f"/detection/alerts/{alert.pk}/dismiss/", {"reason": "a long enough reason"}).status_code
        == 400
    )


def test_queue_filters_sorts_and_hides_drills(officer, suspect, make_user, frozen_clock):
    client, _ = officer
    base = frozen_clock.now()
    low = AlertFactory(severity="low", title="low one", created_at=base)
    critical = AlertFactory(
        severity="critical", title="critical one", created_at=base - dt.timedelta(hours=1)
    )
    drill = AlertFactory(severity="critical", title="drill one", is_drill=True)
    closed = AlertFactory(severity="high", title="closed one", status="dismissed")
    page = client.get("/detection/alerts/").content.decode()
    assert page.index("critical one") < page.index("low one")
    assert "drill one" not in page
    assert "closed one" not in page
    page = client.get("/detection/alerts/?status=open&sort=newest&drills=on").content.decode()
    assert "drill one" in page
    assert page.index("low one") < page.index("critical one")
    page = client.get("/detection/alerts/?status=dismissed").content.decode()
    assert "closed one" in page
    assert "low one" not in page
    page = client.get("/detection/alerts/?status=all&severity=low").content.decode()
    assert "low one" in page
    assert "critical one" not in page
    assert {low.pk, critical.pk, drill.pk, closed.pk}


def test_queue_subject_filter_and_repeat_count(officer, suspect, make_user):
    client, _ = officer
    other = make_user("nurse")
    alert_about(suspect, events=4)
    alert_about(other, events=1, rule="vip_access")
    page = client.get(f"/detection/alerts/?subject={suspect.username}").content.decode()
    assert "\u00d74" in page
    assert "<code>vip_access</code>" not in page


def test_queue_bad_filters_are_400(officer):
    client, _ = officer
    for query in (
        "status=bogus",
        "severity=extreme",
        "rule=drop_table",
        "subject=no.such.person",
        "start=2026-13-01",
        "start=2026-05-01&end=2026-04-01",
        "after=garbage",
    ):
        assert client.get(f"/detection/alerts/?{query}").status_code == 400, query


def test_keyset_pages_cover_every_alert_once_in_severity_order(frozen_clock):

    severities = ["low", "medium", "high", "critical"]
    made = []
    for n in range(130):
        made.append(
            AlertFactory(
                severity=severities[n % 4], created_at=frozen_clock.now() - dt.timedelta(minutes=n % 7)
            )
        )
    from safeward.detection import queue

    seen = []
    after = None
    while True:
        rows, after = queue.alerts_page(query=queue.AlertFilter(), after=after, size=17)
        seen.extend(rows)
        if after is None:
            break
        # The cursor survives the round trip through a URL.
        after = queue.QueueCursor.parse(after.token())
    assert sorted(a.pk for a in seen) == sorted(a.pk for a in made)
    ranks = [queue.SEVERITY_ORDER.index(a.severity) for a in seen]
    assert ranks == sorted(ranks)
    for severity in severities:
        times = [(a.created_at, a.pk) for a in seen if a.severity == severity]
        assert times == sorted(times, reverse=True)


def test_queue_pages_through_the_view(officer, frozen_clock):
    client, _ = officer
    for _ in range(55):
        AlertFactory()
    first = client.get("/detection/alerts/")
    assert first.status_code == 200
    page = first.content.decode()
    assert "Next page" in page
    import re

    link = re.search(r'href="\?([^"]*after=[^"]+)"', page)
    assert link
    second = client.get("/detection/alerts/?" + link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert len(re.findall(r'href="/detection/alerts/\d+/"', second.content.decode())) == 5
