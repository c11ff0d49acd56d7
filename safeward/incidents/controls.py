"""Incident response's control tests (safeward/compliance.py, issue 19).

* `incidents.breach_deadlines_met`: each breach clock's individual and HHS
  notices were sent by their deadline, or the deadline has not passed.
* `incidents.annual_exercise`: an incident-response exercise (tabletop or
  technical) was held in the last 365 days.
* `incidents.cases_have_owner`: every case not closed has an owner, and every
  high or critical one a reviewer other than the owner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from safeward.compliance import Check, control
from safeward.incidents import case_services, selectors

if TYPE_CHECKING:
    from safeward.incidents.models import Incident

NOTICES = {"individuals": "individuals_notified_at", "hhs": "hhs_notified_at", "hhs_log": "hhs_notified_at"}


@control(
    "incidents.breach_deadlines_met",
    title="Breach notifications are sent within their deadlines",
    maps=(
        "hipaa:164.308(a)(6)(ii)",
        "iso27001-2022:A.5.26",
        "csf2:RS.CO-02",
        "hicp:8.M.B",
    ),
)
def breach_deadlines_met(now: dt.datetime) -> Iterator[Check]:
    for breach in selectors.open_breaches():
        late = []
        for deadline in case_services.breach_deadlines(breach):
            field = NOTICES.get(deadline.code)
            if field is None:
                continue
            sent = getattr(breach, field)
            if (sent is None and now > deadline.due) or (sent is not None and sent > deadline.due):
                late.append(deadline.code)
        yield Check(
            "incident",
            str(breach.incident_id),
            f"Incident #{breach.incident_id}",
            passed=not late,
            evidence={"affected": breach.affected, "late": late},
        )


def _by_quarter(exercises: list[Incident]) -> dict[str, dict[str, int]]:
    """Per quarter: tabletops held, and the runs of each kind of drill."""
    counts: dict[str, dict[str, int]] = {}
    for incident in exercises:
        opened = incident.opened_at
        quarter = incident.exercise.get("quarter") or f"{opened.year}-Q{(opened.month - 1) // 3 + 1}"
        source = incident.exercise.get("drill_source")
        kind, held = (source, len(incident.exercise.get("drills", []))) if source else ("tabletop", 1)
        counts.setdefault(quarter, {})[kind] = counts.get(quarter, {}).get(kind, 0) + held
    return counts


@control(
    "incidents.annual_exercise",
    title="An incident-response exercise was held in the last year",
    maps=(
        "hipaa:164.308(a)(6)",
        "iso27001-2022:A.5.24",
        "csf2:RS.MA-01",
        "hicp:8.M.C",
    ),
)
def annual_exercise(now: dt.datetime) -> Iterator[Check]:
    exercises = selectors.exercises_since(since=now - dt.timedelta(days=365))
    yield Check(
        "program",
        "incident-response",
        "Incident-response exercises",
        passed=bool(exercises),
        evidence={
            "exercises": [incident.pk for incident in exercises][:20],
            "latest": exercises[0].opened_at.isoformat() if exercises else None,
            # Tabletops and each kind of drill, per quarter (ADR 1414).
            "by_quarter": _by_quarter(exercises),
        },
    )


@control(
    "incidents.cases_have_owner",
    title="Every open incident case has an owner, and a reviewer when serious",
    maps=(
        "hipaa:164.308(a)(6)(ii)",
        "iso27001-2022:A.5.25",
        "csf2:RS.AN-03",
        "hicp:8.S.A",
    ),
)
def cases_have_owner(now: dt.datetime) -> Iterator[Check]:
    for incident in selectors.cases_not_closed():
        serious = incident.severity in ("high", "critical")
        reviewed = incident.reviewer_id is not None and incident.reviewer_id != incident.owner_id
        yield Check(
            "incident",
            str(incident.pk),
            f"Incident #{incident.pk}",
            passed=incident.owner_id is not None and (reviewed or not serious),
            evidence={
                "owner": incident.owner_id,
                "reviewer": incident.reviewer_id,
                "severity": incident.severity,
            },
        )
