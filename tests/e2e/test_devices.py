"""Devices in a real browser (issue 14): a biomedical engineer imports the
manufacturer's MDS2 workbook for the ward's infusion pumps, sees the
compensating controls it derives, attaches a photo of the locked cabinet as
evidence (hashed), and finds the controls on a pump's page.
Screenshots: test-artifacts/screenshots/devices-*.png."""

from __future__ import annotations

import hashlib

import openpyxl
import pytest

from safeward.devices import services
from safeward.devices.forms import DeviceForm
from safeward.devices.models import ControlEvidence
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROWS = [
    ["Question ID", "Question", "Answer", "Notes"],
    ["DOC-1", "Manufacturer name", "Acme Medical", ""],
    ["DOC-3", "Device model", "InfuseRx 300", ""],
    ["DOC-4", "Document ID", "IRX-300-MDS2-r4", ""],
    ["STCF-1", "Can the device encrypt data at rest?", "No", "Drug library on unencrypted flash"],
    ["CSUP-2.2", "Do only the vendor's engineers install patches?", "Yes", "Field service"],
    ["PAUT-8", "Multi-factor authentication for remote access?", "No", ""],
    ["MLDP-2", "Can the device host anti-malware?", "Yes", ""],
]


def _workbook(path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "MDS2"
    sheet.append(["Manufacturer Disclosure Statement for Medical Device Security (HN 1-2019)"])
    for row in ROWS:
        sheet.append(row)
    workbook.save(path)


def test_a_biomedical_engineer_imports_an_mds2_and_attaches_evidence(page, live_server, screenshot, tmp_path):
    engineer = UserFactory(
        username="biomed.bo",
        first_name="Bo",
        last_name="Lind",
        roles=["biomedical_engineer"],
        totp_secret=True,
    )
    segment = services.segment_create(
        actor=None, data={"name": "clinical-devices-210", "zone": "clinical_devices"}
    )
    for number in (1, 2):
        form = DeviceForm(
            {
                "kind": "medical",
                "asset_tag": f"PUMP-000{number}",
                "manufacturer": "Acme Medical",
                "model": "InfuseRx 300",
                "segment": segment.pk,
                "end_of_support": "2024-06-30",
            }
        )
        assert form.is_valid()
        services.device_create(actor=None, data=form.cleaned_data)
    sheet = tmp_path / "InfuseRx300-MDS2.xlsx"
    _workbook(sheet)

    sign_in_browser(page, engineer)
    nav_click(page, "Device inventory")
    page.wait_for_selector("h1:has-text('Devices')")
    assert "legacy since 2024-06-30" in page.locator("#devices").inner_text()
    screenshot(page, "devices-inventory")

    nav_click(page, "MDS2 statements")
    page.get_by_role("link", name="Import MDS2").click()
    page.get_by_label("File").set_input_files(str(sheet))
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("h1:has-text('MDS2: Acme Medical InfuseRx 300')")
    derived = page.locator("#derived").inner_text()
    for title in (
        "Keep on an isolated clinical-device segment",
        "Physical control",
        "Sanitize storage",
        "Vendor patch ticket clock",
        "Remote access only through the jump host",
    ):
        assert title in derived
    assert "PUMP-0001" in page.locator("main").inner_text()
    screenshot(page, "devices-mds2-derived")

    page.get_by_role("link", name="Physical control: locked room or cable lock, tracked custody").click()
    photo = tmp_path / "cabinet.png"
    page.screenshot(path=str(photo))  # any real PNG stands in for the photo of the locked cabinet
    page.locator("#evidence-form").get_by_label("File").set_input_files(str(photo))
    page.locator("#evidence-form").get_by_label("Note").fill("Pump cabinet, ward 3, locked")
    page.get_by_role("button", name="Attach").click()
    page.wait_for_selector("#evidence code")
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert digest in page.locator("#evidence").inner_text()
    assert ControlEvidence.objects.get().sha256 == digest
    screenshot(page, "devices-evidence")

    page.get_by_role("link", name="PUMP-0001").click()
    assert "Vendor patch ticket clock" in page.locator("#controls").inner_text()
    screenshot(page, "devices-pump")
