"""Fixtures for patching: assets in the DMZ and the data centre, a medical
device, a hand-written Heartbleed OSV record and SBOMs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from safeward import clock
from safeward.assets.services import asset_create
from safeward.devices.models import Device, NetworkSegment
from tests.factories import UserFactory

HEARTBLEED = {
    "id": "SAFEWARD-2014-0160",
    "summary": "OpenSSL heartbeat read overrun (Heartbleed)",
    "aliases": ["CVE-2014-0160"],
    "modified": "2024-01-01T00:00:00Z",
    "published": "2014-04-07T22:55:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
    "affected": [
        {
            "package": {"ecosystem": "", "name": "openssl", "purl": "pkg:generic/openssl"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0.1"}, {"fixed": "1.0.1g"}]}],
            "database_specific": {"cpes": ["cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*"]},
        }
    ],
}

KEV = {
    "title": "CISA Catalog of Known Exploited Vulnerabilities",
    "catalogVersion": "2025.08.25",
    "dateReleased": "2025-08-25T00:00:00.000Z",
    "count": 1,
    "vulnerabilities": [
        {
            "cveID": "CVE-2014-0160",
            "vendorProject": "OpenSSL",
            "product": "OpenSSL",
            "vulnerabilityName": "OpenSSL Information Disclosure Vulnerability",
            "dateAdded": "2022-05-04",
            "shortDescription": "Heartbleed.",
            "requiredAction": "Apply updates per vendor instructions.",
            "dueDate": "2022-05-25",
            "knownRansomwareCampaignUse": "Unknown",
            "notes": "",
            "cwes": ["CWE-125"],
        }
    ],
}


def cyclonedx(components: list[dict[str, Any]], spec: str = "1.5") -> bytes:
    return json.dumps(
        {"bomFormat": "CycloneDX", "specVersion": spec, "version": 1, "components": components}
    ).encode()


def openssl(version: str = "1.0.1f") -> bytes:
    return cyclonedx(
        [
            {
                "type": "library",
                "name": "openssl",
                "version": version,
                "purl": f"pkg:generic/openssl@{version}",
                "bom-ref": "openssl",
            }
        ]
    )


@pytest.fixture
def engineer(db):
    return UserFactory(roles=["security_officer"], totp_secret=True, username="seceng")


@pytest.fixture
def approver(db):
    return UserFactory(roles=["compliance_officer"], totp_secret=True, username="comply")


@pytest.fixture
def dmz_asset(db):
    return asset_create(
        actor=None, values={"name": "Interface engine (DMZ)", "kind": "server", "network_zone": "dmz"}
    )


@pytest.fixture
def dc_asset(db):
    return asset_create(
        actor=None,
        values={"name": "Interface engine (data centre)", "kind": "server", "network_zone": "data_centre"},
    )


@pytest.fixture
def pump(db):
    now = clock.now()
    segment = NetworkSegment.objects.create(
        name="Clinical VLAN", zone=NetworkSegment.Zone.CLINICAL_DEVICES, created_at=now, updated_at=now
    )
    return Device.objects.create(
        kind=Device.Kind.MEDICAL,
        asset_tag="PUMP-1",
        name="Infusion pump",
        segment=segment,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def heartbleed(db):
    from safeward.patching import services

    services.osv_import(actor=None, raw=json.dumps(HEARTBLEED).encode(), filename="heartbleed.json")
    return HEARTBLEED


@pytest.fixture
def plannable_finding(engineer, dmz_asset, heartbleed):
    """Heartbleed on the DMZ interface engine, open: what a patch plan is for."""
    from safeward.patching import services
    from safeward.patching.models import Finding

    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    return Finding.objects.get()
