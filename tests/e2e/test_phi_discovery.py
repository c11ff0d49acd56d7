"""A privacy officer scans the demo hospital's shared drive from the findings
page, opens the finding for the exported clinic list, sees how many of our
patients it holds and marks it remediated (moved to quarantine).
Screenshots go to test-artifacts/screenshots/discovery-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from safeward.assets.models import DiscoveryFinding
from safeward.demo.phi_share import EXPORTED_MRNS, SHARE_NAME
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_officer_scans_the_demo_share_and_remediates(seeded_demo, page, settings, screenshot):
    officer = UserFactory(username="po.noor", first_name="Noor", roles=["privacy_officer"], totp_secret=True)

    sign_in_browser(page, officer)
    nav_click(page, "PHI findings")
    page.wait_for_selector("h1:has-text('PHI findings')")
    assert "No findings here." in page.locator("#findings").inner_text()
    page.select_option("select[name=asset]", label=f"{SHARE_NAME} ({settings.VAR_DIR / 'demo-share'})")
    screenshot(page, "discovery-01-queue-before-scan")

    page.click("#scan-share")
    page.wait_for_selector("h1:has-text('Scan ')")
    summary = page.locator("#scan-summary").inner_text()
    # The night's scheduled scan read the three clean documents (ADR 1506): the export and the ZIP are new.
    assert "5 seen: 2 read" in summary
    assert "3 unchanged since the last scan" in summary
    assert "1 encrypted" in summary
    screenshot(page, "discovery-02-scan")

    page.locator("#scan-findings a", has_text="#").first.wait_for()
    row = page.locator("#scan-findings tbody tr", has_text="clinic-list-export.csv")
    row.get_by_role("link").click()
    page.wait_for_selector("h1:has-text('Finding #')")
    assert f"Holds {len(EXPORTED_MRNS)} of our patients" in page.locator("#finding-summary").inner_text()
    assert "DEMO-000" not in page.content()  # counts, never the matched values
    screenshot(page, "discovery-03-finding")

    page.check("input[name=action][value=remediate]")
    page.select_option("select[name=remediation]", "moved")
    page.fill(
        "textarea[name=note]", "Export moved off the shared drive; clerk reminded of the export policy."
    )
    page.click("#triage-save")
    page.wait_for_selector("#finding-remediation")
    assert "Moved to quarantine" in page.locator("#finding-remediation").inner_text()
    screenshot(page, "discovery-04-remediated")

    finding = DiscoveryFinding.objects.get(path__endswith="clinic-list-export.csv")
    assert finding.status == DiscoveryFinding.Status.REMEDIATED
    assert not Path(finding.path).exists()
    assert Path(finding.moved_to).exists()
