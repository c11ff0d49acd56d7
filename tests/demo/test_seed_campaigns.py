"""The demo's assessments and risk register: last year's HICP campaign signed
off by two people, this year's open and partly answered, findings (one
overdue), ten risks linked to the demo assets (one review overdue), and the
assessments' control tests failing on exactly those."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.assessments import campaign_selectors, risk_selectors
from safeward.assessments.models import Campaign, Risk
from safeward.compliance import _REGISTRY

pytestmark = pytest.mark.django_db


def test_the_demo_has_campaigns_findings_and_risks(seeded_demo):
    year = clock.now().year
    done = Campaign.objects.get(name=f"HICP assessment {year - 1}")
    assert done.status == "signed_off"
    assert (done.assessor.username, done.reviewer.username) == (
        "demo.compliance_officer",
        "demo.security_officer",
    )
    assert done.questions.filter(maturity__isnull=True).count() == 0
    current = Campaign.objects.get(name=f"HICP assessment {year}")
    progress = campaign_selectors.campaign_progress(campaign=current)
    assert current.status == "open"
    assert 0 < progress.answered < progress.total
    yoy = campaign_selectors.year_over_year(campaign=current)
    assert yoy.previous == done
    assert any(row.delta and row.delta > 0 for row in yoy.entries)
    assert len(campaign_selectors.latest_maturity("hicp")) == done.questions.count()
    assert Risk.objects.count() == 10
    assert all(risk.asset_ids for risk in Risk.objects.exclude(title="Lost unencrypted laptop"))
    today = clock.now().date()
    assert [r.title for r in risk_selectors.risks_overdue(today=today)] == ["Unpatched legacy infusion pumps"]
    failing = {
        control: [c.label for c in _REGISTRY[control].run(clock.now()) if not c.passed]
        for control in (
            "assessments.risks_reviewed",
            "assessments.findings_on_time",
            "assessments.assessment_current",
        )
    }
    assert failing == {
        "assessments.risks_reviewed": ["Unpatched legacy infusion pumps"],
        "assessments.findings_on_time": ["Legacy infusion pumps on the general clinical VLAN"],
        "assessments.assessment_current": [],
    }
    call_command("demo", "seed")  # idempotent
    assert Campaign.objects.count() == 2
    assert Risk.objects.count() == 10
