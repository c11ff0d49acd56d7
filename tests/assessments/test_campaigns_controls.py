"""The assessments' own control tests (safeward/assessments/controls.py):
each fails on a seeded violation and passes without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.assessments import campaign_services, controls, risk_services
from safeward.assessments.catalogs import catalog
from safeward.compliance import _REGISTRY
from tests.assessments.campaign_helpers import ENTRIES, campaign, people, risk, signed_off

pytestmark = pytest.mark.django_db

# Each test sees its control fail on the seeded violation and pass once it is removed.
COVERED_CONTROLS = {
    "assessments.risks_reviewed": ("test_risks_reviewed_fails_on_an_overdue_review_and_passes_once_reviewed"),
    "assessments.findings_on_time": (
        "test_findings_on_time_fails_on_an_overdue_finding_and_passes_once_closed"
    ),
    "assessments.assessment_current": (
        "test_assessment_current_fails_without_a_signed_off_campaign_within_a_year"
    ),
}


def _run(control_id: str, now: dt.datetime | None = None):
    return _REGISTRY[control_id].run(now or clock.now())


def test_the_controls_are_declared_and_map_to_existing_entries():
    assert controls.ASSESSMENT_PERIOD_DAYS == 366  # imported: registered
    for control_id in COVERED_CONTROLS:
        test = _REGISTRY[control_id]
        for ref in test.maps:
            assert catalog().exists(ref), f"{control_id}: {ref}"


def test_risks_reviewed_fails_on_an_overdue_review_and_passes_once_reviewed():
    owner, _ = people()
    today = clock.now().date()
    late = risk(owner, title="Lost laptop", review_due=today - dt.timedelta(days=1))
    risk(owner, title="Power outage", review_due=today + dt.timedelta(days=10))
    risk(owner, title="Closed one", review_due=today - dt.timedelta(days=100), status="closed")
    checks = {check.label: check for check in _run("assessments.risks_reviewed")}
    assert set(checks) == {"Lost laptop", "Power outage"}  # closed risks are not judged
    assert not checks["Lost laptop"].passed
    assert checks["Power outage"].passed
    assert checks["Lost laptop"].evidence["review_due"] == (today - dt.timedelta(days=1)).isoformat()
    risk_services.risk_review(actor=owner, risk_id=late.pk, next_review_due=today + dt.timedelta(days=90))
    assert all(check.passed for check in _run("assessments.risks_reviewed"))


def test_findings_on_time_fails_on_an_overdue_finding_and_passes_once_closed():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    today = clock.now().date()
    finding = campaign_services.finding_create(
        actor=assessor,
        question_id=opened.questions.first().pk,
        title="Policy not reviewed",
        severity="moderate",
        owner_id=assessor.pk,
        due_on=today - dt.timedelta(days=3),
    )
    checks = _run("assessments.findings_on_time")
    assert [(c.resource_id, c.passed) for c in checks] == [(str(finding.pk), False)]
    assert checks[0].evidence["entry"] == ENTRIES[0]
    campaign_services.finding_update(
        actor=assessor,
        finding_id=finding.pk,
        status="closed",
        owner_id=assessor.pk,
        due_on=finding.due_on,
        resolution="Reviewed and approved.",
    )
    assert _run("assessments.findings_on_time") == []
    campaign_services.finding_create(
        actor=assessor,
        question_id=opened.questions.first().pk,
        title="Not yet due",
        severity="low",
        owner_id=assessor.pk,
        due_on=today + dt.timedelta(days=3),
    )
    assert [c.passed for c in _run("assessments.findings_on_time")] == [True]


def test_assessment_current_fails_without_a_signed_off_campaign_within_a_year():
    assessor, reviewer = people()
    [check] = _run("assessments.assessment_current")
    assert not check.passed
    assert check.evidence["campaign"] is None
    campaign(assessor, reviewer)  # open, not signed off: still failing
    assert not _run("assessments.assessment_current")[0].passed
    done = signed_off(assessor, reviewer, year=2025, scores=dict.fromkeys(ENTRIES, 2))
    [check] = _run("assessments.assessment_current")
    assert check.passed
    assert check.evidence["campaign"] == done.pk
    [stale] = _run("assessments.assessment_current", clock.now() + dt.timedelta(days=400))
    assert not stale.passed
