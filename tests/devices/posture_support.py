"""Devices for the posture tests, made directly (the inventory's own factories are
the devices work's)."""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

from safeward import clock
from safeward.devices.models import Device
from safeward.devices.posture import posture_import
from safeward.identity.models import NetworkZone
from safeward.identity.network import zone_table

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


GOOD = fingerprint_of("good-laptop")  # LT-GOOD: compliant in the Fleet fixture
BAD = fingerprint_of("bad-laptop")  # LT-BAD: not compliant


def ward_behind_proxies(settings) -> None:
    """A clinical ward zone (loopback and 10.0.0.4/31) whose device proxies in
    10.0.0.0/29 are trusted, and two laptops the Fleet fixture reports on:
    LT-GOOD compliant, LT-BAD not."""
    settings.SAFEWARD_DEVICE_PROXIES = [ipaddress.ip_network("10.0.0.0/29")]
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "10.0.0.4/31"], clinical=True)
    zone_table.clear()
    make_device("LT-GOOD", serial="C02PW0001", fingerprint=GOOD)
    make_device("LT-BAD", serial="PF4XW0002", fingerprint=BAD)
    posture_import(actor=None, source="fleet", data=fixture("posture_fleet.json"))
