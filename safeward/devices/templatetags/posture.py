"""`{% posture_panel device %}`: the posture history panel of a device page."""

from __future__ import annotations

from typing import Any

from django import template

from safeward.devices.models import Device
from safeward.devices.posture_selectors import posture_panel

register = template.Library()


@register.inclusion_tag("devices/posture/_device_panel_body.html")
def posture_panel_for(device: Device) -> dict[str, Any]:
    return {"panel": posture_panel(device=device)}
