"""The audit trail's control tests (issue 18; contract:
safeward/compliance.py; ADR 0920): the chain verified recently, sealing
keeping up, the SIEM export current. They read the newest verification
event, the newest seal and the export cursors; no event's content."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings

from safeward.audit import selectors
from safeward.audit.sealing import seal_lag
from safeward.audit.vocabulary import Action, Outcome
from safeward.compliance import Check, control


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@control(
    "audit.chain_verified",
    title="Audit chain verified within 24 hours",
    maps=(
        "hipaa:164.312(b)",
        "hipaa:164.312(c)(1)",
        "hipaa:164.312(c)(2)",
        "onc:170.315(d)(2)",
        "onc:170.315(d)(8)",
        "iso27001-2022:A.8.15",
        "csf2:PR.PS-04",
        "csf2:PR.DS-01",
    ),
)
def chain_verified(now: dt.datetime) -> Iterator[Check]:
    """`safeward audit verify` ran within SAFEWARD_CONTROL_AUDIT_VERIFY_HOURS
    and its newest run found the chain intact (every verification is itself
    an audit event, outcome success or error)."""
    hours = settings.SAFEWARD_CONTROL_AUDIT_VERIFY_HOURS
    last = selectors.event_last_of_action(action=Action.AUDIT_VERIFY)
    recent = last is not None and now - last.occurred_at <= dt.timedelta(hours=hours)
    intact = last is not None and last.outcome == Outcome.SUCCESS
    yield Check(
        "audit_trail",
        "verification",
        "audit chain verification",
        passed=recent and intact,
        evidence={
            "last_verified_at": _iso(last.occurred_at) if last else None,
            "outcome": last.outcome if last else None,
            "seals": last.detail.get("seals") if last else None,
            "events": last.detail.get("events") if last else None,
            "problems": last.detail.get("problems") if last else None,
            "threshold_hours": hours,
        },
    )


@control(
    "audit.sealing_current",
    title="Audit events sealed within N seconds",
    maps=(
        "hipaa:164.312(b)",
        "hipaa:164.312(c)(1)",
        "onc:170.315(d)(2)",
        "iso27001-2022:A.8.15",
        "csf2:PR.PS-04",
    ),
)
def sealing_current(now: dt.datetime) -> Iterator[Check]:
    """The oldest audit event not yet sealed into a signed block is younger
    than SAFEWARD_CONTROL_SEAL_LAG_SECONDS (`safeward audit seal --follow`
    is running and keeping up)."""
    threshold = settings.SAFEWARD_CONTROL_SEAL_LAG_SECONDS
    lag = seal_lag(now=now)
    last = selectors.seal_last()
    yield Check(
        "audit_trail",
        "sealing",
        "audit sealing",
        passed=lag is None or lag <= dt.timedelta(seconds=threshold),
        evidence={
            "lag_seconds": int(lag.total_seconds()) if lag is not None else 0,
            "threshold_seconds": threshold,
            "last_seal": last.number if last else None,
            "last_sealed_at": _iso(last.sealed_at) if last else None,
        },
    )


@control(
    "audit.siem_export_current",
    title="SIEM export current",
    maps=(
        "hipaa:164.308(a)(1)(ii)(D)",
        "hipaa:164.312(b)",
        "iso27001-2022:A.8.15",
        "iso27001-2022:A.8.16",
        "csf2:PR.PS-04",
        "csf2:DE.CM-09",
        "hicp:8.M.A",
    ),
)
def siem_export_current(now: dt.datetime) -> Iterator[Check]:
    """Every SIEM sink (those named in SAFEWARD_CONTROL_SIEM_SINKS and every
    one that has exported) has acknowledged each seal older than
    SAFEWARD_CONTROL_SIEM_EXPORT_MINUTES. With no sink configured and none
    ever used, nothing is judged: the control is not applicable."""
    threshold = dt.timedelta(minutes=settings.SAFEWARD_CONTROL_SIEM_EXPORT_MINUTES)
    cursors = {cursor.sink: cursor for cursor in selectors.export_cursors()}
    last = selectors.seal_last()
    for sink in sorted(set(cursors) | set(settings.SAFEWARD_CONTROL_SIEM_SINKS)):
        cursor = cursors.get(sink)
        acknowledged = cursor.seal_number if cursor else 0
        oldest = selectors.seal_after(number=acknowledged)
        behind = now - oldest.sealed_at if oldest is not None else None
        yield Check(
            "siem_sink",
            sink,
            sink,
            passed=behind is None or behind <= threshold,
            evidence={
                "configured": sink in settings.SAFEWARD_CONTROL_SIEM_SINKS,
                "acknowledged_seal": acknowledged,
                "last_seal": last.number if last else None,
                "oldest_unsent_sealed_at": _iso(oldest.sealed_at) if oldest else None,
                "behind_seconds": int(behind.total_seconds()) if behind is not None else 0,
                "threshold_minutes": settings.SAFEWARD_CONTROL_SIEM_EXPORT_MINUTES,
                "last_export_at": _iso(cursor.updated_at) if cursor else None,
                "last_error": cursor.last_error if cursor else "never exported",
            },
        )
