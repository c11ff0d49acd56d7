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
* Remediation history: the engines' zlib 1.2.11 (CVE-2018-25032, found 150
  days ago; the DMZ node fixed after 45 days, late, the data-centre node after
  20) and the EHR server's requests 2.28.1 and urllib3 1.26.15 (found 110
  days ago, fixed after 35), so the remediation tables measure something.
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

# Remediation history: what was found and fixed over the past months, so the
# dashboard's mean-time-to-remediate and in-time tables have something to show.
# zlib's record is hand-written like Heartbleed's (not a PyPI package); the
# requests and urllib3 records are the real PyPA ones, abridged.
ZLIB: dict[str, Any] = {
    "id": "SAFEWARD-DEMO-2018-25032",
    "summary": "zlib memory corruption when deflating input with many distant matches",
    "aliases": ["CVE-2018-25032"],
    "modified": "2024-01-01T00:00:00Z",
    "published": "2022-03-25T09:15:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "", "name": "zlib", "purl": "pkg:generic/zlib"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.12"}]}],
        }
    ],
}
REQUESTS: dict[str, Any] = {
    "id": "PYSEC-2023-74",
    "summary": "requests leaks Proxy-Authorization headers to destination servers on redirect",
    "aliases": ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"],
    "modified": "2023-06-05T01:13:00.534973Z",
    "published": "2023-05-26T18:15:00Z",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "requests", "purl": "pkg:pypi/requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]}],
        }
    ],
}
URLLIB3: dict[str, Any] = {
    "id": "PYSEC-2023-192",
    "summary": "urllib3 does not strip the Cookie header on a cross-origin redirect",
    "aliases": ["CVE-2023-43804", "GHSA-v845-jxx5-vc9f"],
    "modified": "2023-10-10T14:28:19.389317Z",
    "published": "2023-10-04T17:15:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "urllib3", "purl": "pkg:pypi/urllib3"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [
                        {"introduced": "2.0.0"},
                        {"fixed": "2.0.6"},
                        {"introduced": "0"},
                        {"fixed": "1.26.17"},
                    ],
                }
            ],
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
    # Targets without an inventory yet: the first seed. Their past comes first, then their present.
    fresh = {
        target
        for target, _, _ in inventories
        if selectors.inventory_for(target_kind="asset", target_id=target) is None
    }
    _seed_remediation_history(fresh, ids[ENGINE_DMZ], ids[ENGINE_DC], ehr)
    for target, raw, fmt in inventories:
        if target in fresh:
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


def _pip(*packages: str) -> bytes:
    return "\n".join(packages).encode()


def _engine_history_sbom(zlib: str) -> bytes:
    # The engines' package-manager SBOMs of the spring did not list the bundled OpenSSL.
    return json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "components": [
                {"type": "library", "name": "zlib", "version": zlib, "purl": f"pkg:generic/zlib@{zlib}"},
                {
                    "type": "application",
                    "name": "mirth-connect",
                    "version": "4.4.1",
                    "purl": "pkg:generic/mirth-connect@4.4.1",
                },
            ],
        }
    ).encode()


def _seed_remediation_history(fresh: set[int], dmz: int, data_centre: int, ehr: int | None) -> None:
    """Inventories of the past months, each followed by the one that fixed it:
    the findings they make resolve themselves as in production, at the time
    they did (the clock moved back for each step). Only for `fresh` targets
    (no inventory yet), before their current one: a second seed does nothing.
    The DMZ engine's zlib fix came after its 30 days; the others in time."""
    now = clock.now().replace(hour=9, minute=0, second=0, microsecond=0)
    steps: list[tuple[int, int, int, bytes, bytes, str]] = [
        # (target, days ago found, days to fix, vulnerable inventory, fixed inventory, format)
        (dmz, 150, 45, _engine_history_sbom("1.2.11"), _engine_history_sbom("1.2.13"), ""),
        (data_centre, 150, 20, _engine_history_sbom("1.2.11"), _engine_history_sbom("1.2.13"), ""),
    ]
    if ehr is not None:
        steps.append(
            (
                ehr,
                110,
                35,
                _pip("requests==2.28.1", "urllib3==1.26.15"),
                _pip("requests==2.31.0", "urllib3==1.26.18"),
                "pip",
            )
        )
    steps = [
        step for step in steps if selectors.inventory_for(target_kind="asset", target_id=step[0]) is None
    ]
    if not steps:
        return
    with clock.frozen_at(now - dt.timedelta(days=200)):
        services.osv_import(
            actor=None, raw=json.dumps([ZLIB, REQUESTS, URLLIB3]).encode(), filename="history.json"
        )
    for target, ago, days, vulnerable, fixed, fmt in steps:
        found = now - dt.timedelta(days=ago)
        with clock.frozen_at(found):
            services.inventory_import(
                actor=None, target_kind="asset", target_id=target, raw=vulnerable, fmt=fmt
            )
        with clock.frozen_at(found + dt.timedelta(days=days)):
            services.inventory_import(actor=None, target_kind="asset", target_id=target, raw=fixed, fmt=fmt)


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
