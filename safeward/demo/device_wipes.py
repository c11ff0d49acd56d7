"""The demo's remote wipes (issue 14, ADR 1017): two ward phones reported lost. The MDM's
(Fleet) export reports the first wiped, so its wipe is confirmed; the second's wipe is
still awaiting the MDM. Needs the devices step (the demo IT administrator and ward);
idempotent: nothing is done once the phones exist."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from safeward import clock
from safeward.devices import selectors, services
from safeward.devices.forms import DeviceForm
from safeward.devices.posture import device_report_lost, posture_import
from safeward.identity.models import User

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

PHONES = (
    ("PH-W3-01", "DNPX0301", "Left on the bus, route 12 (reported by the nurse in charge)"),
    ("PH-W3-02", "DNPX0302", "Not returned at shift change; last seen in the ward 3 office"),
)


def seed_device_wipes(ctx: SeedContext) -> None:
    if selectors.device_by_tag(asset_tag="PUMP-0001") is None:
        return  # the devices step did not run
    if selectors.device_by_tag(asset_tag=PHONES[0][0]) is not None:
        ctx.write("Device wipes: in place")
        return
    it_admin = User.objects.get(username="demo.it_admin")
    for asset_tag, serial, reason in PHONES:
        form = DeviceForm(
            {"kind": "phone", "asset_tag": asset_tag, "name": asset_tag.lower(), "serial": serial}
        )
        if not form.is_valid():  # pragma: no cover - the demo's own data
            raise ValueError(f"demo device {asset_tag}: {form.errors.as_text()}")
        device = services.device_create(actor=it_admin, data=form.cleaned_data)
        device_report_lost(actor=it_admin, device_id=device.pk, state="lost", reason=reason)
    wiped = {
        "hostname": PHONES[0][0].lower(),
        "hardware_serial": PHONES[0][1],
        "platform": "ios",
        "seen_time": clock.now().isoformat(),
        "mdm": {"device_status": "wiped"},
    }
    result = posture_import(
        actor=None, source="fleet", data=json.dumps({"hosts": [wiped]}).encode(), filename="demo-wipes.json"
    )
    ctx.write(f"Device wipes: {result.wipes_confirmed} confirmed by the MDM, 1 awaiting it")
