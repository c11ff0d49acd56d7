"""The demo hospital's assessments and risk register (issue 18, ADR 0940):
last year's HHS 405(d) HICP assessment, answered by the compliance officer
and signed off by the security officer, with the findings it raised (one
still open past its due date); this year's HICP campaign, open and about
half answered, so the year-over-year page has something to show; and a
risk register of ten hospital risks after NIST SP 800-30, linked to the
demo assets, one of them past its review date. Everything goes through the
services, audited. Idempotent: a campaign or risk of the same name is left
alone."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from safeward import clock
from safeward.assessments import (
    campaign_catalog,
    campaign_selectors,
    campaign_services,
    controls,
    risk_selectors,
    risk_services,
)
from safeward.assets.selectors import assets_list
from safeward.compliance import discover
from safeward.identity.models import User
from safeward.identity.selectors import user_by_username

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

FRAMEWORK = "hicp"
ASSESSOR = "demo.compliance_officer"
REVIEWER = "demo.security_officer"
# HICP practices where a community hospital is typically further along (1
# e-mail, 2 endpoints, 3 access) or behind (5 network, 7 incident response, 9 devices).
PRACTICE_BASE = {"1": 2, "2": 2, "3": 2, "4": 1, "5": 1, "6": 1, "7": 1, "8": 2, "9": 0, "10": 1}
# This year's improvements (the HICP gap plan) and the one that slipped.
IMPROVED = {"3.M.A", "3.S.A", "5.M.A", "5.M.B", "7.S.A", "7.M.A", "9.M.A", "9.S.A", "10.M.B", "1.M.A"}
SLIPPED = {"8.M.A"}

NOTES = {
    "1.S.A": "Mail gateway blocks executables and macros; DMARC at p=quarantine.",
    "2.S.A": "EDR on every Windows workstation; 14 Linux servers pending.",
    "3.M.A": "MFA for remote access and webmail; not yet on the EHR's thick client.",
    "5.M.A": "Clinical VLANs separated from the office network; the imaging VLAN still flat.",
    "7.S.A": "Incident response plan approved in March; no tabletop exercise yet.",
    "9.M.A": "Medical device inventory started in the biomedical engineering database.",
    "10.M.B": "Risk assessment done with the HHS SRA tool; this register replaces the spreadsheet.",
}


def _maturity(ref: str, year_offset: int) -> int:
    """Last year's answer (year_offset 0) and this year's (1), stable across runs."""
    entry = ref.split(":", 1)[1]
    practice = entry.split(".", 1)[0]
    base = PRACTICE_BASE.get(practice, 1)
    wobble = zlib.crc32(entry.encode()) % 3 - 1  # -1, 0 or +1, the same every run
    value = max(0, min(3, base + (wobble if wobble < 1 else 0)))
    if year_offset:
        if entry in IMPROVED:
            value = min(3, value + 1)
        elif entry in SLIPPED:
            value = max(0, value - 1)
    return value


def _findings(today: dt.date) -> list[tuple[str, str, str, str, int, str]]:
    """(entry, title, description, severity, due in days from today, status)."""
    return [
        (
            "9.L.A",
            "Legacy infusion pumps on the general clinical VLAN",
            "Forty pumps run an unsupported embedded OS and share a VLAN with workstations.",
            "critical",
            -30,
            "in_progress",
        ),
        (
            "3.M.A",
            "No MFA on the EHR thick client",
            "Remote and webmail sign-ins need MFA; the EHR client on ward PCs does not.",
            "high",
            45,
            "open",
        ),
        (
            "7.S.A",
            "Incident response plan never exercised",
            "Run a ransomware tabletop with clinical leads and record the lessons.",
            "moderate",
            -120,
            "closed",
        ),
    ]


_RISK_SPECS: list[dict[str, Any]] = [
    {
        "title": "Ransomware delivered by phishing",
        "threat_source": "adversarial",
        "threat_event": "A criminal group phishes a clerk, escalates through the flat office network and "
        "encrypts the file servers and the EHR database.",
        "vulnerability": "Webmail without MFA until this spring; backups reachable from the domain.",
        "scores": (4, 5, 2, 4),
        "treatment": "mitigate",
        "plan": "MFA everywhere, immutable off-site backups, EDR on servers, monthly phishing drills.",
        "assets": ["EHR database", "Nightly backups (tape, off-site)", "Shared drive S: (departments)"],
        "controls": ["identity.mfa_on_active_accounts", "assessments.findings_on_time"],
        "finding": "No MFA on the EHR thick client",
        "review_in": 60,
    },
    {
        "title": "Unpatched legacy infusion pumps",
        "threat_source": "adversarial",
        "threat_event": "Malware spreading on the clinical VLAN reaches pumps whose OS cannot be patched.",
        "vulnerability": "Vendor-locked embedded Windows; pumps share the VLAN with ward PCs.",
        "scores": (3, 5, 2, 5),
        "treatment": "mitigate",
        "plan": "Isolate the pumps in their own segment, allow only the pump server; replace by 2028.",
        "assets": ["Nursing station workstations"],
        "controls": [],
        "finding": "Legacy infusion pumps on the general clinical VLAN",
        "review_in": -14,  # overdue: the control test fails on it
    },
    {
        "title": "Lost unencrypted laptop",
        "threat_source": "accidental",
        "threat_event": "A billing laptop with exported spreadsheets is left on a train.",
        "vulnerability": "Full-disk encryption missing on six older laptops.",
        "scores": (3, 4, 1, 4),
        "treatment": "mitigate",
        "plan": "BitLocker enforced by policy; exports to local disk blocked; laptops replaced in Q3.",
        "assets": [],
        "controls": [],
        "finding": "",
        "review_in": 120,
    },
    {
        "title": "Vendor remote access abused",
        "threat_source": "adversarial",
        "threat_event": "Stolen credentials of the imaging vendor's support account open a path into PACS.",
        "vulnerability": "Always-on VPN account shared by the vendor's engineers.",
        "scores": (3, 4, 2, 3),
        "treatment": "mitigate",
        "plan": "Named, time-boxed vendor accounts with MFA, opened on request and recorded.",
        "assets": ["PACS", "PACS image archive"],
        "controls": [],
        "finding": "",
        "review_in": 30,
    },
    {
        "title": "Insider snooping on patient records",
        "threat_source": "adversarial",
        "threat_event": "A staff member looks up a colleague's or a celebrity's chart without a care reason.",
        "vulnerability": "Broad read access on the wards; reviews were sampled by hand.",
        "scores": (4, 3, 2, 3),
        "treatment": "mitigate",
        "plan": "SafeWard's care-relationship policy, break-glass with review, detection rules on VIPs.",
        "assets": ["EHR (electronic health record)"],
        "controls": [],
        "finding": "",
        "review_in": 90,
    },
    {
        "title": "Power outage in the data centre",
        "threat_source": "environmental",
        "threat_event": "A regional outage outlasts the UPS while the generator fails to start.",
        "vulnerability": "Generator tested quarterly, not under load; one UPS string.",
        "scores": (2, 5, 1, 5),
        "treatment": "mitigate",
        "plan": "Monthly load test of the generator; second UPS string; downtime procedures drilled.",
        "assets": ["EHR database", "PACS image archive"],
        "controls": [],
        "finding": "",
        "review_in": 150,
    },
    {
        "title": "Cloud e-mail formatting service leaks patient letters",
        "threat_source": "structural",
        "threat_event": "A misconfigured storage bucket at the formatting vendor exposes generated letters.",
        "vulnerability": "No assessment of the vendor since the contract began; no BAA review.",
        "scores": (3, 4, 3, 4),
        "treatment": "transfer",
        "plan": "BAA with breach notification and indemnity; cyber insurance covers notification costs.",
        "assets": ["E-mail formatting service"],
        "controls": [],
        "finding": "",
        "review_in": 20,
    },
    {
        "title": "Backup restore fails when needed",
        "threat_source": "structural",
        "threat_event": "After an outage the tapes cannot be read or the restore takes days.",
        "vulnerability": "Restores tested once a year, on a single file.",
        "scores": (2, 5, 1, 4),
        "treatment": "mitigate",
        "plan": "Quarterly full restore drill of the EHR database into the test environment.",
        "assets": ["Nightly backups (tape, off-site)", "EHR database"],
        "controls": [],
        "finding": "",
        "review_in": 75,
    },
    {
        "title": "Paper records room flooded",
        "threat_source": "environmental",
        "threat_event": "A burst pipe above the basement records room soaks archived charts.",
        "vulnerability": "Records on the lowest shelves; no water sensor.",
        "scores": (1, 3, 1, 2),
        "treatment": "accept",
        "plan": "Accepted: scanning of the archive finishes next year; water sensor ordered.",
        "assets": ["Medical records room"],
        "controls": [],
        "finding": "",
        "review_in": 200,
    },
    {
        "title": "Lab interface sends results to the wrong patient",
        "threat_source": "accidental",
        "threat_event": "A mapping error in the HL7 interface files results under another patient.",
        "vulnerability": "Interface changes are not tested against a patient-matching test set.",
        "scores": (2, 4, 1, 4),
        "treatment": "avoid",
        "plan": "No interface change goes live without the regression set; vendor changes frozen until then.",
        "assets": ["Lab interface (HL7 v2 to the LIS)"],
        "controls": [],
        "finding": "",
        "review_in": 100,
    },
]


@dataclass(frozen=True)
class DemoRisk:
    title: str
    threat_source: str
    threat_event: str
    vulnerability: str
    scores: tuple[int, int, int, int]  # likelihood, impact, residual likelihood, residual impact
    treatment: str
    plan: str
    assets: list[str]  # demo asset names
    controls: list[str]  # control test ids, linked when declared
    finding: str  # the title of last year's finding it links to, or ""
    review_in: int  # days from today; negative: overdue


RISKS = [DemoRisk(**spec) for spec in _RISK_SPECS]


def seed_campaigns(ctx: SeedContext) -> None:
    assert controls.ASSESSMENT_PERIOD_DAYS  # its control tests are registered
    assessor = user_by_username(username=ASSESSOR)
    reviewer = user_by_username(username=REVIEWER)
    if assessor is None or reviewer is None or not campaign_catalog.framework_entries(FRAMEWORK):
        ctx.write("Assessments: skipped (no compliance or security officer, or no HICP catalog).")
        return
    today = clock.now().date()
    last_year, this_year = today.year - 1, today.year
    previous = (
        campaign_selectors.campaigns_list(framework=FRAMEWORK)
        .filter(name=f"HICP assessment {last_year}")
        .first()
    )
    if previous is None:
        previous = campaign_services.campaign_create(
            actor=assessor,
            name=f"HICP assessment {last_year}",
            framework=FRAMEWORK,
            year=last_year,
            assessor_id=assessor.pk,
            reviewer_id=reviewer.pk,
            scope_note="All ten HICP practices, medium-sized organisation sub-practices included.",
        )
        for question in previous.questions.all():
            entry = question.entry_ref.split(":", 1)[1]
            campaign_services.question_answer(
                actor=assessor,
                question_id=question.pk,
                maturity=_maturity(question.entry_ref, 0),
                notes=NOTES.get(entry, ""),
            )
        by_entry = {q.entry_ref.split(":", 1)[1]: q for q in previous.questions.all()}
        for entry, title, description, severity, due_in, status in _findings(today):
            if entry not in by_entry:
                continue
            finding = campaign_services.finding_create(
                actor=assessor,
                question_id=by_entry[entry].pk,
                title=title,
                description=description,
                severity=severity,
                owner_id=reviewer.pk if severity == "critical" else assessor.pk,
                due_on=today + dt.timedelta(days=due_in),
            )
            if status != "open":
                campaign_services.finding_update(
                    actor=assessor,
                    finding_id=finding.pk,
                    status=status,
                    owner_id=finding.owner_id,
                    due_on=finding.due_on,
                    resolution="Tabletop held with the ED and ICU leads; lessons in the IR plan v2."
                    if status == "closed"
                    else "",
                )
        campaign_services.campaign_submit(actor=assessor, campaign_id=previous.pk)
        campaign_services.campaign_sign_off(actor=reviewer, campaign_id=previous.pk)
    findings = {
        finding.title: finding.pk for finding in campaign_selectors.findings_list(campaign_id=previous.pk)
    }
    if (
        not campaign_selectors.campaigns_list(framework=FRAMEWORK)
        .filter(name=f"HICP assessment {this_year}")
        .exists()
    ):
        current = campaign_services.campaign_create(
            actor=assessor,
            name=f"HICP assessment {this_year}",
            framework=FRAMEWORK,
            year=this_year,
            assessor_id=assessor.pk,
            reviewer_id=reviewer.pk,
            scope_note="Annual HICP assessment; compare with last year's from the campaign page.",
        )
        for index, question in enumerate(current.questions.order_by("position")):
            if index % 2 and question.entry_ref.split(":", 1)[1] not in IMPROVED | SLIPPED:
                continue  # about half answered: the campaign is in progress
            campaign_services.question_answer(
                actor=assessor, question_id=question.pk, maturity=_maturity(question.entry_ref, 1)
            )
    _seed_risks(ctx, today, assessor, reviewer, findings)
    ctx.write("Assessments: HICP campaigns (last year signed off, this year open) and the risk register.")


def _seed_risks(
    ctx: SeedContext, today: dt.date, assessor: User, reviewer: User, findings: dict[str, int]
) -> None:
    existing = {risk.title for risk in risk_selectors.risks_list()}
    assets = {asset.name: asset.pk for asset in assets_list()}
    controls = set(discover())
    owners = [reviewer, assessor]
    for index, spec in enumerate(RISKS):
        if spec.title in existing:
            continue
        likelihood, impact, residual_likelihood, residual_impact = spec.scores
        values = {
            "title": spec.title,
            "threat_source": spec.threat_source,
            "threat_event": spec.threat_event,
            "vulnerability": spec.vulnerability,
            "likelihood": likelihood,
            "impact": impact,
            "treatment": spec.treatment,
            "treatment_plan": spec.plan,
            "owner_id": owners[index % 2].pk,
            "residual_likelihood": residual_likelihood,
            "residual_impact": residual_impact,
            "review_due": today + dt.timedelta(days=spec.review_in),
            "status": "open",
            "asset_ids": [assets[name] for name in spec.assets if name in assets],
            "control_ids": [control for control in spec.controls if control in controls],
        }
        linked = [findings[spec.finding]] if spec.finding in findings else []
        risk_services.risk_create(actor=assessor, values=values, finding_ids=linked)
