"""The posture control tests: each fails on a seeded violation and passes without it.
(`safeward/devices/posture_controls.py`; the lead imports it from controls.py.)"""

from __future__ import annotations

import pytest

from safeward import clock, compliance
from safeward.devices import posture_controls
from safeward.devices.models import DeviceSession
from safeward.devices.posture import device_report_lost, posture_import
from tests.devices.posture_support import fixture, make_device

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "devices.endpoints_encrypted": (
        "test_endpoints_encrypted_fails_on_an_unencrypted_laptop_and_passes_once_fixed"
    ),
    "devices.lost_devices_contained": "test_lost_devices_contained_fails_on_a_session_after_the_report",
}


def _results(function):
    return {check.label: check for check in function(clock.now())}


def test_the_controls_are_registered_with_their_catalog_entries():
    found = {cid: test for cid, test in compliance.discover().items() if cid in COVERED_CONTROLS}
    assert set(found) == set(COVERED_CONTROLS)
    assert "hipaa:164.312(a)(2)(iv)" in found["devices.endpoints_encrypted"].maps


def test_endpoints_encrypted_fails_on_an_unencrypted_laptop_and_passes_once_fixed(frozen_clock):
    make_device("LT-001", serial="C02PW0001")
    make_device("LT-002", serial="PF4XW0002")
    make_device("PUMP-1", kind="medical", serial="X")  # not an endpoint: not judged here
    results = _results(posture_controls.endpoints_encrypted)
    assert set(results) == {"LT-001", "LT-002"}
    assert results["LT-001"].evidence["failing"] == ["no_posture_report"]
    posture_import(actor=None, source="fleet", data=fixture("posture_fleet.json"))
    results = _results(posture_controls.endpoints_encrypted)
    assert results["LT-001"].passed
    assert not results["LT-002"].passed
    assert results["LT-002"].evidence["failing"] == ["disk_not_encrypted"]
    fixed = fixture("posture_fleet.json").replace(
        b'"disk_encryption_enabled": false', b'"disk_encryption_enabled": true'
    )
    posture_import(actor=None, source="fleet", data=fixed)
    assert all(check.passed for check in _results(posture_controls.endpoints_encrypted).values())
    frozen_clock.advance(days=8)
    assert not any(check.passed for check in _results(posture_controls.endpoints_encrypted).values())


def test_lost_devices_contained_fails_on_a_session_after_the_report(frozen_clock):
    import uuid

    device = make_device("LT-001")
    device_report_lost(actor=None, device_id=device.pk, state="lost", reason="left in a taxi")
    assert _results(posture_controls.lost_devices_contained)["LT-001"].passed
    frozen_clock.advance(minutes=5)
    now = clock.now()
    DeviceSession.objects.create(
        device=device, session_id=uuid.uuid4(), user_id=1, first_seen_at=now, last_seen_at=now
    )
    check = _results(posture_controls.lost_devices_contained)["LT-001"]
    assert not check.passed
    assert check.evidence["sessions_after_report"] == 1
