"""Result trends for the chart: numeric results grouped by code, newest last,
drawn as a server-rendered SVG polyline (no script, no inline style)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from safeward.clinical.lab_catalog import Flag, interpret, reference_for
from safeward.clinical.types import ObservationView

WIDTH, HEIGHT, PAD = 120, 28, 2
MAX_POINTS = 20


@dataclass(frozen=True)
class Trend:
    code: str
    display: str
    unit: str
    latest: str
    latest_at: dt.datetime
    previous: str | None
    count: int
    low: str
    high: str
    points: str  # SVG polyline points, empty with fewer than two numeric values
    direction: str  # "up", "down", "same" or ""
    reference: str = ""  # the catalog's reference interval (lab tests), e.g. "3.5 to 5.1 mmol/L"
    flag: Flag | None = None  # the latest value against that interval
    latest_late_entry_at: dt.datetime | None = None  # the latest value was entered from paper then


def _number(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value is not None else None
    except InvalidOperation:
        return None


def _points(values: list[Decimal]) -> str:
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    step = (WIDTH - 2 * PAD) / (len(values) - 1)
    coords = []
    for i, value in enumerate(values):
        x = PAD + i * step
        y = HEIGHT - PAD - float((value - low) / span) * (HEIGHT - 2 * PAD)
        coords.append(f"{x:.1f},{y:.1f}")
    return " ".join(coords)


def chart_order(result: ObservationView) -> tuple[dt.datetime, str]:
    """The chart's order of results (the gateway's `by_time`): by time, then
    by id, so that results sharing a time keep one order on every page, in
    the REST chart and in FHIR, and a trend's latest value is the chart's."""
    return result.effective_at, result.id


def trends(results: Iterable[ObservationView]) -> list[Trend]:
    groups: dict[tuple[str, str], list[ObservationView]] = {}
    for result in results:
        groups.setdefault((result.code, result.unit), []).append(result)
    out = []
    for (code, unit), rows in groups.items():
        rows = sorted(rows, key=chart_order)[-MAX_POINTS:]
        numeric = [n for n in (_number(r.value) for r in rows) if n is not None]
        latest = rows[-1]
        previous = rows[-2].value if len(rows) > 1 else None
        direction = ""
        if len(numeric) >= 2:
            direction = "up" if numeric[-1] > numeric[-2] else "down" if numeric[-1] < numeric[-2] else "same"
        out.append(
            Trend(
                code=code,
                display=latest.display,
                unit=unit,
                latest=latest.value or "",
                latest_at=latest.effective_at,
                previous=previous,
                count=len(rows),
                low=str(min(numeric)) if numeric else "",
                high=str(max(numeric)) if numeric else "",
                points=_points(numeric),
                direction=direction,
                reference=reference_for(code, unit),
                flag=interpret(code, unit, latest.value),
                latest_late_entry_at=latest.late_entry_at,
            )
        )
    return sorted(out, key=lambda t: (-t.latest_at.timestamp(), t.display))


@dataclass(frozen=True)
class LabResult:
    result: ObservationView
    reference: str
    flag: Flag | None


def lab_results(results: Iterable[ObservationView], limit: int = 30) -> list[LabResult]:
    """The latest laboratory results, newest first, each with the catalog's
    reference interval and its abnormal flag."""
    rows = sorted((r for r in results if r.category == "laboratory"), key=chart_order, reverse=True)
    return [
        LabResult(result=r, reference=reference_for(r.code, r.unit), flag=interpret(r.code, r.unit, r.value))
        for r in rows[:limit]
    ]
