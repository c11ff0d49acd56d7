"""Physical security in a real browser (issue 15): the security desk signs a
visitor in from one short form and gets the printable badge.
Screenshots: test-artifacts/screenshots/facilities-*.png."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_security_desk_signs_in_a_visitor_and_prints_the_badge(browser, page, live_server, screenshot):
    desk = UserFactory(username="desk.sam", first_name="Sam", roles=["security_desk"], totp_secret=True)
    sign_in_browser(page, desk)
    nav_click(page, "Visitor desk")
    page.wait_for_selector("h1:has-text('Visitor desk')")
    # The name field has the focus: the desk types straight away (once the browser applied it).
    page.wait_for_function("document.activeElement && document.activeElement.name === 'name'")
    page.keyboard.type("Ada Guest")
    page.fill("input[name=host]", "Dr Chen")
    page.fill("input[name=badge_number]", "V-12")
    screenshot(page, "facilities-visitor-desk")
    page.click("#sign-in")
    page.wait_for_selector("#visitor-badge")
    assert "Ada Guest" in page.inner_text("#visitor-badge")
    assert page.locator("#print").is_visible()
    screenshot(page, "facilities-visitor-badge")
