"""Fixtures for devices: a biomedical engineer, an isolated clinical-device
segment with its flow to the PACS, and helpers to add devices."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from safeward.devices import services
from safeward.devices.forms import DeviceForm
from safeward.devices.models import Device, NetworkSegment
from tests.factories import UserFactory

MDS2_CSV = b"""Question ID,Question,Answer,Note
DOC-1,Manufacturer name,Acme Medical,
DOC-3,Device model,InfuseRx 300,
DOC-4,Document ID,IRX-300-MDS2-2024,
STCF-1,Can the device encrypt data at rest?,No,Flash storage unencrypted
CSUP-2.2,Does the device require vendor-authorized service to install patches?,Yes,Quarterly service visits
PAUT-8,Does the device support multi-factor authentication?,No,
MLDP-2,Can the device host anti-malware?,Yes,
CONN-2,Wireless,Yes,802.11ac
"""


@pytest.fixture
def engineer(db):
    return UserFactory(roles=["biomedical_engineer"], totp_secret=True, username="biomed")


def segment(
    name: str, zone: str = NetworkSegment.Zone.CLINICAL_DEVICES, vlan: int | None = None
) -> NetworkSegment:
    return services.segment_create(actor=None, data={"name": name, "zone": zone, "vlan": vlan, "cidr": ""})


def device(tag: str, **fields: Any) -> Device:
    data: dict[str, Any] = {"kind": "medical", "asset_tag": tag}
    for key, value in fields.items():
        data[key] = value.pk if isinstance(value, NetworkSegment) else value
    form = DeviceForm({k: ("" if v is None else v) for k, v in data.items()})
    assert form.is_valid(), form.errors
    return services.device_create(actor=None, data=form.cleaned_data)


PAST = dt.date(2020, 1, 1)  # before the frozen clock's 2026-11-02
