"""Issue 12, a day in the demo, step 5: HR terminates the demo nurse from the
Workforce pages and the nurse's next click is refused. axe-core runs on every
page visited. Screenshots: test-artifacts/screenshots/demo-termination-*.png."""

from __future__ import annotations

import pytest

from safeward.workforce.models import Person
from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import nav_click, sign_in_demo

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_hr_terminates_the_demo_nurse(browser, page, live_server, demo_credentials, screenshot):
    problems: list[str] = []

    def check(on_page, name: str) -> None:
        problems.extend(describe(on_page.url, axe_violations(on_page)))
        screenshot(on_page, f"demo-termination-{name}")

    sign_in_demo(page, demo_credentials["nurse"], problems)
    nav_click(page, "My training & reviews")
    page.wait_for_url("**/workforce/me/")
    check(page, "01-nurse-training")

    hr_context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    hr_page = hr_context.new_page()
    try:
        sign_in_demo(hr_page, demo_credentials["hr_officer"], problems)
        nav_click(hr_page, "Workforce")
        hr_page.wait_for_url("**/workforce/")
        check(hr_page, "02-hr-people")
        hr_page.get_by_role("link", name="Tomasz Oyelaran").click()
        nurse = Person.objects.get(user__username="demo.nurse")
        hr_page.wait_for_url(f"**/workforce/people/{nurse.pk}/")
        hr_page.select_option("#terminate-form select[name=when]", "now")
        hr_page.fill("#terminate-form input[name=reason]", "Left the hospital")
        check(hr_page, "03-hr-terminates")
        hr_page.click("#terminate-form button[type=submit]")
        hr_page.wait_for_selector(".message.success")
        check(hr_page, "04-hr-done")
        assert "Access ended: 1 session(s) ended" in hr_page.inner_text(".messages")
    finally:
        hr_context.close()

    nurse.refresh_from_db()
    assert nurse.status == Person.Status.TERMINATED
    nav_click(page, "Dashboard")
    page.wait_for_selector("h1:has-text('Your session has ended')")
    check(page, "05-nurse-refused")
    assert "Your account is no longer active" in page.inner_text("main")
    assert not problems, "Accessibility violations:\n" + "\n".join(problems)
