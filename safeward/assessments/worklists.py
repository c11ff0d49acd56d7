"""The compliance officer's worklist on the home page: the last control run,
the tests failing now, and exceptions awaiting a second person."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward.assessments import selectors
from safeward.assessments.models import ControlResult
from safeward.identity.permissions import Perm
from safeward.web.worklists import Worklist, register_worklist

MAX_SHOWN = 8


def compliance(request: HttpRequest) -> dict[str, Any]:
    failing = sorted(
        (
            result
            for result in selectors.latest_results().values()
            if result.outcome in (ControlResult.Outcome.FAIL, ControlResult.Outcome.ERROR)
        ),
        key=lambda result: (-result.resources_failed, result.control_id),
    )
    awaiting = list(selectors.exceptions_awaiting_approval()[:MAX_SHOWN])
    return {
        "latest": selectors.run_latest(),
        "failing": failing[:MAX_SHOWN],
        "failing_count": len(failing),
        "awaiting": [e for e in awaiting if e.requested_by_id != request.user.pk],
    }


def register() -> None:
    register_worklist(
        Worklist(
            "compliance",
            "Compliance",
            Perm.ASSESSMENT_CAMPAIGN_MANAGE,
            "assessments/_worklist_compliance.html",
            compliance,
            80,
        )
    )
