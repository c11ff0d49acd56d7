"""Device reads for other apps: they refer to devices by id."""

from __future__ import annotations

from safeward.devices.models import Device


def device_get(*, device_id: int) -> Device | None:
    return Device.objects.select_related("segment").filter(pk=device_id).first()
