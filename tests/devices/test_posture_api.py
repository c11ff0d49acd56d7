"""The posture REST API: import (all or nothing, row errors in the 400), a device's
posture and history, reporting a device lost."""

from __future__ import annotations

import pytest

from safeward.devices.models import Device, DevicePosture, WipeRequest
from tests.conftest import sign_in
from tests.devices.posture_support import fixture, make_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, make_user, frozen_clock):
    user = make_user("it_admin")
    sign_in(client, user)
    return client


def test_import_through_the_api(api):
    device = make_device("PH-001", kind="phone", serial="F17ZQ0001")
    response = api.post(
        "/api/v1/devices/posture/imports/",
        {"content": fixture("posture_intune.csv").decode(), "filename": "intune.csv"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["source"], body["imported"], body["unmatched_count"]) == ("intune", 1, 2)
    assert DevicePosture.objects.get(device=device).compliant
    read = api.get(f"/api/v1/devices/posture/devices/{device.pk}/")
    assert read.status_code == 200
    data = read.json()
    assert data["current"]["compliant"] is True
    assert data["stale"] is False
    assert len(data["history"]) == 1
    assert data["history"][0]["source"] == "intune"


def test_bad_rows_are_a_400_naming_each_row(api):
    make_device("PH-001", kind="phone", serial="F17ZQ0001")
    response = api.post(
        "/api/v1/devices/posture/imports/",
        {"content": fixture("posture_intune_bad.csv").decode(), "format": "intune"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "Line 3: CompliantState 'Sideways' is not one Intune uses." in str(response.json())
    assert not DevicePosture.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"content": ""}, {"content": "x", "format": "mdm"}, {"content": "a,b\n1,2\n"}],
)
def test_malformed_import_requests_are_400(api, body):
    response = api.post("/api/v1/devices/posture/imports/", body, content_type="application/json")
    assert response.status_code == 400


def test_device_posture_without_a_report(api):
    device = make_device("LT-009")
    data = api.get(f"/api/v1/devices/posture/devices/{device.pk}/").json()
    assert data["current"] is None
    assert data["history"] == []


def test_report_lost_through_the_api(api):
    device = make_device("LT-010")
    url = f"/api/v1/devices/posture/devices/{device.pk}/report-lost/"
    assert (
        api.post(url, {"state": "retired", "reason": "x"}, content_type="application/json").status_code == 400
    )
    assert api.post(url, {"state": "lost"}, content_type="application/json").status_code == 400
    response = api.post(
        url, {"state": "lost", "reason": "Left on the train"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["wipe_request"] == WipeRequest.objects.get().pk
    device.refresh_from_db()
    assert device.lifecycle == Device.Lifecycle.LOST
    again = api.post(url, {"state": "stolen", "reason": "again"}, content_type="application/json")
    assert again.status_code == 400
    assert WipeRequest.objects.count() == 1
