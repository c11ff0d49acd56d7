"""Devices for the posture tests, made directly (the inventory's own factories are
the devices work's)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from safeward import clock
from safeward.devices.models import Device

FIXTURES = Path(__file__).parent / "fixtures"


def fingerprint_of(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def make_device(
    asset_tag: str,
    *,
    kind: str = Device.Kind.LAPTOP,
    serial: str = "",
    fingerprint: str | None = None,
    lifecycle: str = Device.Lifecycle.IN_SERVICE,
) -> Device:
    now = clock.now()
    return Device.objects.create(
        kind=kind,
        asset_tag=asset_tag,
        serial=serial,
        certificate_fingerprint=fingerprint,
        lifecycle=lifecycle,
        created_at=now,
        updated_at=now,
    )


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
