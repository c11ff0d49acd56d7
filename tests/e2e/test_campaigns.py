"""Assessment campaigns and the risk register in a real browser: the
compliance officer answers every question on the 0-3 scale, uploads an
evidence file and signs; the security officer downloads the evidence (its
SHA-256 checked), signs off, and opens the year-over-year page; then the
risk register with its heat map. Screenshots:
test-artifacts/screenshots/campaigns-*.png."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from safeward import clock
from safeward.assessments.models import Campaign
from safeward.assets import services as asset_services
from tests.assessments.campaign_helpers import campaign, risk, signed_off
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ENTRIES = ("iso27001-2022:A.5.1", "iso27001-2022:A.5.15", "iso27001-2022:A.8.7", "iso27001-2022:A.8.13")
EVIDENCE = b"Access control policy v3, approved by the security committee.\n"


def _sign_out(page) -> None:
    page.locator("header.topbar").get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/**")


def test_assess_sign_sign_off_compare_and_the_risk_register(page, live_server, screenshot):
    assessor = UserFactory(
        username="comp.officer", first_name="Yusuf", last_name="Marchetti", roles=["compliance_officer"],
        totp_secret=True,
    )  # fmt: skip
    reviewer = UserFactory(
        username="sec.officer", first_name="Hana", last_name="Villanueva", roles=["security_officer"],
        totp_secret=True,
    )  # fmt: skip
    last_year = clock.now().year - 1
    signed_off(assessor, reviewer, year=last_year, scores=dict(zip(ENTRIES, (1, 1, 2, 3), strict=True)))
    current = campaign(assessor, reviewer, year=last_year + 1, entries=ENTRIES)
    server = asset_services.asset_create(actor=None, values={"name": "File server", "kind": "server"})
    today = clock.now().date()
    risk(assessor, title="Ransomware through phishing", asset_ids=[server.pk])
    risk(assessor, title="Lost unencrypted laptop", likelihood=3, impact=4, residual_likelihood=1,
         residual_impact=4, threat_source="accidental", review_due=today - dt.timedelta(days=3))  # fmt: skip
    risk(assessor, title="Power outage", likelihood=2, impact=5, residual_likelihood=1, residual_impact=5,
         threat_source="environmental")  # fmt: skip

    # The compliance officer answers every question and uploads evidence.
    sign_in_browser(page, assessor)
    nav_click(page, "Assessments")
    page.wait_for_selector("h1:has-text('Assessment campaigns')")
    screenshot(page, "campaigns-list")
    page.get_by_role("link", name=current.name).click()
    page.wait_for_selector("#questions")
    page.locator("#questions a").first.click()
    for index, maturity in enumerate((2, 2, 3, 1)):
        page.wait_for_selector("h1:has-text('iso27001-2022:')")
        page.locator(f"input[name=maturity][value='{maturity}']").check()
        page.fill("#id_notes", f"Checked on site, question {index + 1}.")
        if index == 0:
            page.set_input_files(
                "input[name=file]",
                files=[{"name": "access-policy.txt", "mimeType": "text/plain", "buffer": EVIDENCE}],
            )
            page.get_by_role("button", name="Upload evidence").click()
            page.wait_for_selector("#evidence-list a:has-text('access-policy.txt')")
            assert hashlib.sha256(EVIDENCE).hexdigest() in page.locator("#evidence-list").inner_text()
            page.locator(f"input[name=maturity][value='{maturity}']").check()
            page.fill("#id_notes", "Policy approved; evidence attached.")
            screenshot(page, "campaigns-question")
        if index < 3:
            page.get_by_role("button", name="Save and next").click()
        else:
            page.get_by_role("button", name="Save", exact=True).click()
            page.wait_for_selector("text=Answer saved.")
    page.get_by_role("link", name=f"Back to {current.name}").click()
    assert "4 of 4" in page.locator("#campaign-status").locator("xpath=../..").inner_text()
    page.get_by_role("button", name="Sign as assessor").click()
    page.wait_for_selector("text=Signed as the assessor")
    assert "Submitted" in page.locator("#campaign-status").inner_text()
    screenshot(page, "campaigns-submitted")
    _sign_out(page)

    # The security officer checks the evidence and signs off.
    sign_in_browser(page, reviewer)
    page.goto(f"/compliance/assessments/{current.pk}/")
    page.locator("#questions a").first.click()
    with page.expect_download() as download:
        page.get_by_role("link", name="access-policy.txt").click()
    assert Path(download.value.path()).read_bytes() == EVIDENCE
    page.get_by_role("link", name=f"Back to {current.name}").click()
    page.get_by_role("button", name="Sign off as reviewer").click()
    page.wait_for_selector("text=Campaign signed off")
    assert Campaign.objects.get(pk=current.pk).status == "signed_off"
    screenshot(page, "campaigns-signed-off")

    page.get_by_role("link", name=f"Compare with {last_year}").click()
    page.wait_for_selector("#clause-compare")
    entries = page.locator("#entry-compare").inner_text()
    assert "▲ +1" in entries
    assert "▼ -2" in entries
    screenshot(page, "campaigns-year-over-year")

    # The risk register and its heat map.
    nav_click(page, "Risk register")
    page.wait_for_selector("#heatmap")
    assert page.locator("#heatmap td.critical").filter(has_text="1").count() == 1
    assert "1 review overdue" in page.inner_text("main")
    screenshot(page, "campaigns-risk-register")
    page.get_by_role("link", name="Ransomware through phishing").click()
    assert "File server" in page.inner_text("main")
    screenshot(page, "campaigns-risk")
