"""The security officer's triage flow in a real browser: the alert queue ->
the alert page with its evidence -> start triage -> containment with step-up
(the suspect's live session dies on its next request) -> an incident.
Screenshots go to test-artifacts/screenshots/detection-*.png."""

from __future__ import annotations

import pytest

from safeward.detection.models import Alert
from safeward.incidents.models import Incident
from tests.conftest import totp_now
from tests.detection_ops.factories import AlertFactory, alert_about
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_queue_to_containment_to_incident(browser, page, live_server, screenshot, frozen_clock):
    officer = UserFactory(
        username="so.ingrid",
        first_name="Ingrid",
        last_name="Berg",
        roles=["security_officer"],
        totp_secret=True,
    )
    suspect = UserFactory(username="n.snoop", first_name="Sam", roles=["nurse"], totp_secret=True)
    alert = alert_about(suspect, rule="family_snooping", severity="high", events=3)
    AlertFactory(
        rule="failed_login_address",
        severity="medium",
        client_ip="203.0.113.7",
        title="Password spraying from 203.0.113.7",
    )
    AlertFactory(
        rule="canary_access", severity="critical", title="Canary record opened by drill.nurse", is_drill=True
    )

    # The suspect is signed in elsewhere.
    suspect_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    suspect_page = suspect_context.new_page()
    try:
        sign_in_browser(suspect_page, suspect)

        sign_in_browser(page, officer)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
        page.wait_for_selector("h1:has-text('Alerts')")
        rows = page.locator("#alert-queue tbody tr")
        assert rows.count() == 2  # the drill is hidden by default
        assert "family_snooping" in rows.first.inner_text()  # high before medium
        assert "\u00d73" in rows.first.inner_text()
        screenshot(page, "detection-01-queue")

        rows.first.get_by_role("link").click()
        page.wait_for_selector(f"h1:has-text('Alert #{alert.pk}')")
        assert page.locator("#evidence-h").inner_text().startswith("Evidence (3 audit events)")
        assert suspect.username in page.locator("#subject-h + dl").inner_text()
        screenshot(page, "detection-02-alert")

        page.get_by_role("button", name="Start triage").click()
        page.wait_for_selector("text=is in triage")
        assert page.locator("#alert-status").inner_text().startswith("In triage")

        # The second factor is no longer fresh: containment asks for it again.
        frozen_clock.advance(minutes=6)
        page.get_by_role("link", name="Contain this account…").click()
        page.wait_for_url("**/accounts/2fa/reauthenticate/**")
        page.fill("input[name=code]", totp_now(officer.test_totp_secret, offset=1))
        page.click("main form button[type=submit]")
        page.wait_for_selector("h1:has-text('Contain the account n.snoop')")
        screenshot(page, "detection-03-contain")
        page.get_by_role("button", name="Contain now").click()
        page.wait_for_selector("text=n.snoop contained")
        assert "locked" in page.locator("#subject-state").inner_text()
        screenshot(page, "detection-04-contained")

        # The suspect's live session is refused on its next request.
        suspect_page.reload()
        assert "Your session has ended" in suspect_page.content()
        screenshot(suspect_page, "detection-05-suspect-refused")

        page.get_by_role("link", name="Open an incident…").click()
        page.wait_for_selector("h1:has-text('Open an incident')")
        page.get_by_label("Summary").fill("Nurse opened a relative's chart three times; account contained.")
        page.get_by_role("button", name="Open incident").click()
        page.wait_for_selector("h1:has-text('Incident #')")
        assert f"#{alert.pk}" in page.locator("#alerts-h + table").inner_text()
        screenshot(page, "detection-06-incident")
    finally:
        suspect_context.close()

    alert.refresh_from_db()
    assert alert.status == Alert.Status.CONFIRMED
    assert alert.incident_id == Incident.objects.get().pk


def test_privacy_officer_reviews_and_officer_tunes_a_rule(browser, page, live_server, screenshot):
    from safeward.detection.models import AccessReview, DetectionRule
    from tests.detection_ops.factories import AccessReviewFactory

    privacy = UserFactory(username="po.lena", first_name="Lena", roles=["privacy_officer"], totp_secret=True)
    nurse = UserFactory(username="n.kim", first_name="Kim", roles=["nurse"], totp_secret=True)
    review = AccessReviewFactory(user_id=nurse.pk, username=nurse.username)
    AccessReviewFactory(user_id=nurse.pk, username=nurse.username)
    sign_in_browser(page, privacy)
    nav_click(page, "Access reviews")
    page.wait_for_selector("h1:has-text('Unexplained accesses')")
    assert page.locator("#review-queue tbody tr").count() == 2
    screenshot(page, "detection-07-review-queue")
    page.get_by_label("Decision").first.select_option("appropriate")
    page.get_by_label("Comment").first.fill("Covering the ward on the rota; confirmed.")
    page.get_by_role("button", name="Record").first.click()
    page.wait_for_selector("text=marked appropriate")
    assert page.locator("#review-queue tbody tr").count() == 1
    assert AccessReview.objects.filter(status="appropriate").count() == 1
    assert review.pk

    officer_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    officer_page = officer_context.new_page()
    try:
        officer = UserFactory(
            username="so.omar", first_name="Omar", roles=["security_officer"], totp_secret=True
        )
        sign_in_browser(officer_page, officer)
        nav_click(officer_page, "Detection rules")
        officer_page.wait_for_selector("h1:has-text('Detection rules')")
        screenshot(officer_page, "detection-08-rules")
        officer_page.locator("#rules tr", has_text="mass_access").get_by_role("link", name="Edit").click()
        officer_page.wait_for_selector("h1:has-text('mass_access')")
        officer_page.get_by_label("Parameters (JSON)").fill('{"no_such_parameter": 3}')
        officer_page.get_by_role("button", name="Save").click()
        officer_page.wait_for_selector("text=Unknown parameter")
        screenshot(officer_page, "detection-09-rule-refused")
        officer_page.get_by_label("Parameters (JSON)").fill("{}")
        officer_page.get_by_label("Severity").select_option("critical")
        officer_page.get_by_role("button", name="Save").click()
        officer_page.wait_for_selector("text=Rule mass_access saved")
        assert DetectionRule.objects.get(code="mass_access").severity == "critical"
    finally:
        officer_context.close()
