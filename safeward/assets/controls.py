"""The asset register's control tests (safeward/compliance.py): the register
is complete and current, PHI found in stray files is dealt with, and every
export's manifest is sealed into the audit trail. Reads only; resources are
named by asset name and internal ids, never by a file's path (a file name
can be a patient's name)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.assets import discovery_selectors, manifests, selectors
from safeward.assets.models import DiscoveryFinding
from safeward.compliance import Check, control

# An open PHI discovery finding older than this has not been triaged in time.
TRIAGE_DAYS = 7
# The manifests a run re-verifies: those of this many days back.
MANIFEST_DAYS = 90


@control(
    "assets.review_current",
    title="Every asset's review and risk assessment are current",
    maps=("hipaa:164.308(a)(1)(ii)(A)", "iso27001-2022:A.5.9", "csf2:ID.AM-08", "hicp:5.M.A"),
)
def review_current(now: dt.datetime) -> Iterator[Check]:
    """Each asset in service has been reviewed, and neither its review nor
    its risk assessment has lapsed (third-party storage never assessed counts
    as lapsed)."""
    today = now.date()
    for asset in selectors.assets_in_service():
        lapsed = selectors.asset_lapse_reasons(asset=asset, today=today)
        yield Check(
            "asset",
            str(asset.pk),
            asset.name,
            passed=asset.last_reviewed_on is not None and not lapsed,
            evidence={
                "last_reviewed_on": asset.last_reviewed_on.isoformat() if asset.last_reviewed_on else None,
                "next_review_due": asset.next_review_due.isoformat() if asset.next_review_due else None,
                "next_assessment_due": (
                    asset.next_assessment_due.isoformat() if asset.next_assessment_due else None
                ),
                "lapsed": list(lapsed),
            },
        )


@control(
    "assets.owner_assigned",
    title="Every asset has an owner and a custodian",
    maps=("iso27001-2022:A.5.9", "csf2:ID.AM-01", "hicp:5.M.A"),
)
def owner_assigned(now: dt.datetime) -> Iterator[Check]:
    """Each asset in service names a workforce person as its owner and one as its custodian."""
    for asset in selectors.assets_in_service():
        yield Check(
            "asset",
            str(asset.pk),
            asset.name,
            passed=asset.owner_person_id is not None and asset.custodian_person_id is not None,
            evidence={
                "owner_person_id": asset.owner_person_id,
                "custodian_person_id": asset.custodian_person_id,
            },
        )


@control(
    "assets.phi_findings_triaged",
    title=f"PHI found in stray files is triaged within {TRIAGE_DAYS} days",
    maps=("hipaa:164.310(d)(1)", "iso27001-2022:A.8.12", "csf2:DE.CM-09", "hicp:4.M.A"),
)
def phi_findings_triaged(now: dt.datetime) -> Iterator[Check]:
    """Each open PHI discovery finding is younger than the triage period
    (confirmed, remediated or false-positive findings are no longer open)."""
    limit = dt.timedelta(days=TRIAGE_DAYS)
    for finding in discovery_selectors.findings(status=DiscoveryFinding.Status.OPEN):
        age = now - finding.created_at
        yield Check(
            "phi_finding",
            str(finding.pk),
            f"PHI finding {finding.pk} on {finding.asset.name}",
            passed=age <= limit,
            evidence={
                "opened_at": finding.created_at.isoformat(),
                "age_days": age.days,
                "patients_matched": finding.patients_matched,
                "encrypted": finding.encrypted,
            },
        )


@control(
    "assets.manifests_complete",
    title="Every export's manifest is sealed in the audit trail",
    maps=("hipaa:164.312(b)", "iso27001-2022:A.5.14", "csf2:ID.AM-03"),
)
def manifests_complete(now: dt.datetime) -> Iterator[Check]:
    """Each export manifest of the last 90 days has its audit event and still
    hashes to the hash that event carries (not altered since)."""
    for manifest in manifests.manifests_since(since=now - dt.timedelta(days=MANIFEST_DAYS)):
        sealed = manifest.audit_event_id is not None
        intact = manifests.manifest_verify(manifest=manifest)
        yield Check(
            "export_manifest",
            str(manifest.pk),
            f"{manifest.kind} from {manifest.route}",
            passed=sealed and intact,
            evidence={"audit_event_id": manifest.audit_event_id, "sealed": sealed, "intact": intact},
        )
