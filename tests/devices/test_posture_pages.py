"""The posture pages: the failing list and the import form (all or nothing, row
errors shown), a device's posture panel, reporting a device lost or stolen."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safeward.devices.models import Device, WipeRequest
from tests.conftest import sign_in
from tests.devices.posture_support import fixture, make_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, make_user, frozen_clock):
    sign_in(client, make_user("it_admin"))
    return client


def test_the_overview_lists_failing_devices_and_imports(admin):
    make_device("LT-001", serial="C02PW0001")
    make_device("LT-002", serial="PF4XW0002")
    page = admin.get("/devices/posture/").content.decode()
    assert "LT-001" in page
    assert "no posture report" in page
    upload = SimpleUploadedFile("fleet.json", fixture("posture_fleet.json"), content_type="application/json")
    response = admin.post("/devices/posture/import/", {"file": upload, "format": ""}, follow=True)
    page = response.content.decode()
    assert "2 device(s) updated: 1 compliant, 1 not compliant. 1 not in the inventory: NOTINVENTORY9." in page
    failing = page[page.index('id="posture-failing"') :]
    assert "LT-002" in failing
    assert "disk_not_encrypted" in failing
    assert "LT-001</a>" not in failing


def test_a_bad_file_shows_its_row_errors_and_imports_nothing(admin):
    make_device("PH-001", kind="phone", serial="F17ZQ0001")
    upload = SimpleUploadedFile("bad.csv", fixture("posture_intune_bad.csv"), content_type="text/csv")
    response = admin.post("/devices/posture/import/", {"file": upload, "format": "intune"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "Line 3: CompliantState" in page
    assert admin.post("/devices/posture/import/", {}).status_code == 400


def test_the_device_panel_and_reporting_it_stolen(admin):
    device = make_device("LT-001", serial="C02PW0001")
    upload = SimpleUploadedFile("fleet.json", fixture("posture_fleet.json"))
    admin.post("/devices/posture/import/", {"file": upload})
    page = admin.get(f"/devices/posture/{device.pk}/").content.decode()
    assert 'id="posture-history"' in page
    assert "Compliant" in page
    assert "Report lost or stolen" in page
    form = admin.get(f"/devices/posture/{device.pk}/report-lost/")
    assert form.status_code == 200
    bad = admin.post(f"/devices/posture/{device.pk}/report-lost/", {"state": "stolen", "reason": ""})
    assert bad.status_code == 400
    assert not WipeRequest.objects.exists()
    done = admin.post(
        f"/devices/posture/{device.pk}/report-lost/",
        {"state": "stolen", "reason": "Taken from bay 3"},
        follow=True,
    )
    assert "LT-001 reported stolen: 0 session(s) ended" in done.content.decode()
    device.refresh_from_db()
    assert device.lifecycle == Device.Lifecycle.STOLEN
    again = admin.post(f"/devices/posture/{device.pk}/report-lost/", {"state": "lost", "reason": "again"})
    assert again.status_code == 409
    assert "cannot become" in again.content.decode()
