"""Pages show times in the hospital's time zone (SAFEWARD_TIME_ZONE) and name
it; the forms beside them read typed times in that zone; the audit trail
stays UTC. Each test runs with the default (UTC) and with Europe/Berlin,
where 09:00 UTC on 2 November 2026 is 10:00."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from safeward.audit.models import AuditEvent
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.incidents import case_services
from safeward.incidents.models import BreachAssessment, Task, TimelineEntry
from tests.detection_ops.factories import alert_about

pytestmark = pytest.mark.django_db

# zone -> how 2026-11-02 09:00 UTC reads on a page
ZONES = {"UTC": "2026-11-02 09:00", "Europe/Berlin": "2026-11-02 10:00"}


@pytest.fixture(params=sorted(ZONES))
def zone(request):
    with override_settings(TIME_ZONE=request.param):
        yield request.param


def _read(user, patient_id: str, resource_id: str) -> AuditEvent:
    return audit_record(
        action=Action.READ,
        actor=user,
        resource_type="Observation",
        resource_id=resource_id,
        patient_id=patient_id,
        purpose=PurposeOfUse.TREATMENT,
    )


def test_the_audit_report_shows_and_filters_by_the_hospitals_days(zone, signed_in, make_user, frozen_clock):
    nurse = make_user("nurse")
    frozen_clock._now = dt.datetime(2026, 11, 1, 23, 30, tzinfo=dt.UTC)  # 2 November 00:30 in Berlin
    _read(nurse, "p-42", "night")
    frozen_clock._now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    _read(nurse, "p-42", "morning")
    client, _ = signed_in("privacy_officer")

    page = client.get("/audit/report/", {"start": "2026-11-02", "end": "2026-11-02"}).content.decode()

    assert f"Time ({zone})" in page
    assert f"Times are in the hospital's time zone, {zone};" in page
    assert f"YYYY-MM-DD ({zone})" in page  # the filter says which days it means
    assert "(UTC)" not in page or zone == "UTC"
    assert f"{ZONES[zone]}:00" in page
    # The night read falls on 2 November in Berlin, on 1 November in UTC.
    assert ("2026-11-02 00:30:00" in page) == (zone == "Europe/Berlin")
    assert "2026-11-01 23:30" not in page
    # The audit trail records the range in UTC, whatever the pages show.
    search = AuditEvent.objects.filter(action=Action.SEARCH, resource_type="AuditEvent").latest("pk")
    start = "2026-11-01T23:00:00" if zone == "Europe/Berlin" else "2026-11-02T00:00:00"
    assert search.detail["filter_start"] == f"{start}.000000+00:00"


def test_the_disclosures_page_names_the_zone(zone, signed_in, make_user, frozen_clock):
    _read(make_user("nurse"), "p-42", "1")
    client, _ = signed_in("privacy_officer")
    page = client.get("/audit/disclosures/", {"patient": "p-42"}).content.decode()
    assert f"When ({zone})" in page
    assert ZONES[zone] in page
    printed = client.get("/audit/disclosures/print/", {"patient": "p-42"}).content.decode()
    assert f"Date and time ({zone})" in printed
    assert f"{ZONES[zone]} {zone} by" in printed


def test_the_alert_detail_names_the_zone(zone, signed_in, make_user, frozen_clock):
    alert = alert_about(make_user("nurse"))
    client, _ = signed_in("privacy_officer")
    page = client.get(f"/detection/alerts/{alert.pk}/").content.decode()
    assert f"{ZONES[zone]}:00 {zone} (sequence {alert.first_event_id})" in page
    assert f"Time ({zone})" in page  # the evidence table
    assert "UTC" not in page or zone == "UTC"


def test_the_alert_queue_filters_by_the_hospitals_days(zone, signed_in, make_user, frozen_clock):
    frozen_clock._now = dt.datetime(2026, 11, 1, 23, 30, tzinfo=dt.UTC)  # 2 November 00:30 in Berlin
    alert = alert_about(make_user("nurse"))
    client, _ = signed_in("privacy_officer")
    page = client.get(
        "/detection/alerts/", {"status": "all", "start": "2026-11-02", "end": "2026-11-02"}
    ).content.decode()
    assert f"Until ({zone}, inclusive)" in page
    assert f"First / last ({zone})" in page
    assert (f'href="/detection/alerts/{alert.pk}/"' in page) == (zone == "Europe/Berlin")


def test_the_incident_page_shows_deadlines_and_reads_due_dates_in_the_zone(zone, signed_in, frozen_clock):
    client, officer = signed_in("security_officer")
    incident = case_services.incident_create(
        actor=officer, title="Credentials phished", category="credential", severity="high"
    )
    now = frozen_clock.now()
    BreachAssessment.objects.create(
        incident=incident,
        window_start=now - dt.timedelta(days=2),
        window_end=now,
        patient_ids=["p-1"],
        affected=1,
        by_state={"VT": 1},
        discovered_at=now,
    )
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"Due ({zone})" in page
    assert f"{ZONES[zone]} {zone} (" in page  # discovered
    assert f"Window start ({zone}, YYYY-MM-DD HH:MM)" in page
    assert f'id="note-tz" name="time_zone" value="{zone}"' in page
    assert f"When ({zone})" in page  # the timeline; its Zone column keeps each entry's own zone
    assert ("(UTC" not in page and " UTC " not in page) or zone == "UTC"

    task = Task.objects.filter(incident=incident).order_by("pk").first()
    response = client.post(f"/incidents/tasks/{task.pk}/due/", {"due_at": "2026-11-03 08:00"})
    assert response.status_code == 302
    task.refresh_from_db()
    expected = dt.datetime(2026, 11, 3, 7 if zone == "Europe/Berlin" else 8, 0, tzinfo=dt.UTC)
    assert task.due_at == expected
    assert f"due 2026-11-03 08:00 {zone}" in client.get(f"/incidents/{incident.pk}/").content.decode()


def test_a_timeline_note_is_read_in_the_zone_typed_beside_it(zone, signed_in, frozen_clock):
    client, officer = signed_in("security_officer")
    incident = case_services.incident_create(
        actor=officer, title="Laptop lost", category="other", severity="low"
    )
    note = {"occurred_at": "2026-11-02 02:30", "time_zone": "America/Chicago", "text": "Reported by phone"}
    assert client.post(f"/incidents/{incident.pk}/timeline/", note).status_code == 302
    entry = TimelineEntry.objects.get(incident=incident, text="Reported by phone")
    assert entry.occurred_at == dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)  # 02:30 CST
    assert entry.time_zone == "America/Chicago"
