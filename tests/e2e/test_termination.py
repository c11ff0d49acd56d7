"""Issue 7, done-when: a clinician is signed in and browsing; HR terminates
them in the HR pages; the clinician's next click lands on the refusal page;
their OAuth2 API token stops working; the audit trail shows each step.
Screenshots go to test-artifacts/screenshots/termination-*.png."""

from __future__ import annotations

import pytest
from django.db.models import Q

from safeward.audit.models import AuditEvent
from safeward.workforce.models import Person, Termination
from tests.conftest import totp_now
from tests.e2e.conftest import log_in_with_password, nav_click
from tests.factories import TEST_PASSWORD, UserFactory
from tests.workforce.test_termination import issue_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in_browser(page, user):
    log_in_with_password(page, user.username, TEST_PASSWORD)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.fill("input[name=code]", totp_now(user.test_totp_secret))
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Good to see you')")


def api_status(browser, base_url, token):
    context = browser.new_context(base_url=base_url)
    try:
        return context.request.get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"}).status
    finally:
        context.close()


def test_hr_terminates_a_browsing_clinician(browser, page, live_server, screenshot):
    from safeward import clock

    clinician = UserFactory(username="dr.leaving", first_name="Lena", roles=["physician"], totp_secret=True)
    person = Person.objects.create(
        employee_number="P-777",
        first_name="Lena",
        last_name="Leaving",
        user=clinician,
        start_date=clock.now().date(),
        status=Person.Status.ACTIVE,
    )
    hr = UserFactory(username="hr.officer", first_name="Hanna", roles=["hr_officer"], totp_secret=True)
    token = issue_token(clinician)

    # The clinician signs in and browses.
    sign_in_browser(page, clinician)
    nav_click(page, "My sessions")
    page.wait_for_url("**/identity/sessions/")
    screenshot(page, "termination-01-clinician-browsing")
    assert api_status(browser, live_server.url, token) == 200

    # HR, in another browser, terminates the clinician immediately.
    hr_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    hr_page = hr_context.new_page()
    try:
        sign_in_browser(hr_page, hr)
        hr_page.get_by_role("navigation", name="Main").get_by_role("link", name="Workforce").click()
        hr_page.get_by_role("link", name="Lena Leaving").click()
        hr_page.wait_for_url(f"**/workforce/people/{person.pk}/")
        hr_page.select_option("#terminate-form select[name=when]", "now")
        hr_page.fill("#terminate-form input[name=reason]", "Employment ended")
        screenshot(hr_page, "termination-02-hr-terminates")
        hr_page.click("#terminate-form button[type=submit]")
        hr_page.wait_for_selector(".message.success")
        screenshot(hr_page, "termination-03-hr-done")
        assert "Access ended: 1 session(s) ended, 1 API token(s) revoked." in hr_page.inner_text(".messages")
    finally:
        hr_context.close()

    # The clinician's next click lands on the refusal page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    page.wait_for_selector("h1:has-text('Your session has ended')")
    assert "Your account is no longer active" in page.inner_text("main")
    screenshot(page, "termination-04-clinician-refused")
    # The API token stops working.
    assert api_status(browser, live_server.url, token) == 401
    # Signing in again is refused, and audited as an event detection alerts on.
    log_in_with_password(page, clinician.username, TEST_PASSWORD)
    page.wait_for_load_state()
    assert "Good to see you" not in page.content()
    screenshot(page, "termination-05-login-refused")

    # The audit trail shows each step, in order.
    steps = list(
        AuditEvent.objects.filter(Q(actor_id__in=[clinician.pk, hr.pk]) | Q(actor_id__isnull=True))
        .order_by("id")
        .values_list("action", "outcome", "resource_type", "detail")
    )
    events = [
        (action, outcome, (detail or {}).get("event") or (detail or {}).get("reason"))
        for action, outcome, _, detail in steps
    ]
    termination = Termination.objects.get(person=person)
    assert termination.status == "applied"
    assert termination.applied_via == "immediate"
    sequence = [
        ("login", "success", None),  # clinician signs in
        ("update", "success", "termination_schedule"),
        ("account_update", "success", None),  # account disabled
        ("session_end", "success", None),  # every session ended
        ("session_end", "success", None),  # every OAuth token revoked
        ("role_revoke", "success", None),
        ("update", "success", "termination_apply"),
        ("login", "denied", "workforce_terminated"),  # the later sign-in attempt
    ]
    position = 0
    for event in events:
        if position < len(sequence) and event == sequence[position]:
            position += 1
    assert position == len(sequence), events
