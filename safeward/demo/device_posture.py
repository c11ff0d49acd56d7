"""The demo hospital's endpoint posture (issue 14): a Fleet report for every laptop,
workstation, phone and tablet in service that the devices step seeded (none: nothing
to do). Each gets a client certificate fingerprint (SHA-256 of
"safeward-demo-device:<asset tag>", so the demo proxy can present it) if it has none.
The first laptop by asset tag reports its disk unencrypted: a non-compliant laptop,
from which a clinician reads the chart but may not download documents. Idempotent:
devices that already have a posture are left alone."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING

from safeward import clock
from safeward.devices.posture import device_certificate_set, posture_import
from safeward.devices.posture_selectors import posture_endpoints_in_service, posture_reported_device_ids

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext


def demo_fingerprint(asset_tag: str) -> str:
    return hashlib.sha256(f"safeward-demo-device:{asset_tag}".encode()).hexdigest()


def seed_device_posture(ctx: SeedContext) -> None:
    endpoints = posture_endpoints_in_service()
    if not endpoints:
        return
    for device in endpoints:
        if not device.certificate_fingerprint:
            device_certificate_set(
                actor=None, device_id=device.pk, fingerprint=demo_fingerprint(device.asset_tag)
            )
    reported = posture_reported_device_ids(device_ids=[device.pk for device in endpoints])
    pending = [device for device in endpoints if device.pk not in reported]
    if not pending:
        return
    laptops = [d.pk for d in endpoints if d.kind == "laptop"]
    bad_laptop = laptops[0] if laptops else None
    now = clock.now()
    hosts = []
    for index, device in enumerate(pending):
        mobile = device.kind in ("phone", "tablet")
        hosts.append(
            {
                "hostname": device.name or device.asset_tag.lower(),
                "hardware_serial": device.serial,
                "certificate_sha256": device.certificate_fingerprint or demo_fingerprint(device.asset_tag),
                "platform": "ios" if mobile else "darwin",
                "os_version": device.os_version or ("iOS 18.1" if mobile else "macOS 15.1"),
                "seen_time": (now - dt.timedelta(hours=1 + index)).isoformat(),
                "disk_encryption_enabled": device.pk != bad_laptop,
                "policies": [
                    {"name": "Passcode required", "response": "pass"},
                    {"name": "Device not jailbroken", "response": "pass"},
                ],
            }
        )
    result = posture_import(
        actor=None, source="fleet", data=json.dumps({"hosts": hosts}).encode(), filename="demo-fleet.json"
    )
    ctx.write(f"Device posture: {result.imported} endpoint(s), {result.non_compliant} not compliant")
