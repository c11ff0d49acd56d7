"""Risk register reads: the register with its filters, the 5x5 heat map,
overdue reviews, and the names of what a risk links to (assets through the
assets app's selectors, control tests from the registry)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from safeward import clock
from safeward.assessments.models import Finding, Level, Risk, risk_level
from safeward.assets.selectors import assets_list
from safeward.compliance import discover


def risks_list(
    *, status: str = "", level: str = "", overdue_on: dt.date | None = None, query: str = ""
) -> list[Risk]:
    risks = Risk.objects.select_related("owner").prefetch_related("findings")
    if status:
        risks = risks.filter(status=status)
    if overdue_on is not None:
        risks = risks.filter(status=Risk.Status.OPEN, review_due__lt=overdue_on)
    if query:
        risks = risks.filter(title__icontains=query)
    rows = list(risks.order_by("title"))
    if level:
        rows = [risk for risk in rows if risk.inherent_level == level]
    return sorted(rows, key=lambda risk: (-risk.inherent_score, -risk.residual_score, risk.title))


def risk_get(*, risk_id: int) -> Risk | None:
    return Risk.objects.select_related("owner").filter(pk=risk_id).first()


def risks_open() -> QuerySet[Risk]:
    return Risk.objects.filter(status=Risk.Status.OPEN).select_related("owner").order_by("review_due", "pk")


def risks_overdue(*, today: dt.date) -> QuerySet[Risk]:
    return risks_open().filter(review_due__lt=today)


@dataclass(frozen=True)
class Cell:
    likelihood: int
    impact: int
    count: int
    level: Level

    @property
    def score(self) -> int:
        return self.likelihood * self.impact


def heat_map(*, risks: list[Risk], residual: bool = False) -> list[list[Cell]]:
    """Rows from likelihood 5 down to 1, columns impact 1 to 5; counts of open risks."""
    counts: dict[tuple[int, int], int] = {}
    for risk in risks:
        if risk.status != Risk.Status.OPEN:
            continue
        key = (risk.residual_likelihood, risk.residual_impact) if residual else (risk.likelihood, risk.impact)
        counts[key] = counts.get(key, 0) + 1
    return [
        [
            Cell(likelihood, impact, counts.get((likelihood, impact), 0), risk_level(likelihood, impact))
            for impact in range(1, 6)
        ]
        for likelihood in range(5, 0, -1)
    ]


def level_counts(*, risks: list[Risk]) -> dict[str, int]:
    counts = {level.value: 0 for level in Level}
    for risk in risks:
        if risk.status == Risk.Status.OPEN:
            counts[risk.inherent_level] += 1
    return counts


def asset_names(*, asset_ids: list[int]) -> dict[int, str]:
    return dict(assets_list().filter(pk__in=asset_ids).values_list("pk", "name"))


def asset_choices() -> list[tuple[int, str]]:
    return list(assets_list().values_list("pk", "name"))


def control_choices() -> list[tuple[str, str]]:
    return [(control_id, f"{control_id} — {test.title}") for control_id, test in discover().items()]


def control_titles(*, control_ids: list[str]) -> list[tuple[str, str]]:
    known = discover()
    return [
        (control_id, known[control_id].title if control_id in known else "(no longer declared)")
        for control_id in control_ids
    ]


def risk_findings(*, risk: Risk) -> QuerySet[Finding]:
    return risk.findings.select_related("question", "owner").order_by("due_on")


def risks_for_asset(*, asset_id: int) -> list[Risk]:
    """Open risks naming the asset (JSON lists: filtered here, the register is small)."""
    return [risk for risk in risks_open() if asset_id in risk.asset_ids]


def today() -> dt.date:
    return clock.now().date()
