"""`{% posture_panel device %}`: the posture history panel of a device page."""

from __future__ import annotations

from typing import Any

from django import template

from safeward.devices.models import Device
from safeward.devices.oauth_links import LINK_PERMISSION, client_links
from safeward.devices.posture_selectors import posture_panel
from safeward.identity.models import User
from safeward.identity.permissions import Perm

register = template.Library()


@register.inclusion_tag("devices/posture/_device_panel_body.html", takes_context=True)
def posture_panel_for(context: dict[str, Any], device: Device) -> dict[str, Any]:
    request = context.get("request")
    reader = getattr(request, "user", None)
    return {
        "panel": posture_panel(device=device),
        "device": device,
        # OAuth clients whose credentials live on it (ADR 1018).
        "client_links": client_links(device_id=device.pk),
        "can_link": isinstance(reader, User) and reader.has_perm(LINK_PERMISSION),
        "can_open_client": isinstance(reader, User) and reader.has_perm(Perm.FHIR_CLIENT_MANAGE),
        "csrf_token": context.get("csrf_token"),
    }
