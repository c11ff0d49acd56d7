"""Posture reads: a device's current posture and history, the devices whose
posture fails, the wipe requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from safeward import clock
from safeward.devices.models import Device, DevicePosture, DeviceSession, PostureReport, WipeRequest
from safeward.devices.posture import check_in_days

HISTORY = 20
POSTURE_KINDS = (Device.Kind.LAPTOP, Device.Kind.WORKSTATION, Device.Kind.PHONE, Device.Kind.TABLET)


@dataclass(frozen=True)
class PosturePanel:
    device: Device
    current: DevicePosture | None
    stale: bool
    history: list[PostureReport]
    sessions: list[DeviceSession]
    wipes: list[WipeRequest]


def posture_panel(*, device: Device) -> PosturePanel:
    current = DevicePosture.objects.filter(device=device).first()
    stale = current is not None and (
        current.last_check_in is None
        or clock.now() - current.last_check_in > dt.timedelta(days=check_in_days())
    )
    return PosturePanel(
        device=device,
        current=current,
        stale=stale,
        history=list(PostureReport.objects.filter(device=device)[:HISTORY]),
        sessions=list(DeviceSession.objects.filter(device=device)[:HISTORY]),
        wipes=list(WipeRequest.objects.filter(device=device)),
    )


def posture_device_get(*, device_id: int) -> Device | None:
    return Device.objects.filter(pk=device_id).first()


def posture_failing(*, limit: int = 500) -> QuerySet[Device]:
    """In-service endpoint devices with no posture, a non-compliant one or a stale one."""
    cutoff = clock.now() - dt.timedelta(days=check_in_days())
    return (
        Device.objects.filter(lifecycle=Device.Lifecycle.IN_SERVICE, kind__in=POSTURE_KINDS)
        .filter(
            Q(posture__isnull=True)
            | Q(posture__compliant=False)
            | Q(posture__last_check_in__isnull=True)
            | Q(posture__last_check_in__lt=cutoff)
        )
        .select_related("posture")
        .order_by("asset_tag")[:limit]
    )


def posture_counts() -> dict[str, int]:
    endpoints = Device.objects.filter(lifecycle=Device.Lifecycle.IN_SERVICE, kind__in=POSTURE_KINDS)
    return {
        "endpoints": endpoints.count(),
        "reported": endpoints.filter(posture__isnull=False).count(),
        "compliant": endpoints.filter(posture__compliant=True).count(),
    }


def wipe_requests_open() -> QuerySet[WipeRequest]:
    return WipeRequest.objects.filter(status=WipeRequest.Status.REQUESTED).select_related("device")


@dataclass(frozen=True)
class WipeRow:
    wipe: WipeRequest
    state: str  # confirmed / pending / overdue (wipes.wipe_state)


def wipe_rows(*, open_only: bool = False, limit: int = 200) -> list[WipeRow]:
    """Wipe requests, newest first, each with its confirmation state."""
    from safeward.devices.wipes import wipe_state

    wipes = wipe_requests_open() if open_only else WipeRequest.objects.select_related("device")
    now = clock.now()
    return [WipeRow(wipe, wipe_state(wipe, now=now)) for wipe in wipes.order_by("-requested_at")[:limit]]


def wipe_get(*, wipe_id: int) -> WipeRequest | None:
    return WipeRequest.objects.select_related("device").filter(pk=wipe_id).first()


def posture_endpoints_in_service() -> list[Device]:
    """Laptops, workstations, phones and tablets in service, by asset tag."""
    return list(
        Device.objects.filter(lifecycle=Device.Lifecycle.IN_SERVICE, kind__in=POSTURE_KINDS).order_by(
            "asset_tag"
        )
    )


def posture_reported_device_ids(*, device_ids: list[int]) -> set[int]:
    """Which of these devices have a current posture."""
    return set(DevicePosture.objects.filter(device_id__in=device_ids).values_list("device_id", flat=True))


def posture_last_checkins(device_ids: Sequence[int]) -> dict[int, dt.datetime]:
    """The last check-in each device's MDM export reported, for the devices that have one."""
    rows = DevicePosture.objects.filter(device_id__in=list(device_ids), last_check_in__isnull=False)
    pairs = rows.values_list("device_id", "last_check_in")
    return {device_id: at for device_id, at in pairs if at is not None}
