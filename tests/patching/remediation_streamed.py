"""The remediation figures as the dashboard computed them before ADR 1308:
every resolved finding of the window streamed into Python. Kept as the
reference the SQL aggregates are compared with (tests/patching/
test_remediation_sql.py) and measured against (bench/patching_batches.py)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from safeward.patching.models import Finding, Severity
from safeward.patching.selectors import Remediation


def _rows(groups: dict[str, list[tuple[float, bool]]]) -> list[tuple[str, int, float, float]]:
    return [
        (name, len(rows), sum(days for days, _ in rows) / len(rows), sum(met for _, met in rows) / len(rows))
        for name, rows in groups.items()
        if rows
    ]


def remediation_streamed(*, now: dt.datetime, months: int, names: dict[int, str]) -> Remediation:
    resolved = Finding.objects.filter(
        resolved_at__isnull=False, resolved_at__gte=now - dt.timedelta(days=31 * months)
    )
    per_month: dict[str, list[float]] = defaultdict(list)
    per_severity: dict[str, list[tuple[float, bool]]] = {s: [] for s in Severity.values}
    per_department: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    met = total = 0
    for finding in resolved.only(
        "detected_at", "resolved_at", "due_at", "severity", "department_ids"
    ).iterator(chunk_size=2000):
        assert finding.resolved_at is not None
        days = (finding.resolved_at - finding.detected_at).total_seconds() / 86400
        in_time = bool(finding.due_at and finding.resolved_at <= finding.due_at)
        per_month[finding.resolved_at.strftime("%Y-%m")].append(days)
        per_severity.setdefault(finding.severity, []).append((days, in_time))
        for pk in finding.department_ids or ["—"]:
            per_department[names.get(pk, "—") if isinstance(pk, int) else "—"].append((days, in_time))
        total += 1
        met += in_time
    month_keys = []
    cursor = now.replace(day=1)
    for _ in range(months):
        month_keys.append(cursor.strftime("%Y-%m"))
        cursor = (cursor - dt.timedelta(days=1)).replace(day=1)
    return Remediation(
        mttr=[(m, sum(per_month[m]) / len(per_month[m]) if per_month[m] else None) for m in month_keys[::-1]],
        sla_met=(met / total) if total else None,
        mttr_by_severity=_rows(per_severity),
        mttr_by_department=sorted(_rows(per_department), key=lambda row: (-row[1], row[0]))[:15],
    )
