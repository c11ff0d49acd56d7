"""The assessments app's own control tests: the control tests themselves
run regularly, and no exception outlives its expiry unnoticed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.assessments import campaign_controls, selectors
from safeward.compliance import Check, control

# The campaigns' and the risk register's tests are declared beside them.
__all__ = ["campaign_controls"]

RUN_EVERY = dt.timedelta(hours=24)


@control(
    "assessments.control_tests_current",
    title="Control tests ran within 24 hours",
    maps=("hipaa:164.308(a)(8)", "iso27001-2022:A.5.35", "csf2:GV.OV-03", "hicp:10.M.B"),
)
def control_tests_current(now: dt.datetime) -> Iterator[Check]:
    """The run before this one finished less than 24 hours ago (a first run
    ever has nothing to judge)."""
    latest = selectors.run_latest()
    if latest is None:
        return
    finished = latest.finished_at or latest.started_at
    age = now - finished
    yield Check(
        "control_run",
        str(latest.pk),
        f"Control run {latest.pk}",
        passed=age <= RUN_EVERY,
        evidence={"finished_at": finished.isoformat(), "age_hours": round(age.total_seconds() / 3600, 1)},
    )


@control(
    "assessments.exceptions_within_expiry",
    title="No approved exception past its expiry",
    maps=("iso27001-2022:A.5.36", "csf2:ID.IM-01", "hicp:10.M.A"),
)
def exceptions_within_expiry(now: dt.datetime) -> Iterator[Check]:
    """Every approved exception is within its expiry; a lapsed one must be
    renewed (a new request, a second approver) or revoked."""
    today = now.date()
    for exception in selectors.exceptions_list(state="approved"):
        yield Check(
            "control_exception",
            str(exception.pk),
            f"Exception {exception.pk} ({exception.control_id})",
            passed=exception.expires_on >= today,
            evidence={
                "control": exception.control_id,
                "expires_on": exception.expires_on.isoformat(),
                "approved_by": exception.approved_by.username if exception.approved_by else None,
            },
        )
