"""An IT administrator confirms, in a real browser, the remote wipe of a lost phone the
MDM cannot report; the other lost phone's wipe, confirmed by the MDM import, no longer
waits. Screenshots go to test-artifacts/screenshots/wipes-*.png."""

from __future__ import annotations

import json

import pytest

from safeward.devices.models import WipeRequest
from safeward.devices.posture import device_report_lost, posture_import
from tests.devices.posture_support import make_device
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_administrator_confirms_a_wipe_by_hand(page, live_server, screenshot, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    admin = UserFactory(username="it.ops", first_name="Ida", roles=["it_admin"], totp_secret=True)
    for tag, serial in (("PH-W3-01", "DNPX0301"), ("PH-W3-02", "DNPX0302")):
        phone = make_device(tag, kind="phone", serial=serial)
        device_report_lost(actor=admin, device_id=phone.pk, state="lost", reason="left on the bus")
    host = {"hardware_serial": "DNPX0301", "platform": "ios", "mdm": {"device_status": "wiped"}}
    posture_import(actor=None, source="fleet", data=json.dumps({"hosts": [host]}).encode())

    sign_in_browser(page, admin)
    page.goto("/devices/posture/")
    rows = page.locator("#wipes tbody tr[data-wipe-state]")
    assert rows.count() == 1
    assert "PH-W3-02" in rows.first.inner_text()
    screenshot(page, "wipes-01-awaiting-the-mdm")
    rows.first.get_by_role("link", name="Confirm wiped").click()
    page.get_by_label("How you know it was wiped").fill("Returned to the service desk and erased there")
    screenshot(page, "wipes-02-confirm-form")
    page.get_by_role("button", name="Confirm wiped").click()
    page.wait_for_selector("text=Remote wipe of PH-W3-02 confirmed.")
    screenshot(page, "wipes-03-device-confirmed")
    assert WipeRequest.objects.get(device__asset_tag="PH-W3-02").confirmation_source == "manual"
