"""Shared setup of the campaign and risk tests: the people, a campaign over
a few ISO 27001:2022 entries in two clauses, answered and signed."""

from __future__ import annotations

import datetime as dt

from safeward import clock
from safeward.assessments import campaign_services, controls, risk_services
from safeward.assessments.models import Campaign, Risk
from tests.factories import UserFactory

ENTRIES = ("iso27001-2022:A.5.1", "iso27001-2022:A.5.2", "iso27001-2022:A.8.1")
# Registered here until `assessments/controls.py` imports them (discover() finds that module).
assert controls.ASSESSMENT_PERIOD_DAYS
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def people() -> tuple[object, object]:
    """(assessor: a compliance officer, reviewer: a security officer)."""
    return (
        UserFactory(roles=["compliance_officer"], totp_secret=True),
        UserFactory(roles=["security_officer"], totp_secret=True),
    )


def campaign(assessor, reviewer, *, year: int = 2026, entries=ENTRIES, framework="iso27001-2022") -> Campaign:
    return campaign_services.campaign_create(
        actor=assessor,
        name=f"ISO 27001 {year}",
        framework=framework,
        year=year,
        assessor_id=assessor.pk,
        reviewer_id=reviewer.pk,
        entry_refs=entries,
    )


def answer_all(assessor, campaign_: Campaign, scores: dict[str, int]) -> None:
    for question in campaign_.questions.all():
        campaign_services.question_answer(
            actor=assessor, question_id=question.pk, maturity=scores[question.entry_ref], notes="checked"
        )


def signed_off(assessor, reviewer, *, year: int, scores: dict[str, int]) -> Campaign:
    done = campaign(assessor, reviewer, year=year, entries=tuple(scores))
    answer_all(assessor, done, scores)
    campaign_services.campaign_submit(actor=assessor, campaign_id=done.pk)
    return campaign_services.campaign_sign_off(actor=reviewer, campaign_id=done.pk)


def risk_values(owner, **overrides) -> dict:
    values = {
        "title": "Ransomware through a phishing e-mail",
        "threat_source": Risk.ThreatSource.ADVERSARIAL,
        "threat_event": "A criminal group phishes a clerk and encrypts the file servers.",
        "vulnerability": "No MFA on webmail; flat network.",
        "likelihood": 4,
        "impact": 5,
        "treatment": Risk.Treatment.MITIGATE,
        "treatment_plan": "MFA on webmail, segment the clinical VLANs.",
        "owner_id": owner.pk,
        "residual_likelihood": 2,
        "residual_impact": 4,
        "review_due": clock.now().date() + dt.timedelta(days=90),
        "asset_ids": [],
        "control_ids": [],
    }
    values.update(overrides)
    return values


def risk(owner, **overrides) -> Risk:
    return risk_services.risk_create(actor=owner, values=risk_values(owner, **overrides))
