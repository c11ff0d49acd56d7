"""The devices REST API under a biomedical engineer and an IT administrator."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safeward.devices.models import CompensatingControl, Device, SegmentFlow
from tests.conftest import sign_in
from tests.devices.conftest import MDS2_CSV, PAST, device, segment
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_devices_list_create_and_filters(client, engineer, frozen_clock):
    pumps = segment("pumps")
    device("PUMP-1", segment=pumps, end_of_support=PAST.isoformat())
    sign_in(client, engineer)
    created = client.post(
        "/api/v1/devices/",
        {"kind": "laptop", "asset_tag": "LAP-9", "segment": "pumps", "mac_address": "00:1a:2b:3c:4d:5e"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["mac_address"] == "00:1A:2B:3C:4D:5E"
    refused = client.post(
        "/api/v1/devices/", {"kind": "laptop", "asset_tag": "LAP-9"}, content_type="application/json"
    )
    assert refused.status_code == 400
    bad = client.post(
        "/api/v1/devices/",
        {"kind": "laptop", "asset_tag": "X", "ip_address": "300.1.1.1"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "ip_address" in bad.json()["errors"]
    legacy = client.get("/api/v1/devices/?legacy=true").json()
    assert [row["asset_tag"] for row in legacy] == ["PUMP-1"]
    assert legacy[0]["legacy"] is True
    assert client.get("/api/v1/devices/?kind=toaster").status_code == 400
    assert Device.objects.count() == 2


def test_mds2_import_by_api_derives_controls_and_refuses_bad_files(client, engineer, frozen_clock):
    sign_in(client, engineer)
    response = client.post(
        "/api/v1/devices/mds2/import/", {"file": SimpleUploadedFile("irx.csv", MDS2_CSV, "text/csv")}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["statement"]["model"] == "InfuseRx 300"
    assert len(body["controls"]) == 5
    assert body["controls"][0]["resource_id"].startswith("compensating-control:")
    bad = client.post(
        "/api/v1/devices/mds2/import/",
        {"file": SimpleUploadedFile("x.csv", b"Question ID,Answer\nSTCF-1,Perhaps\n", "text/csv")},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["line"] == 2
    assert CompensatingControl.objects.count() == 5
    controls = client.get("/api/v1/devices/controls/").json()
    assert {c["state"] for c in controls} == {"passing"}


def test_flows_by_api_need_network_management(client, engineer):
    segment("pumps")
    segment("pacs", "data_centre")
    sign_in(client, engineer)
    flow = {
        "from_segment": "pumps",
        "destination": "pacs",
        "port": 104,
        "protocol": "tcp",
        "purpose": "DICOM",
    }
    assert client.post("/api/v1/devices/flows/", flow, content_type="application/json").status_code == 403
    admin = UserFactory(roles=["it_admin"], totp_secret=True)
    sign_in(client, admin)
    assert client.post("/api/v1/devices/flows/", flow, content_type="application/json").status_code == 201
    again = client.post("/api/v1/devices/flows/", flow, content_type="application/json")
    assert again.status_code == 400
    imported = client.post(
        "/api/v1/devices/flows/import/",
        {"csv": "from,to,port,protocol,purpose\npumps,internet,443,tcp,cloud\npumps,nowhere,1,tcp,x\n"},
        content_type="application/json",
    )
    assert imported.status_code == 400
    assert imported.json()["errors"][0]["line"] == 3
    assert SegmentFlow.objects.count() == 1
    listed = client.get("/api/v1/devices/flows/").json()
    assert listed[0]["from_segment"] == "pumps"
