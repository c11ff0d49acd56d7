"""The page of rule chart_without_badge_in (ADR 1112): workstations placed in
secure areas and, for the last week, the chart reads from them with no
badge-in — who, where, when, never the patient; placing a workstation from the
page (security officer, audited); bad input is a 400 that saves nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.facilities.models import Workstation
from tests.conftest import sign_in
from tests.facilities.conftest import ingest, row
from tests.facilities.test_chart_access import READ_AT, _chart_read, _device

pytestmark = pytest.mark.django_db


@pytest.fixture
def at_noon():
    previous = clock.install(clock.FrozenClock(READ_AT + dt.timedelta(hours=1)))
    yield
    clock.install(previous)


def test_the_page_lists_unbadged_chart_reads_without_the_patient(client, make_user, clerk, areas, at_noon):
    device = _device("WS-REC-1", "10.20.0.5")
    Workstation.objects.create(device_id=device.pk, area=areas["records"], placed_at=clock.now())
    _chart_read(clerk.user, "10.20.0.5")  # no badge-in: listed
    elsewhere = make_user("registration_clerk", username="elsewhere.clerk")
    _chart_read(elsewhere, "10.30.0.9")  # a workstation not placed: not listed
    sign_in(client, make_user("privacy_officer"))
    page = client.get("/facilities/workstations/").content.decode()
    assert "WS-REC-1" in page
    table = page[page.index('id="unbadged"') : page.index("</table>", page.index('id="unbadged"'))]
    assert clerk.user.username in table
    assert "records" in table
    assert "elsewhere.clerk" not in table
    assert "p-1" not in page  # the patient read is never shown
    assert 'id="place-form"' not in page  # the privacy officer reads, does not place


def test_times_are_in_the_hospitals_time_zone_and_say_so(client, make_user, clerk, areas, at_noon, settings):
    settings.TIME_ZONE = "America/New_York"  # SAFEWARD_TIME_ZONE
    device = _device("WS-REC-1", "10.20.0.5")
    Workstation.objects.create(device_id=device.pk, area=areas["records"], placed_at=clock.now())
    _chart_read(clerk.user, "10.20.0.5")  # 16:00 UTC, 11:00 in New York
    sign_in(client, make_user("privacy_officer"))
    page = client.get("/facilities/workstations/").content.decode()
    assert "Times are in the hospital's time zone, America/New_York." in page
    table = page[page.index('id="unbadged"') : page.index("</table>", page.index('id="unbadged"'))]
    assert "When (America/New_York)" in table
    assert "2026-11-02 11:00" in table
    assert "16:00" not in table
    assert "Placed (America/New_York)" in page
    assert "2026-11-02 12:00" in page  # placed at 17:00 UTC


def test_a_badge_in_earlier_in_the_shift_keeps_the_read_off_the_page(
    client, make_user, clerk, areas, at_noon
):
    device = _device("WS-REC-1", "10.20.0.5")
    Workstation.objects.create(device_id=device.pk, area=areas["records"], placed_at=clock.now())
    ingest(row("B-100", "RR-1", "2026-11-02T08:05:00-05:00"))
    _chart_read(clerk.user, "10.20.0.5")
    sign_in(client, make_user("security_officer"))
    page = client.get("/facilities/workstations/").content.decode()
    assert "everyone who opened a chart here had badged in" in page


def test_the_security_officer_places_a_workstation_from_the_page(client, make_user, areas):
    device = _device("WS-PH-2", "10.20.0.7")
    officer = make_user("security_officer")
    sign_in(client, officer)
    response = client.post(
        "/facilities/workstations/place/", {"asset_tag": "WS-PH-2", "area": areas["pharmacy"].pk}
    )
    assert response.status_code == 302
    placed = Workstation.objects.get()
    assert (placed.device_id, placed.area.code) == (device.pk, "pharmacy")
    event = AuditEvent.objects.get(resource_type="FacilityWorkstation")
    assert event.actor_id == officer.pk
    assert event.detail["area"] == "pharmacy"
    assert "WS-PH-2" in client.get("/facilities/workstations/").content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"asset_tag": "NOPE", "area": "records"}, "No device with that asset tag"),
        ({"asset_tag": "WS-NOIP", "area": "records"}, "has no IP address"),
        ({"asset_tag": "WS-OK", "area": "999999"}, "Select a valid choice"),
        ({"asset_tag": "", "area": "records"}, "This field is required"),
    ],
)
def test_bad_placements_are_a_400_and_place_nothing(client, make_user, areas, data, message):
    _device("WS-NOIP", "")
    _device("WS-OK", "10.20.0.8")
    sign_in(client, make_user("security_officer"))
    if data["area"] in areas:
        data = {**data, "area": areas[data["area"]].pk}
    response = client.post("/facilities/workstations/place/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Workstation.objects.exists()
    assert not AuditEvent.objects.filter(resource_type="FacilityWorkstation").exists()
