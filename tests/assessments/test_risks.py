"""The risk register's services and reads: likelihood x impact and its
level, treatment and residual risk, links to assets, findings and control
tests (each checked), reviews, and the 5x5 heat map (ADR 0940)."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.assessments import campaign_services, risk_selectors, risk_services
from safeward.assessments.models import Level, Risk, risk_level
from safeward.assets import services as asset_services
from safeward.audit.models import AuditEvent
from tests.assessments.campaign_helpers import campaign, people, risk, risk_values

pytestmark = pytest.mark.django_db
RiskError = risk_services.RiskError


@pytest.mark.parametrize(
    ("likelihood", "impact", "level"),
    [
        (1, 1, "low"),
        (2, 2, "low"),
        (1, 4, "low"),
        (1, 5, "moderate"),
        (3, 3, "moderate"),
        (2, 5, "high"),
        (4, 4, "high"),
        (4, 5, "critical"),
        (5, 5, "critical"),
    ],
)
def test_levels(likelihood, impact, level):
    assert risk_level(likelihood, impact) == Level(level)


def test_a_risk_links_assets_findings_and_controls():
    owner, reviewer = people()
    asset = asset_services.asset_create(actor=owner, values={"name": "File server", "kind": "server"})
    opened = campaign(owner, reviewer)
    finding = campaign_services.finding_create(
        actor=owner,
        question_id=opened.questions.first().pk,
        title="No EDR",
        severity="high",
        owner_id=owner.pk,
        due_on=dt.date(2027, 1, 1),
    )
    created = risk_services.risk_create(
        actor=owner,
        values=risk_values(owner, asset_ids=[asset.pk, asset.pk], control_ids=["assessments.risks_reviewed"]),
        finding_ids=[finding.pk],
    )
    assert (
        created.inherent_score,
        created.inherent_level,
        created.residual_score,
        created.residual_level,
    ) == (20, "critical", 8, "moderate")
    assert created.asset_ids == [asset.pk]
    assert list(created.findings.all()) == [finding]
    assert list(finding.risks.all()) == [created]
    assert risk_selectors.risks_for_asset(asset_id=asset.pk) == [created]
    event = AuditEvent.objects.filter(resource_type="Risk", action="create").get()
    assert event.detail["inherent"] == 20
    assert event.detail["findings"] == [finding.pk]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"title": " "}, "title is required"),
        ({"threat_event": ""}, "threat event is required"),
        ({"vulnerability": ""}, "vulnerability is required"),
        ({"treatment_plan": ""}, "treatment plan is required"),
        ({"threat_source": "aliens"}, "Unknown threat source"),
        ({"treatment": "ignore"}, "Unknown treatment"),
        ({"likelihood": 6}, "likelihood is 1 to 5"),
        ({"impact": 0}, "impact is 1 to 5"),
        ({"residual_likelihood": 5}, "cannot be higher"),
        ({"residual_impact": 5, "impact": 4}, "cannot be higher"),
        ({"review_due": None}, "review date"),
        ({"owner_id": 999_999}, "owner must be an active account"),
        ({"asset_ids": [999_999]}, "No asset with id 999999"),
        ({"control_ids": ["assessments.no_such_test"]}, "No control test"),
        ({"status": "archived"}, "Unknown status"),
    ],
)
def test_bad_risks_are_refused_and_nothing_is_saved(override, message):
    owner, _ = people()
    with pytest.raises(RiskError, match=message):
        risk_services.risk_create(actor=owner, values=risk_values(owner, **override))
    assert not Risk.objects.exists()


def test_an_unknown_finding_is_refused():
    owner, _ = people()
    with pytest.raises(RiskError, match="No finding with id 999"):
        risk_services.risk_create(actor=owner, values=risk_values(owner), finding_ids=[999])
    assert not Risk.objects.exists()


def test_update_records_what_changed():
    owner, _ = people()
    created = risk(owner)
    updated = risk_services.risk_update(
        actor=owner, risk_id=created.pk, values=risk_values(owner, likelihood=5, treatment="transfer")
    )
    assert (updated.likelihood, updated.treatment, updated.inherent_level) == (5, "transfer", "critical")
    event = AuditEvent.objects.filter(resource_type="Risk", action="update").get()
    assert event.fields == ["likelihood", "treatment"]
    with pytest.raises(RiskError, match="No such risk"):
        risk_services.risk_update(actor=owner, risk_id=999_999, values=risk_values(owner))


def test_reviews_move_the_review_date_forward():
    owner, _ = people()
    today = clock.now().date()
    created = risk(owner, review_due=today - dt.timedelta(days=5))
    assert list(risk_selectors.risks_overdue(today=today)) == [created]
    for bad in (None, today, today - dt.timedelta(days=1), today + dt.timedelta(days=5 * 366)):
        with pytest.raises(RiskError):
            risk_services.risk_review(actor=owner, risk_id=created.pk, next_review_due=bad)
    reviewed = risk_services.risk_review(
        actor=owner, risk_id=created.pk, next_review_due=today + dt.timedelta(days=180)
    )
    assert reviewed.last_reviewed_on == today
    assert list(risk_selectors.risks_overdue(today=today)) == []
    closed = risk(owner, title="Closed", status="closed")
    with pytest.raises(RiskError, match="closed"):
        risk_services.risk_review(
            actor=owner, risk_id=closed.pk, next_review_due=today + dt.timedelta(days=9)
        )


def test_the_heat_map_counts_open_risks_per_cell():
    owner, _ = people()
    risk(owner, title="A", likelihood=4, impact=5, residual_likelihood=2, residual_impact=4)
    risk(owner, title="B", likelihood=4, impact=5, residual_likelihood=1, residual_impact=1)
    risk(owner, title="C", likelihood=1, impact=2, residual_likelihood=1, residual_impact=1)
    risk(owner, title="D", likelihood=5, impact=5, residual_likelihood=5, residual_impact=5, status="closed")
    every = risk_selectors.risks_list()
    grid = risk_selectors.heat_map(risks=every)
    assert [row[0].likelihood for row in grid] == [5, 4, 3, 2, 1]
    assert [cell.impact for cell in grid[0]] == [1, 2, 3, 4, 5]
    counts = {(c.likelihood, c.impact): c.count for row in grid for c in row if c.count}
    assert counts == {(4, 5): 2, (1, 2): 1}
    assert grid[1][4].level == "critical"
    assert grid[4][0].level == "low"
    residual = {
        (c.likelihood, c.impact): c.count
        for row in risk_selectors.heat_map(risks=every, residual=True)
        for c in row
        if c.count
    }
    assert residual == {(2, 4): 1, (1, 1): 2}
    assert risk_selectors.level_counts(risks=every) == {"low": 1, "moderate": 0, "high": 0, "critical": 2}
    assert [r.title for r in risk_selectors.risks_list(level="critical")] == ["D", "A", "B"]  # by score
    assert [r.title for r in risk_selectors.risks_list(status="open")] == ["A", "B", "C"]
