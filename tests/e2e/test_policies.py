"""The policy library in a real browser (issue 18): the compliance officer
drafts a new revision of the acceptable-use policy and submits it; the
privacy officer reviews the diff and approves it; the compliance officer
publishes it and starts a campaign for nurses and physicians; a nurse is
asked to acknowledge the new revision before continuing, reads it and
acknowledges; the campaign shows the progress.
Screenshots: test-artifacts/screenshots/policies-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.policies import services
from safeward.policies.models import PolicyDocument
from tests.conftest import totp_now
from tests.e2e.conftest import log_in_with_password, nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIRST = """# Purpose

Hospital systems are for the care of patients and the hospital's business.

# Rules for everyone

- Use only your own account.
- Lock the screen whenever you step away.
"""
ADDED = "- Send clinical messages only through the hospital's secure messaging."


def _library():
    officer = UserFactory(
        username="comply.co",
        first_name="Cora",
        last_name="Okafor",
        roles=["compliance_officer"],
        totp_secret=True,
    )
    privacy = UserFactory(
        username="privacy.po",
        first_name="Priya",
        last_name="Nair",
        roles=["privacy_officer"],
        totp_secret=True,
    )
    nurse = UserFactory(
        username="nurse.ana", first_name="Ana", last_name="Berg", roles=["nurse"], totp_secret=True
    )
    document = services.document_create(
        actor=officer,
        code="acceptable-use",
        title="Acceptable use policy",
        kind=PolicyDocument.Kind.POLICY,
        owner=officer,
        roles=("nurse", "physician"),
    )
    revision = services.revision_draft(actor=officer, document_id=document.pk, body=FIRST)
    services.revision_submit(actor=officer, revision_id=revision.pk)
    services.revision_approve(actor=privacy, revision_id=revision.pk)
    services.revision_publish(actor=privacy, revision_id=revision.pk)
    services.acknowledgement_record(actor=nurse, revision_id=revision.pk)
    return officer, privacy, nurse


def test_a_new_revision_is_approved_published_and_acknowledged(browser, page, live_server, screenshot):
    officer, privacy, nurse = _library()

    # The compliance officer drafts revision 2 and submits it.
    sign_in_browser(page, officer)
    nav_click(page, "Policy library")
    page.get_by_role("link", name="Acceptable use policy").click()
    page.get_by_role("link", name="Draft a new revision").click()
    body = page.get_by_label("Body")
    body.fill(body.input_value() + "\n" + ADDED + "\n")
    page.get_by_label("What changed").fill("Secure messaging only.")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_selector("#awaiting-second-person")
    assert page.locator("#revision-state").inner_text() == "In review"
    screenshot(page, "policies-submitted")

    # The privacy officer finds it on the home page, reads the diff and approves.
    reviewer = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    second = reviewer.new_page()
    sign_in_browser(second, privacy)
    second.locator("a", has_text="Acceptable use policy, revision 2").click()
    assert ADDED in second.locator("#diff .added").inner_text()
    screenshot(second, "policies-review-diff")
    second.get_by_role("button", name="Approve revision 2").click()
    second.wait_for_selector("#revision-state:has-text('Approved')")
    reviewer.close()

    # The compliance officer publishes it and starts the campaign.
    page.reload()
    page.get_by_role("button", name="Publish revision 2").click()
    page.wait_for_selector("h1:has-text('Ask people to acknowledge')")
    assert page.get_by_label("Nurse").is_checked()
    page.get_by_label("Due by").fill("2099-01-01")
    page.get_by_role("button", name="Start the campaign").click()
    refused = page.locator(".errors, .error").first.inner_text()
    assert "within a year" in refused
    due = clock.now().date() + dt.timedelta(days=10)
    page.get_by_label("Due by").fill(due.isoformat())
    page.get_by_role("button", name="Start the campaign").click()
    page.wait_for_selector("#progress")
    assert "0 of 1" in page.locator("#progress").inner_text()
    assert "Ana Berg" in page.locator("#outstanding").inner_text()
    screenshot(page, "policies-campaign-started")

    # The nurse is asked to acknowledge before continuing.
    nurse_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    third = nurse_context.new_page()
    log_in_with_password(third, nurse.username, TEST_PASSWORD)
    third.wait_for_url("**/accounts/2fa/authenticate/")
    third.fill("input[name=code]", totp_now(nurse.test_totp_secret))
    third.click("main form button[type=submit]")
    third.wait_for_selector("h1:has-text('Before you continue')")
    assert "/policies/acknowledge/" in third.url
    assert "Acceptable use policy (revision 2)" in third.locator("#pending").inner_text()
    assert third.locator("#policy-banner").is_visible()
    screenshot(third, "policies-interstitial")
    third.get_by_role("link", name="Read Acceptable use policy (revision 2)").click()
    assert ADDED.removeprefix("- ") in third.locator("#policy-text").inner_text()
    third.get_by_role("button", name="Acknowledge").click()  # the box is not ticked: the browser asks
    assert "/acknowledge/" in third.url
    screenshot(third, "policies-acknowledge")
    third.get_by_label("I have read and understood").check()
    third.get_by_role("button", name="Acknowledge").click()
    third.wait_for_selector("h1:has-text('Good to see you')")
    assert third.locator("#policy-banner").count() == 0
    screenshot(third, "policies-nurse-continues")
    nurse_context.close()

    page.reload()
    assert "1 of 1" in page.locator("#progress").inner_text()
    assert "Ana Berg" in page.locator("#acknowledged").inner_text()
    screenshot(page, "policies-campaign-done")
