"""The vendor register in a real browser (issue 16): the privacy officer opens
a vendor from the Compliance menu, terminates its BAA with a reason, and the
vendor's OAuth client's next FHIR call is refused (401); the vendor page says
when and by what each credential ended. The vendor's contact opens its
questionnaire link, enters the code e-mailed to it (ADR 1214) and answers; a
second person signs off and the vendor's risk tier becomes the questionnaire's.
Screenshots: test-artifacts/screenshots/vendors-*.png."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from django.core import mail

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


def test_the_vendor_fills_its_questionnaire_through_the_link_and_a_second_person_signs_off(
    browser, page, live_server, screenshot, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    officer = UserFactory(username="privacy.q", roles=["privacy_officer"], totp_secret=True)
    reviewer = UserFactory(username="compliance.q", roles=["compliance_officer"], totp_secret=True)
    vendor = make_vendor(officer, name="Northwind Reference Lab")
    make_agreement(officer, vendor, reference="BAA-2024-003")

    sign_in_browser(page, officer)
    page.goto(f"/vendors/{vendor.pk}/")
    page.get_by_role("link", name="Send the security questionnaire").click()
    page.get_by_label("Contact name").fill("Priya Natarajan")
    page.get_by_label("Contact email").fill("security@northwind.example")
    page.get_by_role("button", name="Save").click()
    link = page.locator("#link").input_value()
    screenshot(page, "vendors-questionnaire-sent")

    vendor_side = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    mail.outbox.clear()
    vendor_side.goto(link)
    assert "Northwind Reference Lab" in vendor_side.inner_text("main")
    assert "s…@northwind.example" in vendor_side.inner_text("main")
    screenshot(vendor_side, "vendors-questionnaire-code")
    (message,) = mail.outbox
    assert message.to == ["security@northwind.example"]
    (code,) = re.findall(r"\b\d{6}\b", message.body)
    vendor_side.get_by_label("Code from the e-mail").fill(f"{(int(code) + 1) % 10**6:06d}")
    vendor_side.get_by_role("button", name="Open the questionnaire").click()
    assert "4 attempts left" in vendor_side.inner_text("main")
    vendor_side.get_by_label("Code from the e-mail").fill(code)
    vendor_side.get_by_role("button", name="Open the questionnaire").click()
    vendor_side.wait_for_selector("text=Submit the answers")
    screenshot(vendor_side, "vendors-questionnaire-answer")
    for question in vendor_side.locator(".question").all():
        question.get_by_label("2: In place", exact=True).check()
    vendor_side.locator("#q-pr-1").get_by_label("3: In place and independently tested or certified").check()
    evidence = tmp_path / "mfa-policy.txt"
    evidence.write_text("MFA for every account.\n")
    vendor_side.locator("#q-pr-1").get_by_label("Evidence (optional)").set_input_files(str(evidence))
    vendor_side.get_by_role("button", name="Submit the answers").click()
    vendor_side.wait_for_selector("text=Thank you")
    vendor_side.goto(link)
    assert "already been answered" in vendor_side.inner_text("main")
    screenshot(vendor_side, "vendors-questionnaire-used")
    vendor_side.context.close()

    page.goto("/vendors/questionnaires/")
    page.get_by_role("link", name="Northwind Reference Lab").click()
    assert "mfa-policy.txt" in page.locator("#answers").inner_text()
    assert "Sign the review off" not in page.inner_text("main")  # the sender may not

    reviewer_page = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    ).new_page()
    sign_in_browser(reviewer_page, reviewer)
    reviewer_page.goto(page.url.removeprefix(live_server.url))
    screenshot(reviewer_page, "vendors-questionnaire-review")
    reviewer_page.get_by_label("Note").fill("MFA evidence checked.")
    reviewer_page.get_by_role("button", name="Sign the review off").click()
    reviewer_page.wait_for_selector("text=Review signed off")
    assert "Reviewed and signed off" in reviewer_page.inner_text("main")
    reviewer_page.context.close()

    # The vendor's risk tier now comes from the signed-off questionnaire.
    page.goto(f"/vendors/{vendor.pk}/")
    assert "from the security questionnaire signed off" in page.locator("#risk").inner_text()
    screenshot(page, "vendors-page-assessed")
