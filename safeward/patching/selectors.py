"""Reads of the patching app: findings and their dashboards, inventories,
exceptions and the policy table."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncMonth

from safeward import clock
from safeward.patching.models import (
    SEVERITY_RANK,
    DeadlinePolicy,
    DeadlineSettings,
    Finding,
    Inventory,
    KevEntry,
    PatchPlan,
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


def findings_urgent(*, limit: int = 10) -> list[Finding]:
    """The most urgent open findings (KEV, then severity, then due date), ordered
    and cut by the database: the dashboard reads `limit` rows, not every open one."""
    rank = Case(
        *[When(severity=str(severity), then=Value(value)) for severity, value in SEVERITY_RANK.items()],
        default=Value(9),
    )
    return list(
        findings_open()
        .annotate(severity_rank=rank)
        .order_by("-kev", "severity_rank", F("due_at").asc(nulls_last=True), "pk")[:limit]
    )


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
    # (severity or department, findings resolved, mean days to remediate, share fixed by the deadline)
    mttr_by_severity: list[tuple[str, int, float, float]]
    mttr_by_department: list[tuple[str, int, float, float]]


@dataclass
class Remediation:
    """How fast fixed findings were fixed, over the last `months` months."""

    mttr: list[tuple[str, float | None]]  # (month, mean days) oldest first
    sla_met: float | None
    mttr_by_severity: list[tuple[str, int, float, float]]
    mttr_by_department: list[tuple[str, int, float, float]]


# Per group: findings fixed, their summed time to fix, how many by their deadline.
_Sums = tuple[int, dt.timedelta, int]


def _days(total: dt.timedelta) -> float:
    return total.total_seconds() / 86400


def _rows(groups: dict[str, _Sums]) -> list[tuple[str, int, float, float]]:
    return [(name, n, _days(total) / n, met / n) for name, (n, total, met) in groups.items() if n]


def remediation(*, now: dt.datetime, months: int, names: dict[int, str]) -> Remediation:
    """Mean time to remediate per month, severity and department, and the share
    fixed by the deadline: counted and summed by the database (three grouped
    queries), never a row per finding in Python (ADR 1308). A department's
    figures add up the groups of findings with the same stored list of
    departments (a handful of distinct lists), so the JSON list is never
    unnested in SQL, which SQLite and PostgreSQL spell differently."""
    resolved = Finding.objects.filter(
        resolved_at__isnull=False, resolved_at__gte=now - dt.timedelta(days=31 * months)
    ).order_by()
    # Exact sums in microseconds (an interval on PostgreSQL, an integer on SQLite).
    took = Sum(ExpressionWrapper(F("resolved_at") - F("detected_at"), output_field=DurationField()))
    in_time = Count("pk", filter=Q(due_at__isnull=False, resolved_at__lte=F("due_at")))
    per_severity: dict[str, _Sums] = {s: (0, dt.timedelta(0), 0) for s in Severity.values}
    for severity, n, total, met in resolved.values_list("severity").annotate(
        n=Count("pk"), total=took, met=in_time
    ):
        per_severity[severity] = (n, total, met)
    per_department: dict[str, _Sums] = {}
    for ids, n, total, met in resolved.values_list("department_ids").annotate(
        n=Count("pk"), total=took, met=in_time
    ):
        for pk in ids or ["—"]:
            name = names.get(pk, "—") if isinstance(pk, int) else "—"
            was = per_department.get(name, (0, dt.timedelta(0), 0))
            per_department[name] = (was[0] + n, was[1] + total, was[2] + met)
    per_month = {
        month.strftime("%Y-%m"): _days(total) / n
        for month, n, total in resolved.annotate(month=TruncMonth("resolved_at", tzinfo=dt.UTC))
        .values_list("month")
        .annotate(n=Count("pk"), total=took)
    }
    month_keys = []
    cursor = now.replace(day=1)
    for _ in range(months):
        month_keys.append(cursor.strftime("%Y-%m"))
        cursor = (cursor - dt.timedelta(days=1)).replace(day=1)
    fixed = sum(n for n, _, _ in per_severity.values())
    in_deadline = sum(met for _, _, met in per_severity.values())
    return Remediation(
        mttr=[(m, per_month.get(m)) for m in reversed(month_keys)],
        sla_met=(in_deadline / fixed) if fixed else None,
        mttr_by_severity=_rows(per_severity),
        mttr_by_department=sorted(_rows(per_department), key=lambda row: (-row[1], row[0]))[:15],
    )


def dashboard(*, now: dt.datetime | None = None, months: int = 6) -> Dashboard:
    now = now or clock.now()
    # Counted by the database: the dashboard never loads the open findings themselves.
    open_rows = Finding.objects.filter(state__in=Finding.OPEN_STATES, excepted=False)
    week = now + dt.timedelta(days=7)
    totals = open_rows.aggregate(
        overdue=Count("pk", filter=Q(due_at__lt=now)),
        kev=Count("pk", filter=Q(kev=True)),
        due_this_week=Count("pk", filter=Q(due_at__gte=now, due_at__lte=week)),
    )
    severities = dict(open_rows.order_by().values_list("severity").annotate(n=Count("pk")))
    classes: Counter[str] = Counter()
    for device_class, count in open_rows.order_by().values_list("device_class").annotate(n=Count("pk")):
        classes[device_class or "—"] += count
    from safeward.identity.selectors import department_choices

    names = dict(department_choices())
    # Grouped by the stored list of departments (a handful of distinct lists), then spread per department.
    departments: Counter[str] = Counter()
    for ids, count in open_rows.order_by().values_list("department_ids").annotate(n=Count("pk")):
        for pk in ids or ["—"]:
            departments[names.get(pk, "—") if isinstance(pk, int) else "—"] += count
    fixed = remediation(now=now, months=months, names=names)
    return Dashboard(
        by_severity={s: severities.get(s, 0) for s in Severity.values},
        overdue=totals["overdue"],
        kev=totals["kev"],
        due_this_week=totals["due_this_week"],
        excepted=Finding.objects.filter(excepted=True).count(),
        awaiting_approval=RiskException.objects.filter(status=RiskException.Status.REQUESTED).count(),
        by_department=departments.most_common(10),
        by_device_class=classes.most_common(10),
        mttr=fixed.mttr,
        sla_met=fixed.sla_met,
        mttr_by_severity=fixed.mttr_by_severity,
        mttr_by_department=fixed.mttr_by_department,
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


def plans_list(*, status: str = "", target: str = "") -> QuerySet[PatchPlan]:
    """Plans by window; `status` "open" means not yet verified or cancelled; target as "asset:3"."""
    plans = PatchPlan.objects.select_related("owner").prefetch_related("findings")
    if status == "open":
        plans = plans.filter(status__in=PatchPlan.OPEN_STATUSES)
    elif status:
        plans = plans.filter(status=status)
    kind, _, pk = target.partition(":")
    if kind and pk.isdigit() and int(pk) <= MAX_ID:
        plans = plans.filter(target_kind=kind, target_id=int(pk))
    return plans


def plan_get(*, plan_id: int) -> PatchPlan | None:
    if plan_id > MAX_ID:
        return None
    return PatchPlan.objects.select_related("owner").filter(pk=plan_id).first()


def plan_findings(*, plan: PatchPlan) -> list[Finding]:
    return list(plan.findings.select_related("advisory").order_by("due_at", "pk"))


def plan_late_finding_ids(*, plan: PatchPlan) -> list[int]:
    """Open findings of the plan due before its window ends: the window is too late for them.
    Read from `plan.findings.all()`, so a list that prefetched them (plans_list) asks nothing more."""
    return sorted(
        finding.pk
        for finding in plan.findings.all()
        if finding.state in Finding.OPEN_STATES
        and finding.due_at is not None
        and finding.due_at < plan.window_end
    )


def findings_plannable(*, target_kind: str, target_id: int) -> list[Finding]:
    """Open findings of a target that no open plan covers yet, most urgent first."""
    covered = PatchPlan.findings.through.objects.filter(patchplan__status__in=PatchPlan.OPEN_STATUSES).values(
        "finding_id"
    )
    return list(
        Finding.objects.filter(target_kind=target_kind, target_id=target_id, state__in=Finding.OPEN_STATES)
        .exclude(pk__in=covered)
        .select_related("advisory")
        .order_by("due_at", "pk")[:500]
    )


def targets_with_open_findings(limit: int = 200) -> list[dict[str, Any]]:
    """Targets with open findings no plan covers (kind, id, count, first due), soonest due first."""
    covered = PatchPlan.findings.through.objects.filter(patchplan__status__in=PatchPlan.OPEN_STATUSES).values(
        "finding_id"
    )
    rows = (
        Finding.objects.filter(state__in=Finding.OPEN_STATES)
        .exclude(pk__in=covered)
        .values("target_kind", "target_id")
        .annotate(count=Count("pk"), first_due=Min("due_at"))
        .order_by("first_due", "target_kind", "target_id")[:limit]
    )
    return [dict(row) for row in rows]


def finding_plans(*, finding: Finding) -> QuerySet[PatchPlan]:
    return finding.plans.order_by("-window_start")


def controls_available() -> list[tuple[str, str]]:
    """Control tests a compensating control can be: (id, title)."""
    from safeward.compliance import discover

    return [(test.id, test.title) for test in discover().values()]
