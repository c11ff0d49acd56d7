"""The demo's device posture step: a report for every endpoint in service, one
non-compliant laptop, certificates for the demo proxy; nothing without devices;
the same state when run twice."""

from __future__ import annotations

import pytest

from safeward.demo.device_posture import demo_fingerprint, seed_device_posture
from safeward.demo.seed import SEED_STEPS, SeedContext
from safeward.devices.models import Device, DevicePosture, PostureReport
from tests.devices.posture_support import make_device

pytestmark = pytest.mark.django_db


def _ctx(lines: list[str]) -> SeedContext:
    return SeedContext(write=lines.append, previous={})


def test_the_step_is_registered_after_the_devices_step():
    names = [step.__name__ for step in SEED_STEPS]
    assert "seed_device_posture" in names
    devices = [i for i, name in enumerate(names) if name == "seed_devices"]
    assert all(i < names.index("seed_device_posture") for i in devices)


def test_without_devices_it_does_nothing():
    lines: list[str] = []
    seed_device_posture(_ctx(lines))
    assert not PostureReport.objects.exists()
    assert lines == []


def test_endpoints_get_posture_with_one_non_compliant_laptop_and_it_is_idempotent(frozen_clock):
    make_device("W5-LT-01", serial="S1")
    make_device("W5-LT-02", serial="S2")
    make_device("W5-PH-01", kind="phone", serial="S3")
    make_device("W5-LT-99", serial="S4", lifecycle=Device.Lifecycle.STOLEN)
    make_device("W5-PUMP-01", kind="medical", serial="S5")
    lines: list[str] = []
    seed_device_posture(_ctx(lines))
    assert lines == ["Device posture: 3 endpoint(s), 1 not compliant"]
    postures = {p.device.asset_tag: p for p in DevicePosture.objects.select_related("device")}
    assert set(postures) == {"W5-LT-01", "W5-LT-02", "W5-PH-01"}
    assert postures["W5-LT-01"].compliance_reasons == ["disk_not_encrypted"]
    assert postures["W5-LT-02"].compliant
    assert postures["W5-PH-01"].compliant
    laptop = Device.objects.get(asset_tag="W5-LT-01")
    assert laptop.certificate_fingerprint == demo_fingerprint("W5-LT-01")
    seed_device_posture(_ctx(lines))
    assert PostureReport.objects.count() == 3
    assert len(lines) == 1
