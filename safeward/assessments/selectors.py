"""Reads of control runs, results and exceptions (history and latest)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db.models import Max, QuerySet

from safeward import clock
from safeward.assessments.models import ControlException, ControlResult, ControlRun, ResourceResult

if TYPE_CHECKING:
    from safeward.identity.models import User

# Ids from URLs beyond a 64-bit column find nothing (rather than overflow the driver).
MAX_ID = 2**63 - 1


def runs_list(*, limit: int = 100) -> QuerySet[ControlRun]:
    return ControlRun.objects.select_related("actor").order_by("-started_at", "-pk")[:limit]


def run_get(*, run_id: int) -> ControlRun | None:
    if not 0 < run_id <= MAX_ID:
        return None
    return ControlRun.objects.select_related("actor").filter(pk=run_id).first()


def run_latest() -> ControlRun | None:
    return ControlRun.objects.select_related("actor").order_by("-started_at", "-pk").first()


def run_exists_by(*, actor: User) -> bool:
    """Whether `actor` has started a control run (the scheduled job's runs have no actor)."""
    return ControlRun.objects.filter(actor=actor).exists()


def run_results(*, run: ControlRun) -> QuerySet[ControlResult]:
    return run.results.order_by("control_id")


def latest_results() -> dict[str, ControlResult]:
    """Each control's result from the latest run that ran it, by control id."""
    latest = ControlResult.objects.values("control_id").annotate(last=Max("run_id"))
    ids = {row["control_id"]: row["last"] for row in latest}
    results = ControlResult.objects.filter(run_id__in=set(ids.values())).select_related("run")
    return {r.control_id: r for r in results if ids.get(r.control_id) == r.run_id}


def control_history(*, control_id: str, limit: int = 50) -> QuerySet[ControlResult]:
    return (
        ControlResult.objects.filter(control_id=control_id)
        .select_related("run")
        .order_by("-run__started_at", "-run_id")[:limit]
    )


def result_get(*, run_id: int, control_id: str) -> ControlResult | None:
    if not 0 < run_id <= MAX_ID:
        return None
    return ControlResult.objects.select_related("run").filter(run_id=run_id, control_id=control_id).first()


def result_resources(*, result: ControlResult, failing_only: bool = False) -> QuerySet[ResourceResult]:
    rows = result.resources.select_related("exception").order_by("passed", "resource_type", "resource_id")
    return rows.filter(passed=False) if failing_only else rows


def failing_resources(*, results: list[ControlResult]) -> QuerySet[ResourceResult]:
    return (
        ResourceResult.objects.filter(result__in=results, passed=False)
        .select_related("result", "exception")
        .order_by("result__control_id", "resource_type", "resource_id")
    )


def exceptions_list(*, state: str = "") -> QuerySet[ControlException]:
    found = ControlException.objects.select_related("requested_by", "approved_by", "revoked_by")
    if state:
        found = found.filter(state=state)
    return found.order_by("-requested_at", "-pk")


def exception_get(*, exception_id: int) -> ControlException | None:
    if not 0 < exception_id <= MAX_ID:
        return None
    return (
        ControlException.objects.select_related("requested_by", "approved_by", "revoked_by")
        .filter(pk=exception_id)
        .first()
    )


def exceptions_awaiting_approval() -> QuerySet[ControlException]:
    return exceptions_list(state=ControlException.State.REQUESTED).filter(expires_on__gt=clock.now().date())


def exceptions_applied_expired(*, today: dt.date) -> QuerySet[ResourceResult]:
    """Resources of the latest results marked excepted under an exception
    that has since expired or been revoked (they fail at the next run)."""
    latest = [r.pk for r in latest_results().values()]
    return ResourceResult.objects.filter(result_id__in=latest, excepted=True).exclude(
        exception__state=ControlException.State.APPROVED, exception__expires_on__gte=today
    )
