"""Vulnerabilities in a real browser (issue 17): a security engineer imports
the interface engine's SBOM, sees Heartbleed at the top of the findings with
its due date, reads why the date is what it is and files an exception whose
compensating control is a control test; the compliance officer, a second
person, approves it from the exceptions queue. An IT engineer plans the
patch in a maintenance window from the finding page.
Screenshots: test-artifacts/screenshots/patching-*.png."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from safeward import clock
from safeward.assets.services import asset_create
from safeward.patching import services
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory
from tests.patching.conftest import HEARTBLEED, KEV, openssl

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_sbom_shows_heartbleed_first_and_an_exception_is_approved_by_a_second_person(
    browser, page, live_server, screenshot, tmp_path
):
    engineer = UserFactory(username="sec.eng", first_name="Sam", roles=["security_officer"], totp_secret=True)
    officer = UserFactory(
        username="comply.co", first_name="Cora", roles=["compliance_officer"], totp_secret=True
    )
    asset = asset_create(
        actor=None, values={"name": "HL7 interface engine (DMZ)", "kind": "server", "network_zone": "DMZ"}
    )
    services.osv_import(actor=None, raw=json.dumps(HEARTBLEED).encode(), filename="heartbleed.json")
    services.kev_import(actor=None, raw=json.dumps(KEV).encode())
    sbom = tmp_path / "engine.cdx.json"
    sbom.write_bytes(openssl())

    sign_in_browser(page, engineer)
    nav_click(page, "Vulnerabilities")
    page.get_by_role("link", name="Import inventory").first.click()
    page.get_by_label("Asset").select_option(label="HL7 interface engine (DMZ)")
    page.get_by_label("File").set_input_files(str(sbom))
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("#findings")
    first = page.locator("#findings tbody tr").first
    assert "SAFEWARD-2014-0160" in first.inner_text()
    assert "KEV" in first.inner_text()
    due = (clock.now() + dt.timedelta(days=14)).date().isoformat()
    assert due in first.inner_text()
    screenshot(page, "patching-findings")

    first.get_by_role("link", name="SAFEWARD-2014-0160").click()
    page.wait_for_selector("#why")
    why = page.locator("#why").inner_text()
    assert "Listed in CISA KEV" in why
    assert "14 days" in why
    screenshot(page, "patching-finding")
    form = page.locator("#exception-form")
    form.get_by_label("Decision").select_option("reduce")
    form.get_by_label("Justification").fill("Heartbeat blocked at the DMZ firewall until the engine upgrade.")
    form.get_by_label("Compensating control test").select_option("patching.inventory_current")
    form.get_by_label("Resource it judges").fill(f"asset:{asset.pk}")
    form.get_by_label("Expires on").fill((clock.now().date() + dt.timedelta(days=30)).isoformat())
    form.get_by_role("button", name="File exception").click()
    page.wait_for_selector("#exceptions:has-text('Awaiting approval')")

    reviewer = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    second = reviewer.new_page()
    sign_in_browser(second, officer)
    nav_click(second, "Vulnerabilities")
    second.get_by_role("link", name="Exceptions").first.click()
    screenshot(second, "patching-exception-queue")
    second.get_by_role("button", name="Approve").click()
    second.wait_for_selector("#exception-queue:has-text('Approved')")
    reviewer.close()
    page.reload()
    assert "under exception" in page.locator("#state").inner_text()
    screenshot(page, "patching-excepted")


def test_a_patch_is_planned_in_a_maintenance_window_from_the_finding(page, live_server, screenshot):
    engineer = UserFactory(username="it.eng", first_name="Rafa", roles=["it_admin"], totp_secret=True)
    asset = asset_create(
        actor=None, values={"name": "HL7 interface engine (DMZ)", "kind": "server", "network_zone": "DMZ"}
    )
    services.osv_import(actor=None, raw=json.dumps(HEARTBLEED).encode(), filename="heartbleed.json")
    services.inventory_import(actor=None, target_kind="asset", target_id=asset.pk, raw=openssl())

    sign_in_browser(page, engineer)
    nav_click(page, "Vulnerabilities")
    page.get_by_role("link", name="Findings").first.click()
    page.locator("#findings tbody tr").first.get_by_role("link", name="SAFEWARD-2014-0160").click()
    page.get_by_role("link", name="Plan a patch").click()
    page.wait_for_selector("#plan-form")
    assert page.get_by_label("SAFEWARD-2014-0160", exact=False).is_checked()
    start = (clock.now() + dt.timedelta(days=3)).replace(hour=22, minute=0, second=0, microsecond=0)
    page.get_by_label("Title").fill("OpenSSL 1.0.1g on the interface engine")
    page.get_by_label("Maintenance window starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Window ends").fill((start - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Change record").fill("CHG0031234")
    page.get_by_role("button", name="Save plan").click()
    assert "ends after it starts" in page.locator("#errors").inner_text()
    screenshot(page, "patching-plan-refused")
    page.get_by_label("Window ends").fill((start + dt.timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save plan").click()
    page.wait_for_selector("#plan-status")
    assert "Scheduled" in page.locator("#plan-status").inner_text()
    assert "CHG0031234" in page.locator("#change-ref").inner_text()
    screenshot(page, "patching-plan")
    page.get_by_role("link", name="Patch plans").first.click()
    assert "OpenSSL 1.0.1g on the interface engine" in page.locator("#plans").inner_text()
    screenshot(page, "patching-plans")


def test_one_vulnerability_from_two_databases_is_one_row_showing_every_id(page, live_server, screenshot):
    from tests.patching.test_aliases import ZOPE, record

    engineer = UserFactory(username="sec.eng", first_name="Sam", roles=["security_officer"], totp_secret=True)
    asset = asset_create(
        actor=None, values={"name": "Intranet CMS", "kind": "server", "network_zone": "data_centre"}
    )
    services.osv_import(actor=None, raw=json.dumps([record(i) for i in ZOPE]).encode(), filename="zope.json")
    services.inventory_import(
        actor=None,
        target_kind="asset",
        target_id=asset.pk,
        raw=b"zope==5.1.2\n",
        fmt="pip",
    )
    sign_in_browser(page, engineer)
    page.goto(f"{live_server.url}/vulns/findings/")
    rows = page.locator("#findings tbody tr")
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert "CVE-2021-32807" in text
    assert "GHSA-qcx9-j53g-ccgf" in text
    screenshot(page, "patching-aliases-findings")
    rows.first.get_by_role("link").first.click()
    page.wait_for_selector("#why")
    known = page.locator("dd", has_text="GHSA-g4gq-j4p2-j8fr").inner_text()
    for other in ("CVE-2021-32811", "PYSEC-2021-875", "PYSEC-2021-368"):
        assert other in known or other in page.locator("h1").inner_text()
    screenshot(page, "patching-aliases-finding")
