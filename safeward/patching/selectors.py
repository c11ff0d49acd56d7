"""Reads of the patching app: findings and their dashboards, inventories,
exceptions and the policy table."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from safeward import clock
from safeward.patching.models import (
    SEVERITY_RANK,
    DeadlinePolicy,
    DeadlineSettings,
    Finding,
    Inventory,
    KevEntry,
    RiskException,
    Severity,
)

MAX_ID = 2**63 - 1


def findings_open() -> QuerySet[Finding]:
    return Finding.objects.filter(state__in=Finding.OPEN_STATES, excepted=False).select_related("advisory")


def findings_list(
    *, state: str = "", severity: str = "", kev: bool | None = None, target: str = ""
) -> list[Finding]:
    """Findings, most urgent first: KEV, then severity, then due date."""
    rows = Finding.objects.select_related("advisory")
    if state == "open":
        rows = rows.filter(state__in=Finding.OPEN_STATES, excepted=False)
    elif state == "excepted":
        rows = rows.filter(excepted=True)
    elif state:
        rows = rows.filter(state=state)
    if severity:
        rows = rows.filter(severity=severity)
    if kev is not None:
        rows = rows.filter(kev=kev)
    if target:
        kind, _, pk = target.partition(":")
        if pk.isdigit() and len(pk) < 19:
            rows = rows.filter(target_kind=kind, target_id=int(pk))
    found = list(rows[:5000])
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    rank: dict[str, int] = {str(key): value for key, value in SEVERITY_RANK.items()}
    found.sort(key=lambda f: (not f.is_open, not f.kev, rank.get(f.severity, 9), f.due_at or far, f.pk))
    return found


def finding_get(*, finding_id: int) -> Finding | None:
    if not 0 < finding_id <= MAX_ID:
        return None
    return Finding.objects.select_related("advisory").filter(pk=finding_id).first()


def finding_exceptions(*, finding: Finding) -> QuerySet[RiskException]:
    return finding.exceptions.select_related("requested_by", "approved_by").order_by("-requested_at")


def inventories_current() -> QuerySet[Inventory]:
    return Inventory.objects.filter(current=True).order_by("target_kind", "target_id")


def inventory_get(*, inventory_id: int) -> Inventory | None:
    if not 0 < inventory_id <= MAX_ID:
        return None
    return Inventory.objects.filter(pk=inventory_id).first()


def inventory_for(*, target_kind: str, target_id: int) -> Inventory | None:
    return Inventory.objects.filter(target_kind=target_kind, target_id=target_id, current=True).first()


def exceptions_list(*, status: str = "") -> QuerySet[RiskException]:
    rows = RiskException.objects.select_related("finding__advisory", "requested_by", "approved_by")
    return rows.filter(status=status) if status else rows


def exception_get(*, exception_id: int) -> RiskException | None:
    if not 0 < exception_id <= MAX_ID:
        return None
    return exceptions_list().filter(pk=exception_id).first()


def kev_entry(*, cve_ids: list[str]) -> KevEntry | None:
    return KevEntry.objects.filter(cve_id__in=cve_ids).first() if cve_ids else None


def policy_table() -> list[dict[str, Any]]:
    from safeward.patching.deadlines import HICP_TABLE_8

    stored = {(row.severity, row.exposure): row.days for row in DeadlinePolicy.objects.all()}
    rows = []
    for severity in Severity.values:
        rows.append(
            {
                "severity": severity,
                "dmz": stored.get((severity, "dmz"), HICP_TABLE_8[(severity, "dmz")]),
                "internal": stored.get((severity, "internal"), HICP_TABLE_8[(severity, "internal")]),
            }
        )
    return rows


def deadline_settings() -> DeadlineSettings:
    return DeadlineSettings.objects.first() or DeadlineSettings()


@dataclass
class Dashboard:
    by_severity: dict[str, int]
    overdue: int
    kev: int
    due_this_week: int
    excepted: int
    awaiting_approval: int
    by_department: list[tuple[str, int]]
    by_device_class: list[tuple[str, int]]
    mttr: list[tuple[str, float | None]]  # (month, mean days) oldest first
    sla_met: float | None


def dashboard(*, now: dt.datetime | None = None, months: int = 6) -> Dashboard:
    now = now or clock.now()
    open_rows = list(findings_open())
    severities: Counter[str] = Counter(f.severity for f in open_rows)
    departments: Counter[str] = Counter()
    classes: Counter[str] = Counter(f.device_class or "—" for f in open_rows)
    from safeward.identity.selectors import department_choices

    names = dict(department_choices())
    for finding in open_rows:
        for pk in finding.department_ids or ["—"]:
            departments[names.get(pk, "—") if isinstance(pk, int) else "—"] += 1
    resolved = Finding.objects.filter(
        resolved_at__isnull=False, resolved_at__gte=now - dt.timedelta(days=31 * months)
    )
    per_month: dict[str, list[float]] = defaultdict(list)
    met = total = 0
    for finding in resolved.only("detected_at", "resolved_at", "due_at"):
        assert finding.resolved_at is not None
        per_month[finding.resolved_at.strftime("%Y-%m")].append(
            (finding.resolved_at - finding.detected_at).total_seconds() / 86400
        )
        total += 1
        met += bool(finding.due_at and finding.resolved_at <= finding.due_at)
    month_keys = []
    cursor = now.replace(day=1)
    for _ in range(months):
        month_keys.append(cursor.strftime("%Y-%m"))
        cursor = (cursor - dt.timedelta(days=1)).replace(day=1)
    mttr = [
        (m, (sum(per_month[m]) / len(per_month[m])) if per_month[m] else None) for m in reversed(month_keys)
    ]
    week = now + dt.timedelta(days=7)
    return Dashboard(
        by_severity={s: severities.get(s, 0) for s in Severity.values},
        overdue=sum(1 for f in open_rows if f.due_at and f.due_at < now),
        kev=sum(1 for f in open_rows if f.kev),
        due_this_week=sum(1 for f in open_rows if f.due_at and now <= f.due_at <= week),
        excepted=Finding.objects.filter(excepted=True).count(),
        awaiting_approval=RiskException.objects.filter(status=RiskException.Status.REQUESTED).count(),
        by_department=departments.most_common(10),
        by_device_class=classes.most_common(10),
        mttr=mttr,
        sla_met=(met / total) if total else None,
    )


def mttr_svg(points: list[tuple[str, float | None]], *, width: int = 360, height: int = 120) -> str:
    """An inline SVG bar chart of mean days to remediate per month (no script, no external file)."""
    values = [v for _, v in points if v is not None]
    top = max(values) if values else 1.0
    bar = width // max(len(points), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" role="img"'
        ' aria-label="Mean time to remediate per month, in days">'
    ]
    for index, (month, value) in enumerate(points):
        x = index * bar + 4
        h = 0 if value is None else max(1, int((value / top) * (height - 16)))
        label = "—" if value is None else f"{value:.0f}"
        parts.append(
            f'<rect x="{x}" y="{height - h}" width="{bar - 8}" height="{h}" fill="#2b6cb0">'
            f"<title>{month}: {label} days</title></rect>"
        )
        parts.append(f'<text x="{x}" y="{height - h - 3}" font-size="10">{label}</text>')
        parts.append(f'<text x="{x}" y="{height + 14}" font-size="10">{month[2:]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def controls_available() -> list[tuple[str, str]]:
    """Control tests a compensating control can be: (id, title)."""
    from safeward.compliance import discover

    return [(test.id, test.title) for test in discover().values()]
