"""Remediation figures (mean time to remediate per month, severity and
department, share fixed by the deadline) are summed by the database (ADR
1308) and equal what streaming every resolved finding through Python gave."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from safeward.patching import selectors
from safeward.patching.models import Finding
from tests.patching.remediation_streamed import remediation_streamed

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC)
NAMES = {1: "Emergency", 2: "Radiology", 3: "Pharmacy"}
DAY = dt.timedelta(days=1)


def _same(sql: selectors.Remediation, streamed: selectors.Remediation) -> None:
    """Equal, the means to float rounding: the database sums exact microseconds
    where the loop added up days as floats, one finding at a time."""
    assert [m for m, _ in sql.mttr] == [m for m, _ in streamed.mttr]
    for (_, a), (_, b) in zip(sql.mttr, streamed.mttr, strict=True):
        assert a == (None if b is None else pytest.approx(b, rel=1e-12))
    assert sql.sla_met == streamed.sla_met
    for ours, theirs in (
        (sql.mttr_by_severity, streamed.mttr_by_severity),
        (sql.mttr_by_department, streamed.mttr_by_department),
    ):
        assert [(name, n, met) for name, n, _, met in ours] == [(name, n, met) for name, n, _, met in theirs]
        means = [days for _, _, days, _ in theirs]
        assert [days for _, _, days, _ in ours] == pytest.approx(means, rel=1e-12)


def _fixed(template: Finding, number: int, **values) -> Finding:
    finding = copy.copy(template)
    finding.pk = None
    finding.component_version = f"1.0.1-build{number}"
    finding.state = Finding.State.RESOLVED
    for name, value in values.items():
        setattr(finding, name, value)
    return finding


def _seed(template: Finding) -> None:
    """Fixed findings over seven months, every severity, fixed in time and late,
    without a deadline, on the deadline to the microsecond, across month ends
    (UTC), with no, unknown, non-numeric and repeated departments; open ones
    and ones fixed before the window, which count nowhere."""
    rows = []
    severities = ["critical", "high", "medium", "low"]
    departments: list[list[object]] = [[], [1], [1, 2], [2, "x"], [99], [1, 1], [3], [2, 3]]
    for number in range(120):
        detected = NOW - dt.timedelta(days=5 + number * 1.7, seconds=number * 37, microseconds=number * 911)
        took = dt.timedelta(days=(number * 7) % 45, hours=number % 24, microseconds=number * 13)
        resolved = min(detected + took, NOW)
        due = {0: None, 1: resolved, 2: resolved - DAY, 3: resolved + 3 * DAY}[number % 4]
        rows.append(
            _fixed(
                template,
                number,
                severity=severities[number % 4 if number % 9 else 0],
                department_ids=departments[number % len(departments)],
                detected_at=detected,
                resolved_at=resolved,
                due_at=due,
            )
        )
    month_end = dt.datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=dt.UTC)
    rows.append(_fixed(template, 200, detected_at=month_end - 2 * DAY, resolved_at=month_end, due_at=None))
    next_month = month_end + dt.timedelta(microseconds=1)
    rows.append(_fixed(template, 201, detected_at=month_end - DAY, resolved_at=next_month))
    # Open (never resolved), resolved long ago: outside every figure.
    rows.append(_fixed(template, 202, state=Finding.State.IN_TRIAGE, resolved_at=None))
    rows.append(_fixed(template, 203, detected_at=NOW - 400 * DAY, resolved_at=NOW - 300 * DAY))
    Finding.objects.bulk_create(rows)


def test_no_findings_give_empty_figures():
    sql = selectors.remediation(now=NOW, months=6, names=NAMES)
    _same(sql, remediation_streamed(now=NOW, months=6, names=NAMES))
    assert sql.sla_met is None
    assert sql.mttr_by_severity == []
    assert sql.mttr_by_department == []
    assert [days for _, days in sql.mttr] == [None] * 6


def test_open_findings_alone_give_empty_figures(plannable_finding):
    sql = selectors.remediation(now=NOW, months=6, names=NAMES)
    _same(sql, remediation_streamed(now=NOW, months=6, names=NAMES))
    assert sql.sla_met is None
    assert sql.mttr_by_severity == []


@pytest.mark.parametrize("months", [1, 6, 12])
def test_sql_figures_equal_the_streamed_ones(plannable_finding, months):
    _seed(plannable_finding)
    sql = selectors.remediation(now=NOW, months=months, names=NAMES)
    _same(sql, remediation_streamed(now=NOW, months=months, names=NAMES))
    assert sql.mttr_by_severity  # the seed reaches every window
    # Late fixes and fixes without a deadline are not "in time"; one on the deadline is.
    assert sql.sla_met is not None
    assert 0 < sql.sla_met < 1


def test_the_figures_are_three_grouped_queries_without_loading_findings(plannable_finding):
    _seed(plannable_finding)
    loaded: list[Finding] = []

    def seen(sender, instance, **kwargs):
        loaded.append(instance)

    post_init.connect(seen, sender=Finding)
    try:
        with CaptureQueriesContext(connection) as captured:
            sql = selectors.remediation(now=NOW, months=12, names=NAMES)
    finally:
        post_init.disconnect(seen, sender=Finding)
    assert loaded == []
    assert len(captured) == 3  # per severity, per list of departments, per month
    names = [name for name, *_ in sql.mttr_by_department]
    # Unknown (99) and non-numeric ids, and findings without a department, count as "—".
    assert set(names) == {"Emergency", "Radiology", "Pharmacy", "—"}
