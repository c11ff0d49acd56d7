"""The demo's ward kiosk (issue 14, ADR 1018): a bedside-round kiosk workstation on ward 3,
compliant by its Fleet report, and the public SMART app whose client id lives on it,
linked to it by the demo security officer. Every token of that app is judged by the
kiosk's posture. Needs the devices step; idempotent: nothing is done once the kiosk exists."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from safeward import clock
from safeward.demo.device_posture import demo_fingerprint
from safeward.devices import selectors, services
from safeward.devices.forms import DeviceForm
from safeward.devices.oauth_links import client_link
from safeward.devices.posture import device_certificate_set, posture_import
from safeward.fhir.clients import client_register
from safeward.identity.models import User

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

KIOSK_TAG = "WS-W3-KIOSK"
KIOSK_SERIAL = "KSK0301"
KIOSK_APP = "Ward 3 bedside kiosk (SMART app)"


def seed_device_clients(ctx: SeedContext) -> None:
    if selectors.device_by_tag(asset_tag="PUMP-0001") is None:
        return  # the devices step did not run
    if selectors.device_by_tag(asset_tag=KIOSK_TAG) is not None:
        ctx.write("Ward kiosk client: in place")
        return
    it_admin = User.objects.get(username="demo.it_admin")
    officer = User.objects.get(username="demo.security_officer")
    form = DeviceForm(
        {"kind": "workstation", "asset_tag": KIOSK_TAG, "name": "ward3-kiosk", "serial": KIOSK_SERIAL}
    )
    if not form.is_valid():  # pragma: no cover - the demo's own data
        raise ValueError(f"demo device {KIOSK_TAG}: {form.errors.as_text()}")
    kiosk = services.device_create(actor=it_admin, data=form.cleaned_data)
    device_certificate_set(actor=it_admin, device_id=kiosk.pk, fingerprint=demo_fingerprint(KIOSK_TAG))
    host = {
        "hostname": "ward3-kiosk",
        "hardware_serial": KIOSK_SERIAL,
        "platform": "windows",
        "os_version": "Windows 11 Enterprise 24H2",
        "seen_time": (clock.now() - dt.timedelta(minutes=20)).isoformat(),
        "disk_encryption_enabled": True,
        "policies": [{"name": "Passcode required", "response": "pass"}],
    }
    posture_import(
        actor=None, source="fleet", data=json.dumps({"hosts": [host]}).encode(), filename="demo-kiosk.json"
    )
    registered = client_register(
        actor=None,
        name=KIOSK_APP,
        owner=it_admin,
        grant="authorization-code",
        client_type="public",
        scopes="openid fhirUser user/Patient.rs user/Observation.rs",
        redirect_uris="https://localhost/ward3-kiosk/callback",
        expires_at=clock.now() + dt.timedelta(days=365),
    )
    client_link(
        actor=officer,
        device_id=kiosk.pk,
        client_id=registered.registration.application.client_id,
        reason="Ward 3 bedside-round kiosk: the app's client id is installed on this workstation only",
    )
    ctx.write(f"Ward kiosk client: {KIOSK_APP} linked to {KIOSK_TAG}")
