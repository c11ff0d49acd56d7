"""The security officer's incident case in a real browser (issue 19): open a
case from an alert, contain the account from the case, compute the breach
scope and watch the breach clock fill in. Screenshots go to
test-artifacts/screenshots/incidents-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.incidents.models import BreachAssessment, Incident
from tests.detection_ops.factories import alert_about
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_case_from_alert_contain_and_breach_clock(page, live_server, screenshot, frozen_clock):
    officer = UserFactory(
        username="so.ines",
        first_name="Ines",
        last_name="Moreau",
        roles=["security_officer"],
        totp_secret=True,
    )
    suspect = UserFactory(username="n.peek", first_name="Pat", roles=["nurse"], totp_secret=True)
    alert = alert_about(suspect, rule="family_snooping", severity="high", events=4)

    sign_in_browser(page, officer)
    page.goto(f"/detection/alerts/{alert.pk}/")
    page.get_by_role("button", name="Start triage").click()
    page.wait_for_selector("text=is in triage")
    page.get_by_role("link", name="Open an incident…").click()
    page.wait_for_selector("h1:has-text('Open an incident')")
    page.get_by_label("Category").select_option("snooping")
    page.get_by_label("Summary").fill("A nurse opened four charts of relatives.")
    page.get_by_role("button", name="Open incident").click()
    page.wait_for_selector("h1:has-text('Incident #')")
    incident = Incident.objects.get()
    assert "Lock the account and end its sessions" in page.locator("#tasks").inner_text()
    assert "Not computed" in page.locator("#breach-clock").inner_text()
    screenshot(page, "incidents-01-case")

    # Bad input first: a window that ends before it starts.
    now = clock.now()
    page.get_by_label("Window start (UTC, YYYY-MM-DD HH:MM)").fill(
        (now + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    )
    page.get_by_label("Window end (UTC)").fill((now - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M"))
    page.get_by_label("Compromised accounts (usernames, comma separated)").fill(suspect.username)
    page.get_by_role("button", name="Compute breach scope").click()
    page.wait_for_selector("#case-error")
    assert "must end after it starts" in page.locator("#case-error").inner_text()
    screenshot(page, "incidents-02-scope-refused")

    page.get_by_label("Containment action", exact=True).select_option("account_lock")
    page.get_by_label("Target of the action", exact=True).fill(suspect.username)
    page.get_by_role("button", name="Run").click()
    page.wait_for_selector("text=Containment done")
    assert "Lock an account: Locked n.peek" in page.locator("#timeline").inner_text()
    suspect.refresh_from_db()
    assert suspect.is_locked

    page.get_by_label("Window start (UTC, YYYY-MM-DD HH:MM)").fill(
        (now - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    )
    page.get_by_label("Window end (UTC)").fill((now + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"))
    page.get_by_label("Compromised accounts (usernames, comma separated)").fill(suspect.username)
    page.get_by_role("button", name="Compute breach scope").click()
    page.wait_for_selector("text=Breach scope computed")
    assert page.locator("#breach-affected").inner_text() == "4"
    assert "acknowledged" in page.locator("#breach-discovered").inner_text()
    deadlines = page.locator("#deadlines").inner_text()
    assert "Notify 4 individuals" in deadlines
    assert "annual report" in deadlines
    screenshot(page, "incidents-03-breach-clock")

    page.get_by_label("Move to", exact=True).select_option("contained")
    page.get_by_role("button", name="Update status").click()
    page.wait_for_selector("text=is now contained")
    assert "Contained" in page.locator("#incident-status").inner_text()
    screenshot(page, "incidents-04-contained")
    assert BreachAssessment.objects.get(incident=incident).affected == 4
