"""`safeward assessments campaign ...` and `safeward risks ...`: output and clear errors."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from safeward import clock
from safeward.assessments.models import Campaign
from tests.assessments.campaign_helpers import ENTRIES, answer_all, campaign, people, risk, signed_off

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_campaign_commands():
    assessor, reviewer = people()
    signed_off(assessor, reviewer, year=2025, scores=dict(zip(ENTRIES, (1, 1, 3), strict=True)))
    output = run(
        "assessments",
        "campaign",
        "open",
        "--framework",
        "iso27001-2022",
        "--year",
        "2026",
        "--name",
        "CLI",
        "--assessor",
        assessor.username,
        "--reviewer",
        reviewer.username,
        "--as",
        assessor.username,
        *[arg for ref in ENTRIES for arg in ("--entry", ref)],
    )
    current = Campaign.objects.get(name="CLI")
    assert f"Campaign {current.pk} opened with 3 question(s)." in output
    answer_all(assessor, current, dict(zip(ENTRIES, (2, 1, 2), strict=True)))
    assert "2 campaign(s)." in run("assessments", "campaign", "list")
    assert "3 of 3 answered" in run("assessments", "campaign", "show", str(current.pk))
    compared = run("assessments", "campaign", "compare", str(current.pk))
    assert "2026 against 2025" in compared
    assert "iso27001-2022:A.5.1\t1\t2\t+1" in compared
    assert "iso27001-2022:A.8.1\t3\t2\t-1" in compared
    assert "3 entries from the latest sign-off." in run(
        "assessments", "campaign", "maturity", "iso27001-2022"
    )
    assert "0 finding(s)." in run("assessments", "campaign", "findings", "--overdue")


def test_campaign_command_errors():
    assessor, reviewer = people()
    with pytest.raises(CommandError, match="two different people"):
        run(
            "assessments",
            "campaign",
            "open",
            "--framework",
            "hicp",
            "--year",
            "2026",
            "--name",
            "x",
            "--assessor",
            assessor.username,
            "--reviewer",
            assessor.username,
            "--as",
            assessor.username,
        )
    with pytest.raises(CommandError, match="no active SafeWard account 'nobody'"):
        run(
            "assessments",
            "campaign",
            "open",
            "--framework",
            "hicp",
            "--year",
            "2026",
            "--name",
            "x",
            "--assessor",
            assessor.username,
            "--reviewer",
            reviewer.username,
            "--as",
            "nobody",
        )
    with pytest.raises(CommandError, match="no campaign 42"):
        run("assessments", "campaign", "show", "42")
    assert not Campaign.objects.exists()
    campaign(assessor, reviewer)


def test_risk_commands():
    owner, _ = people()
    today = clock.now().date()
    late = risk(owner, title="Vendor remote access", review_due=today - dt.timedelta(days=3))
    listed = run("risks", "list", "--overdue")
    assert "Vendor remote access" in listed
    assert "OVERDUE" in listed
    assert "1 risk(s)." in listed
    assert "20 (critical)" in run("risks", "show", str(late.pk))
    heat = run("risks", "heatmap").splitlines()
    assert heat[2].split() == ["4", ".", ".", ".", ".", "1"]
    with pytest.raises(CommandError, match="not a date"):
        run("risks", "review", str(late.pk), "--next", "soon", "--as", owner.username)
    with pytest.raises(CommandError, match="after today"):
        run("risks", "review", str(late.pk), "--next", today.isoformat(), "--as", owner.username)
    next_due = (today + dt.timedelta(days=90)).isoformat()
    assert f"next review {next_due}" in run(
        "risks", "review", str(late.pk), "--next", next_due, "--as", owner.username
    )
    assert "0 risk(s)." in run("risks", "list", "--overdue")
    with pytest.raises(CommandError, match="no risk 999"):
        run("risks", "show", "999")
