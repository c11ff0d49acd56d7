"""The demo hospital's software inventories and vulnerabilities (issue 17).

* The HL7 interface engine runs on two servers: one in the DMZ (it takes
  results from the outside laboratory), one in the data centre. Both carry
  `openssl 1.0.1f`, so Heartbleed (CVE-2014-0160) is matched, critical (its
  KEV listing raises CVSS 7.5), KEV-listed, due in 14 days in the DMZ and 30
  in the data centre.
* The EHR application server's Python packages include `aiohttp 3.8.5`
  (PYSEC-2023-246, high, fixed in 3.8.6).
* SafeWard's own SBOM (importlib.metadata -> CycloneDX) is the inventory of
  its application asset.
* The legacy infusion pump fleet (firmware with openssl 1.0.1f) cannot be
  patched: an exception (reduce), asked by the biomedical engineer and
  approved by the compliance officer, expires in 5 days; its compensating
  control is `patching.inventory_current` on the fleet's inventory (the
  devices work's `devices.compensating_controls` is not on main yet).
* Patch plans: the DMZ engine's OpenSSL upgrade is scheduled under change
  record CHG0031234 in a night window three days out; the data-centre
  engine's is planned, waiting for its change record.

Advisories: Heartbleed is a hand-written OSV record (the shared export is the
PyPA database, PyPI only, without OpenSSL); the aiohttp record is the real
PYSEC-2023-246, abridged. KEV: the real CVE-2014-0160 entry of the
2025.08.25 catalog."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from safeward import clock
from safeward.assets import selectors as assets
from safeward.assets import services as asset_services
from safeward.demo.assets import demo_people, owners_values
from safeward.identity.models import User
from safeward.patching import selectors, services

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

HEARTBLEED: dict[str, Any] = {
    "id": "SAFEWARD-DEMO-2014-0160",
    "summary": "OpenSSL TLS heartbeat read overrun (Heartbleed)",
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
    "references": [{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2014-0160"}],
}
AIOHTTP: dict[str, Any] = {
    "id": "PYSEC-2023-246",
    "summary": "aiohttp HTTP request smuggling through inconsistent header parsing",
    "aliases": ["CVE-2023-47627", "GHSA-gfw2-4jvh-wgfg"],
    "modified": "2023-11-22T23:23:57.547793Z",
    "published": "2023-11-14T21:15:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "aiohttp", "purl": "pkg:pypi/aiohttp"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.8.6"}]}],
        }
    ],
}
KEV: dict[str, Any] = {
    "title": "CISA Catalog of Known Exploited Vulnerabilities",
    "catalogVersion": "2025.08.25",
    "vulnerabilities": [
        {
            "cveID": "CVE-2014-0160",
            "vendorProject": "OpenSSL",
            "product": "OpenSSL",
            "vulnerabilityName": "OpenSSL Information Disclosure Vulnerability",
            "dateAdded": "2022-05-04",
            "shortDescription": "The TLS and DTLS implementations in OpenSSL do not properly handle Heartbeat"
            " Extension packets, which allows remote attackers to obtain sensitive information.",
            "requiredAction": "Apply updates per vendor instructions.",
            "dueDate": "2022-05-25",
            "knownRansomwareCampaignUse": "Unknown",
            "notes": "https://nvd.nist.gov/vuln/detail/CVE-2014-0160",
            "cwes": ["CWE-125"],
        }
    ],
}

ENGINE_DMZ = "HL7 interface engine (DMZ node)"
ENGINE_DC = "HL7 interface engine (data centre node)"
EHR_APP = "EHR (electronic health record)"
PUMPS = "Legacy infusion pump fleet (Alaris 8015)"
NEW_ASSETS: list[tuple[str, dict[str, Any]]] = [
    (
        ENGINE_DMZ,
        {
            "kind": "server",
            "location": "Main site, DMZ rack A1",
            "network_zone": "DMZ",
            "criticality": "high",
            "description": "Receives results from the reference laboratory over MLLP/TLS.",
        },
    ),
    (
        ENGINE_DC,
        {
            "kind": "server",
            "location": "Main site, data centre room B2",
            "network_zone": "Data centre",
            "criticality": "high",
            "description": "Routes ADT and orders between the EHR and departmental systems.",
        },
    ),
    (
        PUMPS,
        {
            "kind": "integration_endpoint",
            "location": "Wards 3 and 4",
            "network_zone": "Clinical VLAN",
            "criticality": "critical",
            "clinical_services": ["Inpatient wards"],
            "description": "42 pumps past the manufacturer's end of support; replacement budgeted next year.",
        },
    ),
]


def _engine_sbom() -> bytes:
    components = [
        ("openssl", "1.0.1f", "pkg:generic/openssl@1.0.1f"),
        ("zlib", "1.2.13", "pkg:generic/zlib@1.2.13"),
        ("mirth-connect", "4.4.1", "pkg:generic/mirth-connect@4.4.1"),
    ]
    return json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "components": [
                {"type": "library", "name": n, "version": v, "purl": p, "bom-ref": f"{n}@{v}"}
                for n, v, p in components
            ],
        }
    ).encode()


EHR_PACKAGES = b"aiohttp==3.8.5\nrequests==2.32.3\nurllib3==2.2.2\n"
PUMP_FIRMWARE = b"Alaris 8015 PC unit 9.19.2\ncpe:2.3:a:openssl:openssl:1.0.1f\n"


def _asset_id(name: str) -> int | None:
    found = assets.assets_list(query=name).filter(name=name).first()
    return found.pk if found else None


def seed_patching(ctx: SeedContext) -> None:
    # Feeds once: a second seed changes nothing and records nothing.
    if selectors.kev_entry(cve_ids=["CVE-2014-0160"]) is None:
        services.osv_import(
            actor=None, raw=json.dumps([HEARTBLEED, AIOHTTP]).encode(), filename="demo-osv.json"
        )
        services.kev_import(actor=None, raw=json.dumps(KEV).encode())
    ids: dict[str, int] = {}
    for name, values in NEW_ASSETS:
        existing = _asset_id(name)
        if existing is None:
            existing = asset_services.asset_create(actor=None, values={"name": name, **values}).pk
        ids[name] = existing
    ehr = _asset_id(EHR_APP)
    inventories = [(ids[ENGINE_DMZ], _engine_sbom(), ""), (ids[ENGINE_DC], _engine_sbom(), "")]
    if ehr is not None:
        inventories.append((ehr, EHR_PACKAGES, "pip"))
    inventories.append((ids[PUMPS], PUMP_FIRMWARE, "firmware"))
    for target, raw, fmt in inventories:
        if selectors.inventory_for(target_kind="asset", target_id=target) is None:
            services.inventory_import(actor=None, target_kind="asset", target_id=target, raw=raw, fmt=fmt)
    own = selectors.inventories_current().filter(format="cyclonedx_json", component_count__gt=20).exists()
    if not own:
        services.self_register(actor=None)
    _seed_pump_exception(ctx, ids[PUMPS])
    _seed_engine_plans(ids[ENGINE_DMZ], ids[ENGINE_DC])
    _assign_owners(ctx)
    board = selectors.dashboard()
    ctx.write(
        f"Vulnerabilities: {sum(board.by_severity.values())} open findings, {board.kev} known exploited"
        f" (Heartbleed on {ENGINE_DMZ} and {ENGINE_DC})."
    )


# Every demo asset has an owner and a custodian (the asset register's demo, issue 13).
OWNERS: dict[str, tuple[str, str]] = {
    ENGINE_DMZ: ("security_officer", "it_admin"),
    ENGINE_DC: ("security_officer", "it_admin"),
    PUMPS: ("biomedical_engineer", "biomedical_engineer"),
    "SafeWard application": ("security_officer", "it_admin"),
}


def _assign_owners(ctx: SeedContext) -> None:
    people = demo_people(ctx)
    for name, roles in OWNERS.items():
        asset_id = _asset_id(name)
        asset = assets.asset_get(asset_id=asset_id) if asset_id is not None else None
        values = owners_values(people, roles)
        if asset is not None and values and asset.owner_person_id is None:
            asset_services.asset_update(actor=None, asset_id=asset.pk, values=values)


def _seed_pump_exception(ctx: SeedContext, pumps: int) -> None:
    findings = selectors.findings_list(target=f"asset:{pumps}")
    if not findings or selectors.finding_exceptions(finding=findings[0]).exists():
        return
    requester = User.objects.get(username="demo.biomedical_engineer")
    approver = User.objects.get(username="demo.compliance_officer")
    exception = services.exception_request(
        actor=requester,
        finding_id=findings[0].pk,
        decision="reduce",
        justification="The pumps' firmware cannot be updated; they sit on the clinical VLAN with no route"
        " to the"
        " internet and TLS heartbeat blocked at the VLAN firewall. Replacement next budget year.",
        controls=[("patching.inventory_current", f"asset:{pumps}")],
        expires_on=clock.now().date() + dt.timedelta(days=5),
    )
    services.exception_decide(actor=approver, exception_id=exception.pk, approve=True)


def _seed_engine_plans(dmz: int, data_centre: int) -> None:
    if selectors.plans_list(status="").exists():
        return
    engineer = User.objects.get(username="demo.it_admin")
    night = (clock.now() + dt.timedelta(days=3)).replace(hour=22, minute=0, second=0, microsecond=0)
    for target, change_ref, start in (
        (dmz, "CHG0031234", night),
        (data_centre, "", night + dt.timedelta(days=4)),
    ):
        findings = [f.pk for f in selectors.findings_plannable(target_kind="asset", target_id=target)]
        if findings:
            services.plan_create(
                actor=engineer,
                target_kind="asset",
                target_id=target,
                finding_ids=findings,
                title="OpenSSL 1.0.1g on the HL7 interface engine",
                window_start=start,
                window_end=start + dt.timedelta(hours=4),
                change_ref=change_ref,
                notes="Rollback: reinstall 1.0.1f from the local mirror; check the HL7 feed after.",
            )
