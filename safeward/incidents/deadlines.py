"""Deadline alerts (ADR 1410): the breach notification clock and the case
tasks' due dates, checked on a schedule.

`deadlines_sweep` (run by `safeward incidents check-deadlines`, from cron or a
systemd timer, hourly) records one audit event per deadline that is near or
past; detection's rule `incident_deadline` turns each into an alert naming the
case owner, and the repeats of one deadline join its open alert, as the
policy library's overdue reviews do. A breach notice is near within
`rules.NEAR_DAYS` (14 days), a task within `TASK_NEAR` (24 hours). What is
done (a notice recorded as sent, a task ticked) is never alerted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection.evaluate import INCIDENT_DEADLINE_CHECK
from safeward.identity.selectors import usernames
from safeward.incidents import case_services, selectors
from safeward.incidents.models import Incident

TASK_NEAR = dt.timedelta(hours=24)
SWEEP_ACTOR = "safeward incidents check-deadlines"


@dataclass(frozen=True)
class DueItem:
    incident_id: int
    deadline: str  # "breach:<rule code>" or "task:<task id>"
    label: str  # never text a person typed: the audit row carries it
    due: dt.datetime
    state: str  # near | overdue
    owner_id: int | None


def deadlines_due(*, now: dt.datetime) -> list[DueItem]:
    """Every breach notice and case task that is near its due time or past it, soonest first."""
    items: list[DueItem] = []
    for breach in selectors.open_breaches():
        closed = breach.incident.status == Incident.Status.CLOSED
        for deadline in case_services.breach_deadlines(breach):
            if case_services.deadline_done(breach, deadline.code) is not None:
                continue
            # A closed case still owes the notices SafeWard records; the others end with the case.
            if closed and not case_services.deadline_recorded(deadline.code):
                continue
            state = deadline.state(now)
            if state in ("near", "overdue"):
                items.append(
                    DueItem(
                        int(breach.incident_id),
                        f"breach:{deadline.code}",
                        deadline.label,
                        deadline.due,
                        state,
                        breach.incident.owner_id,
                    )
                )
    for task in selectors.tasks_due_by(until=now + TASK_NEAR):
        assert task.due_at is not None
        label = f"task {task.pk}" + (f" ({task.code})" if task.code else "")
        items.append(
            DueItem(
                int(task.incident_id),
                f"task:{task.pk}",
                label,
                task.due_at,
                "overdue" if task.due_at < now else "near",
                task.incident.owner_id,
            )
        )
    return sorted(items, key=lambda item: (item.due, item.incident_id, item.deadline))


def deadlines_sweep(*, now: dt.datetime | None = None) -> list[DueItem]:
    """Record one event per near or overdue deadline, in one transaction
    (`safeward detect` raises their alerts). Returns what was recorded."""
    now = now or clock.now()
    items = deadlines_due(now=now)
    names = usernames(user_ids=[item.owner_id for item in items if item.owner_id is not None])
    with transaction.atomic():
        for item in items:
            audit_record(
                action=Action.EXECUTE,
                actor=None,
                actor_username=SWEEP_ACTOR,
                resource_type="Incident",
                resource_id=str(item.incident_id),
                purpose=PurposeOfUse.SECURITY,
                detail={
                    "check": INCIDENT_DEADLINE_CHECK,
                    "deadline": item.deadline,
                    "label": item.label,
                    "due": item.due.isoformat(),
                    "state": item.state,
                    "owner_id": item.owner_id,
                    "owner_username": names.get(item.owner_id or 0, ""),
                },
            )
    return items
