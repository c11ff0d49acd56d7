"""The compliance dashboard in a real browser: the compliance officer runs
all control tests, opens HICP, drills down from the clause to the failing
sub-practice, its control test and the failing account with its evidence,
and downloads the PDF report. The page fixture fails on any console error
(a CSP violation from the inline SVG chart would be one). Screenshots:
test-artifacts/screenshots/compliance-*.png."""

from __future__ import annotations

import pytest

from tests.assessments.conftest import World, registry
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_compliance_officer_runs_drills_down_and_downloads_the_pdf(
    page, live_server, screenshot, monkeypatch
):
    monkeypatch.setattr("safeward.assessments.services.discover", lambda: registry(World()))
    officer = UserFactory(
        username="comp.co", first_name="Cora", roles=["compliance_officer"], totp_secret=True
    )
    sign_in_browser(page, officer)
    assert "No control test has run yet" in page.locator("#worklist-compliance").inner_text()

    nav_click(page, "Control tests")
    page.wait_for_selector("h1:has-text('Compliance')")
    page.get_by_role("button", name="Run all control tests").click()
    page.wait_for_selector("h1:has-text('Control run')")
    assert "Verified" in page.locator("#verification").inner_text()
    screenshot(page, "compliance-run")

    page.get_by_role("link", name="Compliance", exact=True).first.click()
    page.wait_for_selector("#framework-hicp")
    screenshot(page, "compliance-dashboard")
    page.locator("#framework-hicp").click()
    page.wait_for_selector("#clauses")
    row = page.locator("#clauses tr", has_text="Identity and access management")
    assert row.locator("td").nth(4).inner_text().strip() != "0"  # failing entries
    screenshot(page, "compliance-hicp")

    row.get_by_role("link").first.click()
    page.wait_for_selector("#entries")
    entry = page.locator("#entry-3ma")
    assert "Fail" in entry.inner_text()
    screenshot(page, "compliance-clause")
    entry.get_by_role("link", name="MFA").click()
    page.wait_for_selector("#failing-resources")
    failing = page.locator("#failing-resources").inner_text()
    assert "user2" in failing
    assert "mfa: False" in failing
    screenshot(page, "compliance-failing-resource")

    page.go_back()
    page.go_back()
    page.wait_for_selector("#download-pdf")
    with page.expect_download() as download:
        page.locator("#download-pdf").click()
    path = download.value.path()
    assert download.value.suggested_filename == "safeward-hicp.pdf"
    assert path.read_bytes()[:4] == b"%PDF"
