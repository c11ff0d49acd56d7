"""Detection's control tests (issue 18; contract: safeward/compliance.py;
ADR 0920): the worker keeping up with the audit stream, alerts triaged
within their SLA, break-glass uses reviewed. Break-glass is judged from the
audit trail (the gateway records every start and every review there), so no
clinical table is read and no justification is decrypted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings

from safeward.audit import selectors as audit_selectors
from safeward.audit.vocabulary import Action, Outcome
from safeward.compliance import Check, control
from safeward.detection import selectors


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@control(
    "detection.worker_current",
    title="Detection worker lag under N seconds",
    maps=(
        "hipaa:164.308(a)(1)(ii)(D)",
        "hipaa:164.308(a)(5)(ii)(C)",
        "hipaa:164.312(b)",
        "iso27001-2022:A.8.16",
        "csf2:DE.CM-03",
        "csf2:DE.CM-09",
        "hicp:8.M.A",
        "hicp:8.L.E",
    ),
)
def worker_current(now: dt.datetime) -> Iterator[Check]:
    """The oldest committed audit event the detection worker has not
    processed yet is younger than SAFEWARD_CONTROL_DETECTION_LAG_SECONDS
    (`safeward detect --follow` is running and keeping up)."""
    threshold = settings.SAFEWARD_CONTROL_DETECTION_LAG_SECONDS
    status = selectors.worker_status(now=now)
    yield Check(
        "detection_worker",
        selectors.WORKER_NAME,
        "detection worker",
        passed=status.lag is None or status.lag <= dt.timedelta(seconds=threshold),
        evidence={
            "lag_seconds": int(status.lag.total_seconds()) if status.lag is not None else 0,
            "threshold_seconds": threshold,
            "watermark": status.watermark,
            "pending_ranges": status.pending_ranges,
            "processed": status.processed,
            "cursor_updated_at": _iso(status.updated_at),
        },
    )


@control(
    "detection.alerts_triaged_in_sla",
    title="Every alert triaged within its SLA",
    maps=(
        "hipaa:164.308(a)(6)(ii)",
        "hipaa:164.308(a)(1)(ii)(D)",
        "iso27001-2022:A.5.25",
        "iso27001-2022:A.5.26",
        "csf2:DE.AE-02",
        "csf2:RS.MA-02",
        "hicp:8.S.A",
        "hicp:8.M.B",
    ),
)
def alerts_triaged_in_sla(now: dt.datetime) -> Iterator[Check]:
    """Every real alert raised in the last SAFEWARD_CONTROL_LOOKBACK_DAYS,
    and every one still new, was first acted on (triage started, dismissed,
    confirmed, joined to an incident) within the SLA of its severity
    (SAFEWARD_ALERT_TRIAGE_SLA_MINUTES_*); one still new is judged by its
    age now. Drill alerts are left out."""
    slas: dict[str, int] = settings.SAFEWARD_ALERT_TRIAGE_SLA_MINUTES
    since = now - dt.timedelta(days=settings.SAFEWARD_CONTROL_LOOKBACK_DAYS)
    for alert in selectors.alerts_for_triage_sla(since=since):
        sla = dt.timedelta(minutes=slas.get(alert.severity, slas["low"]))
        waited = (alert.triaged_at or now) - alert.created_at
        yield Check(
            "alert",
            str(alert.id),
            f"alert {alert.id} ({alert.rule})",
            passed=waited <= sla,
            evidence={
                "rule": alert.rule,
                "severity": alert.severity,
                "status": alert.status,
                "created_at": _iso(alert.created_at),
                "triaged_at": _iso(alert.triaged_at),
                "waited_minutes": int(waited.total_seconds() // 60),
                "sla_minutes": int(sla.total_seconds() // 60),
            },
        )


@control(
    "detection.break_glass_reviewed",
    title="Break-glass uses reviewed within N days",
    maps=(
        "hipaa:164.312(a)(2)(ii)",
        "hipaa:164.308(a)(1)(ii)(D)",
        "onc:170.315(d)(6)",
        "iso27001-2022:A.8.2",
        "iso27001-2022:A.5.15",
        "csf2:DE.CM-03",
        "csf2:PR.AA-05",
        "hicp:3.L.C",
    ),
)
def break_glass_reviewed(now: dt.datetime) -> Iterator[Check]:
    """Every break-glass use started in the last
    SAFEWARD_CONTROL_LOOKBACK_DAYS was reviewed by the privacy officer
    within SAFEWARD_BREAK_GLASS_REVIEW_DAYS of its start; one awaiting review
    passes until that deadline. Read from the audit trail: the start event
    and the review event of each grant."""
    allowed = dt.timedelta(days=settings.SAFEWARD_BREAK_GLASS_REVIEW_DAYS)
    since = now - dt.timedelta(days=settings.SAFEWARD_CONTROL_LOOKBACK_DAYS)
    starts = [
        event
        for event in audit_selectors.events_of_action(
            action=Action.BREAK_GLASS, since=since, resource_type="BreakGlassGrant"
        )
        if event.outcome == Outcome.SUCCESS and event.detail.get("event") == "start"
    ]
    if not starts:
        return
    reviews: dict[str, audit_selectors.EventFacts] = {}
    for event in audit_selectors.events_of_action(
        action=Action.UPDATE,
        since=starts[0].occurred_at,
        resource_type="BreakGlassGrant",
        resource_ids=[start.resource_id for start in starts],
    ):
        if event.outcome == Outcome.SUCCESS and event.detail.get("event") == "review":
            reviews.setdefault(event.resource_id, event)
    for start in starts:
        review = reviews.get(start.resource_id)
        deadline = start.occurred_at + allowed
        reviewed_at = review.occurred_at if review else None
        yield Check(
            "break_glass_grant",
            start.resource_id,
            f"break-glass by {start.actor_username}",
            passed=(reviewed_at or now) <= deadline,
            evidence={
                "user_id": start.actor_id,
                "started_at": _iso(start.occurred_at),
                "review_due_at": _iso(deadline),
                "reviewed_at": _iso(reviewed_at),
                "reviewed_by": review.actor_id if review else None,
                "justified": review.detail.get("justified") if review else None,
            },
        )
