"""Posture control tests (safeward/compliance.py). Imported by
`safeward/devices/controls.py` (one line) so discovery finds them.

* `devices.endpoints_encrypted`: every in-service laptop, workstation, phone and
  tablet (any of them may hold patient data: sessions from them reach the chart)
  reports disk encryption and a passcode, and checked in within
  SAFEWARD_POSTURE_CHECK_IN_DAYS.
* `devices.lost_devices_contained`: every device reported lost or stolen has a
  remote-wipe request, confirmed by the MDM or a person within
  SAFEWARD_WIPE_CONFIRM_HOURS (ADR 1017), and no session seen from it after it
  was reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.compliance import Check, control
from safeward.devices.models import Device, DevicePosture, DeviceSession, WipeRequest
from safeward.devices.posture import check_in_days
from safeward.devices.posture_selectors import POSTURE_KINDS
from safeward.devices.wipes import wipe_state


@control(
    "devices.endpoints_encrypted",
    title="Endpoints in service are encrypted, locked by a passcode and checked in recently",
    maps=(
        "hipaa:164.312(a)(2)(iv)",
        "hipaa:164.310(d)(1)",
        "hipaa:164.310(b)",
        "iso27001-2022:A.8.1",
        "csf2:PR.DS-01",
        "hicp:2.M.A",
        "hicp:2.L.B",
    ),
)
def endpoints_encrypted(now: dt.datetime) -> Iterator[Check]:
    window = dt.timedelta(days=check_in_days())
    devices = Device.objects.filter(lifecycle=Device.Lifecycle.IN_SERVICE, kind__in=POSTURE_KINDS)
    postures = {p.device_id: p for p in DevicePosture.objects.filter(device__in=devices)}
    for device in devices.order_by("asset_tag"):
        posture = postures.get(device.pk)
        failing: list[str] = []
        if posture is None:
            failing.append("no_posture_report")
        else:
            if posture.disk_encrypted is not True:
                failing.append("disk_not_encrypted")
            if posture.passcode_set is False:
                failing.append("no_passcode")
            if posture.jailbroken is True:
                failing.append("jailbroken")
            if posture.last_check_in is None or now - posture.last_check_in > window:
                failing.append("check_in_stale")
        yield Check(
            "device",
            str(device.pk),
            device.asset_tag,
            passed=not failing,
            evidence={
                "kind": device.kind,
                "failing": failing,
                "source": posture.source if posture else None,
                "last_check_in": posture.last_check_in.isoformat()
                if posture and posture.last_check_in
                else None,
                "check_in_days": check_in_days(),
            },
        )


@control(
    "devices.lost_devices_contained",
    title="Every device reported lost or stolen is wiped (confirmed in time) and has no session since",
    maps=("hipaa:164.310(d)(1)", "hipaa:164.308(a)(6)(ii)", "iso27001-2022:A.8.1", "hicp:2.L.B"),
)
def lost_devices_contained(now: dt.datetime) -> Iterator[Check]:
    lost = Device.objects.filter(lifecycle__in=(Device.Lifecycle.LOST, Device.Lifecycle.STOLEN))
    for device in lost.order_by("asset_tag"):
        wipe = WipeRequest.objects.filter(device=device).order_by("-requested_at").first()
        since = device.lifecycle_changed_at or (wipe.requested_at if wipe else now)
        later = DeviceSession.objects.filter(device=device, last_seen_at__gt=since).count()
        state = wipe_state(wipe, now=now) if wipe is not None else None
        yield Check(
            "device",
            str(device.pk),
            device.asset_tag,
            passed=state in ("confirmed", "pending") and later == 0,
            evidence={
                "lifecycle": device.lifecycle,
                "wipe_request": wipe.pk if wipe else None,
                "wipe": state,
                "confirmed_by": wipe.confirmation_source if wipe else None,
                "sessions_after_report": later,
            },
        )
