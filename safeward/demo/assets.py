"""The demo hospital's asset register: the systems a newcomer expects (EHR
and its database, PACS, the lab interface, a shared drive, backups, paper
records) and the two lapses the register exists to catch: a shared drive
whose review is overdue and a cloud e-mail formatting service whose risk
assessment lapsed a year ago (the HCA 2023 breach). SafeWard registers its
own stores beside them, classified from the model metadata.

Every asset has an owner and a custodian from the demo workforce, but one:
the e-mail formatting service, which nobody owns (that is how HCA's
"external storage location" went unassessed), so the register shows what
an ownerless asset looks like."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from safeward import clock
from safeward.assets import selectors, services
from safeward.workforce.selectors import person_for_user

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

ALL_PHI = ["clinical", "contact", "demographic", "encounter", "financial", "identifier"]


def _register(today: dt.date, departments: dict[str, int]) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(name, fields, names it depends on), dependencies listed before their dependents."""

    def days(n: int) -> dt.date:
        return today + dt.timedelta(days=n)

    reviewed = {
        "review_state": "reviewed",
        "last_reviewed_on": days(-60),
        "next_review_due": days(305),
        "last_assessed_on": days(-120),
        "next_assessment_due": days(245),
    }
    return [
        (
            "EHR database",
            {
                "kind": "database",
                "location": "Main site, data centre room B2",
                "network_zone": "Server VLAN",
                "classification": "highly_sensitive",
                "phi_categories": ALL_PHI,
                "record_count_estimate": 412_000,
                "encrypted_at_rest": "yes",
                "encrypted_at_rest_evidence": "TDE enabled; key in the HSM (change 2291).",
                "encrypted_in_transit": "yes",
                "encrypted_in_transit_evidence": "TLS 1.3 required by pg_hba hostssl.",
                "retention": "10 years after the last encounter",
                "criticality": "critical",
                "rto_minutes": 240,
                "rpo_minutes": 15,
                **reviewed,
            },
            [],
        ),
        (
            "EHR (electronic health record)",
            {
                "kind": "application",
                "location": "Main site, data centre room B2",
                "network_zone": "Clinical VLAN",
                "classification": "highly_sensitive",
                "phi_categories": ALL_PHI,
                "record_count_estimate": 412_000,
                "encrypted_at_rest": "yes",
                "encrypted_in_transit": "yes",
                "criticality": "critical",
                "rto_minutes": 240,
                "rpo_minutes": 15,
                "clinical_services": ["Emergency", "Inpatient wards", "Outpatient clinics", "Theatres"],
                "department_ids": sorted(departments.values()),
                **reviewed,
            },
            ["EHR database"],
        ),
        (
            "PACS image archive",
            {
                "kind": "object_store",
                "location": "Main site, data centre room B2",
                "network_zone": "Server VLAN",
                "hosting": "on_premises",
                "classification": "highly_sensitive",
                "phi_categories": ["clinical", "demographic", "identifier"],
                "record_count_estimate": 2_300_000,
                "encrypted_at_rest": "yes",
                "encrypted_at_rest_evidence": "SAN self-encrypting drives (audit 2026-02).",
                "encrypted_in_transit": "unknown",
                "retention": "Images: 7 years; children's until age 25",
                "criticality": "high",
                "rto_minutes": 480,
                "rpo_minutes": 60,
                **reviewed,
            },
            [],
        ),
        (
            "PACS",
            {
                "kind": "application",
                "hosting": "vendor",
                "vendor_name": "Imaging vendor (support contract)",
                "location": "Radiology reading rooms",
                "network_zone": "Clinical VLAN",
                "classification": "highly_sensitive",
                "phi_categories": ["clinical", "demographic", "identifier"],
                "encrypted_at_rest": "yes",
                "encrypted_in_transit": "no",
                "encrypted_in_transit_evidence": "DICOM without TLS in the clinical VLAN (accepted to 2027).",
                "criticality": "high",
                "rto_minutes": 480,
                "rpo_minutes": 60,
                "clinical_services": ["Radiology"],
                "department_ids": [departments[c] for c in ("radiology", "emergency") if c in departments],
                **reviewed,
            },
            ["PACS image archive", "EHR (electronic health record)"],
        ),
        (
            "Lab interface (HL7 v2 to the LIS)",
            {
                "kind": "integration_endpoint",
                "location": "Interface engine, data centre room B2",
                "network_zone": "Clinical VLAN",
                "classification": "highly_sensitive",
                "phi_categories": ["clinical", "demographic", "identifier"],
                "encrypted_at_rest": "unknown",
                "encrypted_in_transit": "no",
                "encrypted_in_transit_evidence": "MLLP in clear text; TLS planned.",
                "criticality": "critical",
                "rto_minutes": 60,
                "rpo_minutes": 5,
                "clinical_services": ["Laboratory"],
                "department_ids": [departments[c] for c in ("laboratory",) if c in departments],
                **reviewed,
            },
            ["EHR (electronic health record)"],
        ),
        (
            "Shared drive S: (departments)",
            {
                "kind": "file_share",
                "location": r"\\fs01\departments",
                "network_zone": "Office VLAN",
                "classification": "sensitive",
                "phi_categories": ["demographic", "contact"],
                "encrypted_at_rest": "unknown",
                "encrypted_in_transit": "unknown",
                "criticality": "moderate",
                "review_state": "reviewed",
                "last_reviewed_on": days(-400),
                "next_review_due": days(-35),
                "description": "Departmental folders; staff keep exports and spreadsheets here.",
            },
            [],
        ),
        (
            "E-mail formatting service",
            {
                "kind": "saas",
                "hosting": "cloud",
                "vendor_name": "MailMerge Cloud (demo vendor)",
                "location": "Cloud region eu-west-1",
                "network_zone": "Internet",
                "classification": "highly_sensitive",
                "phi_categories": ["contact", "demographic"],
                "record_count_estimate": 150_000,
                "encrypted_at_rest": "unknown",
                "encrypted_in_transit": "yes",
                "encrypted_in_transit_evidence": "HTTPS upload from the letters job.",
                "criticality": "low",
                "review_state": "reviewed",
                "last_reviewed_on": days(-500),
                "next_review_due": days(-135),
                "last_assessed_on": days(-730),
                "next_assessment_due": days(-365),
                "description": "Formats appointment letters and reminders from an EHR extract of addresses.",
            },
            ["EHR (electronic health record)"],
        ),
        (
            "Nightly backups (tape, off-site)",
            {
                "kind": "backup_set",
                "location": "Off-site vault, 12 km",
                "classification": "highly_sensitive",
                "phi_categories": ALL_PHI,
                "encrypted_at_rest": "yes",
                "encrypted_at_rest_evidence": "LTO-9 hardware encryption; keys in the backup key manager.",
                "retention": "90 days",
                "criticality": "high",
                **reviewed,
            },
            ["EHR database", "PACS image archive"],
        ),
        (
            "Medical records room",
            {
                "kind": "paper_records",
                "location": "Main site, basement room 0.14 (badge access)",
                "classification": "highly_sensitive",
                "phi_categories": ALL_PHI,
                "record_count_estimate": 95_000,
                "encrypted_at_rest": "no",
                "encrypted_at_rest_evidence": "Paper: locked room, entry log.",
                "retention": "Until scanned, then shredded",
                "criticality": "moderate",
                **reviewed,
            },
            [],
        ),
        (
            "Nursing station workstations",
            {
                "kind": "workstation_pool",
                "location": "All wards (64 devices)",
                "network_zone": "Clinical VLAN",
                "classification": "highly_sensitive",
                "phi_categories": ["clinical", "demographic"],
                "encrypted_at_rest": "yes",
                "encrypted_at_rest_evidence": "BitLocker, MDM compliance report.",
                "criticality": "high",
                **reviewed,
            },
            ["EHR (electronic health record)"],
        ),
    ]


