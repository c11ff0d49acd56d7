"""The assessments app's own control tests: the control tests themselves
run regularly, no exception outlives its expiry unnoticed, the risk register
is reviewed on time, findings are closed by their due dates, and a campaign
was signed off within the last year."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.assessments import campaign_selectors, risk_selectors, selectors
from safeward.compliance import Check, control

RUN_EVERY = dt.timedelta(hours=24)
# A campaign signed off within this many days keeps `assessments.assessment_current` passing.
ASSESSMENT_PERIOD_DAYS = 366


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


# The risk register and the assessment campaigns (ADR 0940).
@control(
    "assessments.risks_reviewed",
    title="Every open risk reviewed by its review date",
    maps=(
        "hipaa:164.308(a)(1)(ii)(A)",
        "hipaa:164.308(a)(1)(ii)(B)",
        "hicp:10.M.B",
        "csf2:ID.RA-05",
        "csf2:GV.RM-06",
    ),
)
def risks_reviewed(now: dt.datetime) -> Iterator[Check]:
    """An open risk whose review date has passed fails until someone reviews it."""
    today = now.date()
    for risk in risk_selectors.risks_open():
        yield Check(
            "risk",
            str(risk.pk),
            risk.title,
            passed=risk.review_due >= today,
            evidence={
                "review_due": risk.review_due.isoformat(),
                "last_reviewed_on": risk.last_reviewed_on.isoformat() if risk.last_reviewed_on else None,
                "owner": risk.owner.username,
                "inherent": risk.inherent_score,
                "residual": risk.residual_score,
            },
        )


@control(
    "assessments.findings_on_time",
    title="No assessment finding open past its due date",
    maps=(
        "hipaa:164.308(a)(1)(ii)(B)",
        "iso27001-2022:A.5.36",
        "csf2:ID.RA-06",
        "csf2:ID.IM-01",
    ),
)
def findings_on_time(now: dt.datetime) -> Iterator[Check]:
    """A finding not closed by its due date fails."""
    today = now.date()
    for finding in campaign_selectors.findings_open():
        yield Check(
            "finding",
            str(finding.pk),
            finding.title,
            passed=finding.due_on >= today,
            evidence={
                "entry": finding.question.entry_ref,
                "severity": finding.severity,
                "due_on": finding.due_on.isoformat(),
                "status": finding.status,
                "owner": finding.owner.username,
            },
        )


@control(
    "assessments.assessment_current",
    title="A security assessment signed off within the last year",
    maps=(
        "hipaa:164.308(a)(8)",
        "iso27001-2022:A.5.35",
        "csf2:GV.OV-03",
        "hicp:10.M.B",
    ),
)
def assessment_current(now: dt.datetime) -> Iterator[Check]:
    """The hospital's assessment programme (one resource): the latest signed-off
    campaign, of any framework, must be less than a year old."""
    latest = campaign_selectors.latest_signed_off()
    signed = latest.reviewer_signed_at if latest is not None else None
    yield Check(
        "assessment_programme",
        "hospital",
        "Security assessment programme",
        passed=signed is not None and now - signed <= dt.timedelta(days=ASSESSMENT_PERIOD_DAYS),
        evidence={
            "campaign": latest.pk if latest is not None else None,
            "framework": latest.framework if latest is not None else None,
            "signed_off_at": signed.isoformat() if signed is not None else None,
            "period_days": ASSESSMENT_PERIOD_DAYS,
        },
    )
