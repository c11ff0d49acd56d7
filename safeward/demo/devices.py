"""The demo hospital's devices and networks (issue 14).

* Ward 3's four workstations and three laptops; one laptop was stolen
  (lifecycle set through the service; ending its sessions is the posture
  work's side).
* Six Acme Medical InfuseRx 300 infusion pumps, past their end of support,
  on the isolated clinical-device segment 210 whose only flow is to the pump
  server. Their MDS2 is on file (no encryption at rest, vendor-only
  patching, no MFA), with the compensating controls it derives; the control
  "segment 210 allows only 8443/tcp to the device servers" was put in place
  25 days ago as an interim mitigation and expires in five days.
* A CT scanner whose "vendor remote access only through the jump host"
  control expired ten days ago: the scanner is red and the sweep raises a
  `device_control_failing` alert to its owner, the biomedical engineer.

History is written through the services under a clock set back to when it
happened, so the expiry dates and the audit trail agree."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from safeward import clock
from safeward.devices import selectors, services
from safeward.devices.forms import DeviceForm
from safeward.identity.models import User

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

PUMP_MDS2 = b"""Question ID,Question,Answer,Note
DOC-1,Manufacturer name,Acme Medical,
DOC-3,Device model,InfuseRx 300,
DOC-4,Document ID,IRX-300-MDS2-2019-r4,
STCF-1,Can the device encrypt data at rest?,No,Drug library and logs on unencrypted flash
CSUP-2.2,Do only the vendor's engineers install patches?,Yes,Firmware by field service only
PAUT-8,Does the device support multi-factor authentication for remote access?,No,
MLDP-2,Is the device capable of hosting anti-malware software?,Yes,Vendor-validated agent
RDMP-4,Does the manufacturer have an end-of-life plan?,Yes,Trade-in programme
SGUD-2,Does the manufacturer document how to wipe the device?,Yes,Service manual 7.3
CONN-2,Does the device support wireless connections?,Yes,802.11ac WPA2-Enterprise
"""

SEGMENTS = (
    ("ward3-workstations", "workstations", 130, "10.30.0.0/24"),
    ("clinical-devices-210", "clinical_devices", 210, "10.210.0.0/24"),
    ("imaging-220", "clinical_devices", 220, "10.220.0.0/24"),
    ("device-servers", "data_centre", 300, "10.100.30.0/24"),
    ("pacs", "data_centre", 310, "10.100.31.0/24"),
    ("ehr", "data_centre", 320, "10.100.32.0/24"),
    ("jump-hosts", "dmz", 400, "10.40.0.0/28"),
    ("guest-wifi", "guest", 900, "172.16.0.0/16"),
)
FLOWS = (
    ("ward3-workstations", "ehr", 443, "tcp", "SafeWard and the EHR over HTTPS"),
    ("ward3-workstations", "internet", 443, "tcp", "Web through the proxy"),
    ("clinical-devices-210", "device-servers", 8443, "tcp", "Pump server: drug library and events"),
    ("imaging-220", "pacs", 104, "tcp", "DICOM to the PACS"),
    ("jump-hosts", "imaging-220", 22, "tcp", "Vendor remote service through the jump host"),
    ("guest-wifi", "internet", None, "any", "Guest internet access"),
)


def _device(segments: dict[str, int], **fields: Any) -> None:
    data = {key: value for key, value in fields.items() if key != "lifecycle"}
    if "segment" in data:
        data["segment"] = segments[data["segment"]]
    form = DeviceForm(data)
    if not form.is_valid():  # pragma: no cover - the demo's own data
        raise ValueError(f"demo device {fields['asset_tag']}: {form.errors.as_text()}")
    services.device_create(actor=None, data=form.cleaned_data)


def seed_devices(ctx: SeedContext) -> None:
    if selectors.device_by_tag(asset_tag="PUMP-0001") is not None:
        ctx.write("devices: ward devices in place")
        return
    engineer = User.objects.get(username="demo.biomedical_engineer")
    it_admin = User.objects.get(username="demo.it_admin")
    now = clock.now()
    today = now.date()
    segments: dict[str, int] = {}
    for name, zone, vlan, cidr in SEGMENTS:
        segment = services.segment_create(
            actor=it_admin, data={"name": name, "zone": zone, "vlan": vlan, "cidr": cidr, "description": ""}
        )
        segments[name] = segment.pk
    for source, destination, port, protocol, purpose in FLOWS:
        services.flow_create(
            actor=it_admin,
            source_id=segments[source],
            destination_id=None if destination == "internet" else segments[destination],
            port=port,
            protocol=protocol,
            purpose=purpose,
        )
    ward = "Main building, floor 3, ward 3"
    for number in range(1, 5):
        _device(
            segments,
            kind="workstation",
            asset_tag=f"WS-W3-{number:02d}",
            name=f"w3-ws{number:02d}",
            manufacturer="HP",
            model="EliteDesk 800 G9",
            os_name="Windows 11",
            os_version="23H2",
            location=f"{ward}, nurses' station",
            segment="ward3-workstations",
            ip_address=f"10.30.0.{10 + number}",
            end_of_support=(today + dt.timedelta(days=900)).isoformat(),
        )
    for number in range(1, 4):
        _device(
            segments,
            kind="laptop",
            asset_tag=f"LT-W3-{number:02d}",
            name=f"w3-lt{number:02d}",
            manufacturer="Dell",
            model="Latitude 7450",
            os_name="Windows 11",
            os_version="23H2",
            location=ward,
            segment="ward3-workstations",
            end_of_support=(today + dt.timedelta(days=1100)).isoformat(),
        )
    for number in range(1, 7):
        _device(
            segments,
            kind="medical",
            asset_tag=f"PUMP-{number:04d}",
            name=f"w3-pump{number}",
            manufacturer="Acme Medical",
            model="InfuseRx 300",
            serial=f"IRX3-{41000 + number}",
            os_name="IRX firmware",
            os_version="4.2.1",
            location=ward,
            segment="clinical-devices-210",
            ip_address=f"10.210.0.{20 + number}",
            end_of_support=(today - dt.timedelta(days=500)).isoformat(),
        )
    _device(
        segments,
        kind="medical",
        asset_tag="CT-01",
        name="ct-scanner-1",
        manufacturer="Siemens Healthineers",
        model="Somatom Emotion 16",
        serial="SE16-88213",
        os_name="Windows 7 Embedded",
        os_version="SP1",
        location="Main building, ground floor, imaging",
        segment="imaging-220",
        ip_address="10.220.0.5",
        end_of_support=(today - dt.timedelta(days=700)).isoformat(),
    )
    stolen = selectors.device_by_tag(asset_tag="LT-W3-03")
    assert stolen is not None
    services.device_lifecycle_set(
        actor=it_admin, device_id=stolen.pk, state="stolen", reason="Taken from a car (police report 4471)"
    )
    services.mds2_import(actor=engineer, data=PUMP_MDS2, filename="InfuseRx300-MDS2.csv", owner=engineer)
    ct = selectors.device_by_tag(asset_tag="CT-01")
    assert ct is not None
    with clock.frozen_at(now - dt.timedelta(days=25)):
        services.control_create(
            actor=engineer,
            data={
                "title": "Segment 210 allows only 8443/tcp to the device servers",
                "kind": "isolated_segment",
                "remediation": "interim",
                "owner": engineer.pk,
                "device": "",
                "manufacturer": "Acme Medical",
                "model": "InfuseRx 300",
                "description": "Interim mitigation for the end-of-support pumps until their replacement.",
                "test": "segment_only_allows",
                "test_segment": segments["clinical-devices-210"],
                "test_port": 8443,
                "test_protocol": "tcp",
                "test_destination": segments["device-servers"],
                "review_due": (now - dt.timedelta(days=25) + dt.timedelta(days=30)).date(),
                "expires_on": (now - dt.timedelta(days=25) + dt.timedelta(days=30)).date(),
            },
        )
    with clock.frozen_at(now - dt.timedelta(days=40)):
        services.control_create(
            actor=engineer,
            data={
                "title": "Vendor remote access only through the jump host",
                "kind": "jump_host",
                "remediation": "interim",
                "owner": engineer.pk,
                "device": "CT-01",
                "description": "Windows 7 Embedded; the vendor reaches it only from jump-hosts.",
                "test": "segment_only_allows",
                "test_segment": segments["imaging-220"],
                "test_port": 104,
                "test_protocol": "tcp",
                "test_destination": segments["pacs"],
                "review_due": (now - dt.timedelta(days=10)).date(),
                "expires_on": (now - dt.timedelta(days=10)).date(),
            },
        )
    _seed_flow_export(it_admin, now)
    failing = services.controls_sweep()
    ctx.write(f"devices: 14 devices, {len(SEGMENTS)} segments, 1 MDS2, {failing} control(s) failing")


# Last night's firewall export: the declared traffic, and RDP from a ward
# workstation to the device servers that nobody declared (the segments page
# shows it; no compensating control reads the workstation segment).
FLOW_EXPORT = """src_ip,dst_ip,dst_port,protocol,count,last_seen
10.210.0.14,10.100.30.5,8443,tcp,5120,{night}
10.210.0.15,10.100.30.5,8443,tcp,4980,{night}
10.220.0.7,10.100.31.10,104,tcp,860,{night}
10.30.0.21,10.100.32.8,443,tcp,22410,{night}
10.30.0.23,10.100.30.5,3389,tcp,4,{night}
10.40.0.3,10.220.0.7,22,tcp,2,{night}
172.16.4.77,93.184.216.34,443,tcp,1310,{night}
"""


def _seed_flow_export(actor: User, now: dt.datetime) -> None:
    from safeward.devices import flow_exports

    night = (now - dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = FLOW_EXPORT.format(night=night).encode()
    result = flow_exports.flow_export_import(actor=actor, data=data, filename="fw-core-last-night.csv")
    if not result.ok:  # pragma: no cover - the demo's own data
        raise ValueError(f"demo flow export: {result.errors}")