# The one asset the demo leaves without an owner, on purpose.
OWNERLESS = "E-mail formatting service"
# (owner, custodian) by the demo role whose person holds it; SafeWard's own stores: OWN_STORES.
OWNERS: dict[str, tuple[str, str]] = {
    "EHR database": ("physician", "it_admin"),
    "EHR (electronic health record)": ("physician", "it_admin"),
    "PACS image archive": ("physician", "it_admin"),
    "PACS": ("physician", "it_admin"),
    "Lab interface (HL7 v2 to the LIS)": ("lab_technician", "it_admin"),
    "Shared drive S: (departments)": ("it_admin", "it_admin"),
    "Nightly backups (tape, off-site)": ("security_officer", "it_admin"),
    "Medical records room": ("privacy_officer", "registration_clerk"),
    "Nursing station workstations": ("nurse", "it_admin"),
    "Growth chart app (SMART on FHIR)": ("physician", "it_admin"),
}
SMART_APP_ASSET = "Growth chart app (SMART on FHIR)"
OWN_STORES = ("security_officer", "it_admin")
SHARE_OWNERS = ("registration_clerk", "it_admin")


def demo_people(ctx: SeedContext) -> dict[str, int]:
    """The workforce person of each demo role (the workforce step links them)."""
    people = {}
    for credential, user in ctx.credentials:
        person = person_for_user(user=user)
        if person is not None:
            people[credential.role] = int(person.pk)
    return people


