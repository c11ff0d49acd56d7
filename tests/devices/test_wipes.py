"""Remote-wipe confirmation (ADR 1017): an MDM import reporting the device wiped, or a
person, confirms the wipe requested when it was reported lost; the lost-devices control
fails for a wipe unconfirmed after SAFEWARD_WIPE_CONFIRM_HOURS; page, REST and CLI."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.devices import posture_controls
from safeward.devices.models import WipeRequest
from safeward.devices.posture import PostureImportError, device_report_lost, posture_import
from safeward.devices.services import DeviceError
from safeward.devices.wipes import wipe_confirm
from safeward.incidents.models import TimelineEntry
from tests.api.test_error_shape import assert_error_shape
from tests.conftest import sign_in
from tests.devices.posture_support import make_device

pytestmark = pytest.mark.django_db


def fleet(serial: str, status: str | None) -> bytes:
    host: dict[str, object] = {
        "hardware_serial": serial,
        "platform": "ios",
        "seen_time": "2026-11-02T08:00:00Z",
    }
    if status is not None:
        host["mdm"] = {"device_status": status}
    return json.dumps({"hosts": [host]}).encode()


def jamf(serial: str, status: str) -> bytes:
    return f"Serial Number,Last Check-in,Wipe Status\n{serial},2026-11-02 08:00:00,{status}\n".encode()


@pytest.fixture
def lost(frozen_clock):
    device = make_device("PH-7", kind="phone", serial="F2LX0007")
    report = device_report_lost(actor=None, device_id=device.pk, state="lost", reason="left in a taxi")
    return device, report.wipe


def contained(tag: str):
    return {c.label: c for c in posture_controls.lost_devices_contained(clock.now())}[tag]


def test_a_fleet_import_reporting_the_device_wiped_confirms_the_wipe(lost):
    _, wipe = lost
    posture_import(actor=None, source="fleet", data=fleet("F2LX0007", "wiping"))
    assert WipeRequest.objects.get(pk=wipe.pk).confirmed_at is None
    result = posture_import(actor=None, source="fleet", data=fleet("F2LX0007", "wiped"))
    assert result.wipes_confirmed == 1
    wipe.refresh_from_db()
    assert (wipe.status, wipe.confirmation_source) == ("confirmed", "fleet")
    assert wipe.confirmed_at == clock.now()
    event = AuditEvent.objects.get(resource_type="WipeRequest", resource_id=str(wipe.pk), action="update")
    assert event.detail["source"] == "fleet"
    entry = TimelineEntry.objects.get(incident_id=wipe.incident_id, ref=f"wipe:{wipe.pk}")
    assert "confirmed by Fleet" in entry.text
    # A second report changes nothing: the wipe is confirmed once.
    assert posture_import(actor=None, source="fleet", data=fleet("F2LX0007", "wiped")).wipes_confirmed == 0


def test_a_jamf_wipe_status_column_confirms_and_a_bad_value_saves_nothing(lost):
    _, wipe = lost
    with pytest.raises(PostureImportError) as refused:
        posture_import(actor=None, source="jamf", data=jamf("F2LX0007", "maybe"))
    assert refused.value.errors == ["Line 2: Wipe Status 'maybe' is not Complete or Pending."]
    assert WipeRequest.objects.get(pk=wipe.pk).confirmed_at is None
    assert posture_import(actor=None, source="jamf", data=jamf("F2LX0007", "Pending")).wipes_confirmed == 0
    assert posture_import(actor=None, source="jamf", data=jamf("F2LX0007", "Completed")).wipes_confirmed == 1


def test_a_fleet_mdm_that_is_not_an_object_is_a_row_error(lost):
    data = json.dumps({"hosts": [{"hardware_serial": "F2LX0007", "mdm": "wiped"}]}).encode()
    with pytest.raises(PostureImportError) as refused:
        posture_import(actor=None, source="fleet", data=data)
    assert refused.value.errors == ["Host 1: has an mdm that is not an object."]


def test_the_control_fails_for_a_wipe_unconfirmed_after_the_window(lost, frozen_clock, settings):
    settings.SAFEWARD_WIPE_CONFIRM_HOURS = 48
    assert contained("PH-7").passed
    assert contained("PH-7").evidence["wipe"] == "pending"
    frozen_clock.advance(hours=49)
    check = contained("PH-7")
    assert not check.passed
    assert check.evidence["wipe"] == "overdue"
    posture_import(actor=None, source="fleet", data=fleet("F2LX0007", "wiped"))
    check = contained("PH-7")
    assert check.passed
    assert (check.evidence["wipe"], check.evidence["confirmed_by"]) == ("confirmed", "fleet")


def test_a_person_confirms_with_a_note(lost, make_user):
    _, wipe = lost
    engineer = make_user("it_admin")
    with pytest.raises(DeviceError, match="Say how you know"):
        wipe_confirm(actor=engineer, wipe_id=wipe.pk, note="  ")
    with pytest.raises(DeviceError, match="No wipe request"):
        wipe_confirm(actor=engineer, wipe_id=999_999, note="seen")
    wipe_confirm(actor=engineer, wipe_id=wipe.pk, note="Returned by the taxi firm, erased at the desk")
    wipe.refresh_from_db()
    assert (wipe.confirmation_source, wipe.confirmed_by_id) == ("manual", engineer.pk)
    with pytest.raises(DeviceError, match="already confirmed"):
        wipe_confirm(actor=engineer, wipe_id=wipe.pk, note="again")


def test_the_page_lists_the_pending_wipe_and_confirms_it(client, lost, make_user):
    _, wipe = lost
    sign_in(client, make_user("it_admin"))
    overview = client.get("/devices/posture/").content.decode()
    assert 'data-wipe-state="pending"' in overview
    url = f"/devices/posture/wipes/{wipe.pk}/confirm/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"note": ""}).status_code == 400
    assert WipeRequest.objects.get(pk=wipe.pk).confirmed_at is None
    response = client.post(url, {"note": "MDM action log: wipe completed"})
    assert response.status_code == 302
    assert WipeRequest.objects.get(pk=wipe.pk).confirmation_source == "manual"
    assert 'data-wipe-state="pending"' not in client.get("/devices/posture/").content.decode()
    again = client.post(url, {"note": "again"})
    assert again.status_code == 409
    assert "Wiped, confirmed 2026-11-02 09:00 (Confirmed by a person)" in again.content.decode()


def test_the_api_lists_and_confirms(client, lost, make_user):
    _, wipe = lost
    sign_in(client, make_user("it_admin"))
    rows = client.get("/api/v1/devices/posture/wipes/").json()
    assert [(r["id"], r["state"]) for r in rows] == [(wipe.pk, "pending")]
    url = f"/api/v1/devices/posture/wipes/{wipe.pk}/confirm/"
    body = assert_error_shape(client.post(url, {}, content_type="application/json"), 400)
    assert "note" in body["errors"]
    done = client.post(url, {"note": "erased at the desk"}, content_type="application/json")
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["confirmation_source"]) == ("confirmed", "manual")
    again = assert_error_shape(client.post(url, {"note": "x"}, content_type="application/json"), 400)
    assert again["errors"]["note"] == "This wipe is already confirmed."


def test_the_command_line_lists_and_confirms(lost, make_user, capsys):
    _, wipe = lost
    make_user("it_admin", username="itops")
    make_user("physician", username="doc")
    call_command("devices", "wipes")
    assert f"{wipe.pk}\tPH-7" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not an account that manages devices"):
        call_command("devices", "confirm-wipe", "PH-7", "--note", "seen", "--as", "doc")
    with pytest.raises(CommandError, match="No unconfirmed wipe request"):
        call_command("devices", "confirm-wipe", "NOPE", "--note", "seen", "--as", "itops")
    call_command("devices", "confirm-wipe", "PH-7", "--note", "erased at the desk", "--as", "itops")
    assert WipeRequest.objects.get(pk=wipe.pk).confirmation_source == "manual"
    call_command("devices", "wipes")
    assert "No wipe awaiting confirmation." in capsys.readouterr().out
