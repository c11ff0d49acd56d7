"""A clinician on a non-compliant laptop, in a real browser: the trusted proxy
(the live server trusts 127.0.0.1 here) forwards the laptop's certificate
fingerprint; the chart opens, a document download is refused with a clear reason.
Screenshots go to test-artifacts/screenshots/posture-*.png."""

from __future__ import annotations

import hashlib
import ipaddress

import pytest

from safeward import clock
from safeward.devices.models import Device
from safeward.devices.posture import posture_import
from safeward.identity.models import NetworkZone
from safeward.identity.network import zone_table
from tests.clinical.conftest import new_patient, relate
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
LAPTOP = hashlib.sha256(b"ward5-laptop-2").hexdigest()


@pytest.fixture(autouse=True)
def ward_behind_a_device_proxy(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.SAFEWARD_DEVICE_PROXIES = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128")]
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()
    now = clock.now()
    Device.objects.create(
        kind="laptop",
        asset_tag="W5-LT-02",
        serial="PF4XW0002",
        certificate_fingerprint=LAPTOP,
        created_at=now,
        updated_at=now,
    )
    seen = now.strftime("%Y-%m-%d %H:%M:%S")
    export = (
        "Computer Name,Serial Number,Asset Tag,Operating System Version,FileVault 2 Status,"
        "Passcode Status,Jailbreak Detected,Last Check-in\n"
        f"ward5-lt-02,PF4XW0002,W5-LT-02,14.6,Not Encrypted,Present,No,{seen}\n"
    )
    posture_import(actor=None, source="jamf", data=export.encode())


def test_a_clinician_on_a_non_compliant_laptop_reads_the_chart_but_may_not_download(
    page, live_server, screenshot, tmp_path
):
    doctor = UserFactory(
        username="dr.berg", first_name="Nils", last_name="Berg", roles=["physician"], totp_secret=True
    )
    patient = new_patient(given="Elin", family="Sand")
    relate(doctor, patient, "care_team")
    page.context.set_extra_http_headers({"X-Client-Cert-SHA256": LAPTOP})
    sign_in_browser(page, doctor)
    page.goto(f"/clinical/patients/{patient}/")
    upload = tmp_path / "discharge.pdf"
    upload.write_bytes(PDF)
    page.get_by_text("Upload a document").click()
    page.get_by_label("Document name").fill("Discharge summary")
    page.locator("#document_file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_selector("text=Document stored (encrypted).")
    assert "Discharge summary" in page.inner_text("#documents")
    assert "cannot be downloaded, printed or exported" in page.inner_text("#download-refusal")
    screenshot(page, "posture-01-chart-on-non-compliant-laptop")

    page.locator("#documents").get_by_role("link", name="Download").click()
    page.wait_for_selector("h1:has-text('Not allowed from this device')")
    text = page.inner_text("main")
    assert "Not allowed from this device" in text
    assert "does not meet the hospital's security requirements" in text
    assert "You can still read the chart." in text
    screenshot(page, "posture-02-download-refused")
