"""The devices pages: inventory with filters, forms and imports with row
errors, the segments matrix, MDS2 import and evidence."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safeward.devices.models import CompensatingControl, ControlEvidence, Device
from tests.conftest import sign_in
from tests.devices.conftest import MDS2_CSV, PAST, device, segment
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_inventory_filters_and_the_device_page(client, engineer, frozen_clock):
    office = segment("office", "workstations")
    device("PUMP-1", segment=office, end_of_support=PAST.isoformat())
    device("LAP-1", kind="laptop", segment=office)
    sign_in(client, engineer)
    page = client.get("/devices/?legacy=on").content.decode()
    assert "PUMP-1" in page
    assert "LAP-1" not in page
    failing = client.get("/devices/?control=failing").content.decode()
    assert "PUMP-1" in failing
    assert "LAP-1" not in failing
    pump = Device.objects.get(asset_tag="PUMP-1")
    detail = client.get(f"/devices/{pump.pk}/").content.decode()
    assert "legacy device segment office is in the workstations zone" in detail


def test_device_form_and_lifecycle(client, engineer, frozen_clock):
    sign_in(client, engineer)
    bad = client.post("/devices/new/", {"kind": "laptop", "asset_tag": "bad tag!", "mac_address": "x"})
    assert bad.status_code == 400
    assert not Device.objects.exists()
    response = client.post("/devices/new/", {"kind": "laptop", "asset_tag": "LAP-1"})
    laptop = Device.objects.get(asset_tag="LAP-1")
    assert response.status_code == 302
    # Lost and stolen go through the report (it ends the sessions); leaving needs a certificate.
    for refused in ("stolen", "lost", "disposed"):
        client.post(f"/devices/{laptop.pk}/lifecycle/", {"state": refused, "reason": "car"})
        laptop.refresh_from_db()
        assert laptop.lifecycle == "in_service"
    client.post(f"/devices/{laptop.pk}/lifecycle/", {"state": "retired", "reason": "old"})
    laptop.refresh_from_db()
    assert laptop.lifecycle == "retired"


def test_inventory_import_page_lists_row_errors(client, engineer):
    sign_in(client, engineer)
    upload = SimpleUploadedFile("inv.csv", b"asset_tag,kind\nA-1,laptop\nA-2,toaster\n", "text/csv")
    response = client.post("/devices/import/", {"file": upload})
    assert response.status_code == 400
    assert "Line 3" in response.content.decode()
    assert not Device.objects.exists()


def test_segments_page_shows_the_matrix(client, frozen_clock):
    admin = UserFactory(roles=["it_admin"], totp_secret=True)
    sign_in(client, admin)
    assert (
        client.post("/devices/segments/new/", {"name": "pumps", "zone": "clinical_devices"}).status_code
        == 302
    )
    assert client.post("/devices/segments/new/", {"name": "pacs", "zone": "data_centre"}).status_code == 302
    assert client.post("/devices/segments/new/", {"name": "x", "zone": "mars"}).status_code == 400
    upload = SimpleUploadedFile("flows.csv", b"from,to,port,protocol,purpose\npumps,pacs,104,tcp,DICOM\n")
    assert client.post("/devices/flows/import/", {"file": upload}).status_code == 302
    page = client.get("/devices/segments/").content.decode()
    assert "104/tcp" in page


def test_mds2_import_shows_derived_controls_and_evidence_is_hashed(client, engineer, frozen_clock):
    sign_in(client, engineer)
    response = client.post("/devices/mds2/import/", {"file": SimpleUploadedFile("irx.csv", MDS2_CSV)})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Vendor patch ticket clock" in page
    control = CompensatingControl.objects.get(kind="physical")
    png = b"\x89PNG\r\n\x1a\nfake"
    upload = SimpleUploadedFile("lock.png", png, "image/png")
    attached = client.post(f"/devices/controls/{control.pk}/evidence/", {"file": upload, "note": "cabinet"})
    assert attached.status_code == 302
    evidence = ControlEvidence.objects.get()
    assert evidence.sha256 == hashlib.sha256(png).hexdigest()
    download = client.get(f"/devices/controls/{control.pk}/evidence/{evidence.pk}/")
    assert download.content == png
    refused = client.post(
        f"/devices/controls/{control.pk}/evidence/",
        {"file": SimpleUploadedFile("x.exe", b"MZ", "application/x-msdownload")},
    )
    assert refused.status_code == 400
    assert ControlEvidence.objects.count() == 1
    bad = client.post(
        "/devices/mds2/import/", {"file": SimpleUploadedFile("x.csv", b"Question ID,Answer\nX,No\n")}
    )
    assert bad.status_code == 400
    assert "Line 2" in bad.content.decode()
