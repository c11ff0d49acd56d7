"""The vendor register in a real browser (issue 16): the privacy officer opens
a vendor from the Compliance menu, terminates its BAA with a reason, and the
vendor's OAuth client's next FHIR call is refused (401); the vendor page says
when and by what each credential ended.
Screenshots: test-artifacts/screenshots/vendors-*.png."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from safeward.vendors import services
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory
from tests.fhir.helpers import token
from tests.vendors.conftest import make_agreement, make_client, make_vendor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _fhir_status(base: str, raw: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - the live test server
        f"{base}/fhir/Patient?name=ada",
        headers={"Authorization": f"Bearer {raw}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the live test server
            json.loads(response.read() or b"{}")
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_terminating_a_vendor_refuses_its_clients_next_fhir_call(browser, page, live_server, screenshot):
    officer = UserFactory(
        username="privacy.po",
        first_name="Priya",
        last_name="Nair",
        roles=["privacy_officer"],
        totp_secret=True,
    )
    vendor = make_vendor(officer, name="ScribeRight Transcription")
    agreement = make_agreement(officer, vendor, reference="BAA-2025-014")

    def make_user(*roles: str) -> object:
        return UserFactory(roles=list(roles), totp_secret=True)

    registration = make_client(make_user, name="ScribeRight dictation app")
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    raw = token(registration.application.user, "user/*.rs", application=registration.application)
    assert _fhir_status(live_server.url, raw) == 200

    sign_in_browser(page, officer)
    nav_click(page, "Vendors")
    page.get_by_role("link", name="ScribeRight Transcription").click()
    screenshot(page, "vendors-page-before")
    page.locator("#agreements").get_by_label("Reason").fill("Contract ended after the audit finding")
    page.locator("#agreements").get_by_role("button", name="Terminate").click()
    page.wait_for_selector("text=Agreement terminated")
    assert "terminated:manual" in page.locator("#credentials").inner_text()
    screenshot(page, "vendors-page-terminated")

    assert _fhir_status(live_server.url, raw) == 401
