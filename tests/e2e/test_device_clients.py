"""A security officer, in a real browser, links a ward kiosk's SMART app to the kiosk from
the device's posture page, sees the link on the OAuth client page, and unlinks it (ADR 1018).
Screenshots go to test-artifacts/screenshots/kiosk-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.devices.models import ClientDevice
from safeward.fhir import clients
from tests.devices.posture_support import make_device
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_security_officer_links_a_kiosk_client_to_its_device(
    page, live_server, screenshot, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    officer = UserFactory(username="sec.ops", first_name="Sam", roles=["security_officer"], totp_secret=True)
    kiosk = make_device("WS-W3-KIOSK", kind="workstation", serial="KSK0301")
    registered = clients.client_register(
        actor=None,
        name="Ward 3 bedside kiosk",
        owner=officer,
        grant="authorization-code",
        client_type="public",
        scopes="openid user/Patient.rs",
        redirect_uris="https://kiosk.example.test/callback",
        expires_at=clock.now() + dt.timedelta(days=365),
    )

    sign_in_browser(page, officer)
    page.goto(f"/devices/posture/{kiosk.pk}/")
    page.get_by_role("link", name="Link an OAuth client").click()
    page.get_by_label("OAuth client").select_option(registered.registration.application.client_id)
    page.get_by_label("Reason").fill("Bedside-round kiosk on ward 3")
    screenshot(page, "kiosk-01-link-form")
    page.get_by_role("button", name="Link").click()
    page.wait_for_selector("text=Client linked")
    assert "Ward 3 bedside kiosk" in page.locator("#posture-clients").inner_text()
    screenshot(page, "kiosk-02-device-page")

    page.goto(f"/oauth/clients/{registered.registration.pk}/")
    assert "WS-W3-KIOSK" in page.locator("#client-device").inner_text()
    screenshot(page, "kiosk-03-client-page")

    page.goto(f"/devices/posture/{kiosk.pk}/")
    page.locator("#posture-clients").get_by_label("Why").fill("Kiosk replaced")
    page.locator("#posture-clients").get_by_role("button", name="Unlink").click()
    page.wait_for_selector("text=Client unlinked")
    assert not ClientDevice.objects.exists()