def owners_values(people: dict[str, int], roles: tuple[str, str]) -> dict[str, int]:
    owner, custodian = roles
    if owner not in people or custodian not in people:
        return {}
    return {"owner_person_id": people[owner], "custodian_person_id": people[custodian]}


def _assign_owners(ctx: SeedContext) -> int:
    """Give every asset with no owner its demo owner and custodian (an owner
    someone chose is left alone); the one deliberately ownerless asset stays so."""
    people = demo_people(ctx)
    assigned = 0
    for asset in selectors.assets_list():
        if asset.owner_person_id is not None or asset.name == OWNERLESS:
            continue
        if asset.source == "safeward":
            roles = OWN_STORES
        elif asset.name in OWNERS:
            roles = OWNERS[asset.name]
        else:
            continue
        values = owners_values(people, roles)
        if values:
            services.asset_update(actor=None, asset_id=asset.pk, values=values)
            assigned += 1
    return assigned


def _register_smart_app(today: dt.date, existing: dict[str, int], ids: dict[str, int]) -> int:
    """The demo SMART app as an asset, its OAuth client linked: what it pulls
    over FHIR is manifested with this asset as the destination (ADR 0811)."""
    from safeward.demo.seed import DEMO_SMART_APP
    from safeward.fhir.clients import client_names

    client_ids = [client_id for client_id, name in client_names().items() if name == DEMO_SMART_APP]
    if SMART_APP_ASSET in existing or not client_ids:
        return 0
    services.asset_create(
        actor=None,
        values={
            "name": SMART_APP_ASSET,
            "kind": "application",
            "hosting": "vendor",
            "vendor_name": "Growth charts (demo vendor)",
            "location": "Vendor cloud, reached over SMART on FHIR",
            "network_zone": "Internet",
            "classification": "highly_sensitive",
            "phi_categories": ["clinical", "demographic"],
            "encrypted_in_transit": "yes",
            "encrypted_in_transit_evidence": "HTTPS only (TLS 1.2+), OAuth 2 bearer tokens.",
            "criticality": "low",
            "description": "Plots children's growth from the chart; reads vitals and demographics over FHIR.",
            "review_state": "reviewed",
            "last_reviewed_on": today - dt.timedelta(days=30),
            "next_review_due": today + dt.timedelta(days=335),
            "last_assessed_on": today - dt.timedelta(days=30),
            "next_assessment_due": today + dt.timedelta(days=335),
        },
        depends_on_ids=[ids["EHR (electronic health record)"]],
        client_ids=client_ids,
    )
    return 1


def seed_assets(ctx: SeedContext) -> None:
    today = clock.now().date()
    departments = {code: int(department.pk) for code, department in ctx.departments.items()}
    created = 0
    ids: dict[str, int] = {}
    existing = {asset.name: asset.pk for asset in selectors.assets_list()}
    for name, values, depends_on in _register(today, departments):
        if name in existing:
            ids[name] = existing[name]
            continue
        asset = services.asset_create(
            actor=None, values={"name": name, **values}, depends_on_ids=[ids[other] for other in depends_on]
        )
        ids[name] = asset.pk
        created += 1
    created += _register_smart_app(today, existing, ids)
    own = services.assets_register_self(actor=None)
    for asset in own:
        if asset.last_reviewed_on is None:
            services.asset_record_review(
                actor=None, asset_id=asset.pk, kind="review", next_due=today.replace(year=today.year + 1)
            )
            services.asset_record_review(
                actor=None, asset_id=asset.pk, kind="assessment", next_due=today.replace(year=today.year + 1)
            )
    owned = _assign_owners(ctx)
    if created:
        # The first run records the lapses; the detection worker turns them into alerts.
        lapsed = services.assets_sweep_lapsed()
        ctx.write(
            f"assets: {created} registered, SafeWard's {len(own)} stores, {lapsed} lapsed, "
            f"{owned} given owners ({OWNERLESS} left ownerless on purpose)"
        )
    else:
        ctx.write(f"assets: register in place, SafeWard's {len(own)} stores")
