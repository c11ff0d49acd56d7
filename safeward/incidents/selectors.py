"""Incident reads: a keyset-paged list (newest first) and one incident."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q

from safeward.identity.permissions import Perm
from safeward.identity.selectors import users_holding
from safeward.incidents.models import (
    BreachAssessment,
    Evidence,
    Incident,
    NotificationDelivery,
    Task,
    TimelineEntry,
)


def incidents_page(*, status: str, before_id: int | None, size: int) -> tuple[list[Incident], int | None]:
    """Newest first by id (ids grow with time); returns the page and the id to
    continue before (None: last page)."""
    incidents = Incident.objects.annotate(alert_count=Count("alert"))
    if status:
        incidents = incidents.filter(status=status)
    if before_id is not None:
        incidents = incidents.filter(Q(id__lt=before_id))
    rows: list[Incident] = list(incidents.order_by("-id")[: size + 1])
    if len(rows) <= size:
        return rows, None
    return rows[:size], int(rows[size - 1].pk)


def incident_get(*, incident_id: int) -> Incident | None:
    return Incident.objects.filter(pk=incident_id).first()


def incidents_not_closed(*, limit: int = 100) -> list[Incident]:
    """Open and contained incidents, newest first: what an alert can join."""
    return list(Incident.objects.exclude(status=Incident.Status.CLOSED).order_by("-id")[:limit])


def deliveries_for(*, alert_id: int) -> list[NotificationDelivery]:
    """The notification outbox rows of one alert, one per channel."""
    return list(NotificationDelivery.objects.filter(alert_id=alert_id).order_by("channel"))


def case_timeline(*, incident_id: int) -> list[TimelineEntry]:
    return list(TimelineEntry.objects.filter(incident_id=incident_id).order_by("occurred_at", "id"))


def case_tasks(*, incident_id: int) -> list[Task]:
    return list(Task.objects.filter(incident_id=incident_id).order_by("kind", "position", "id"))


def case_evidence(*, incident_id: int) -> list[Evidence]:
    return list(Evidence.objects.filter(incident_id=incident_id).prefetch_related("custody").order_by("id"))


def case_breach(*, incident_id: int) -> BreachAssessment | None:
    return BreachAssessment.objects.filter(incident_id=incident_id).first()


def evidence_get(*, evidence_id: int) -> Evidence | None:
    return Evidence.objects.select_related("incident").filter(pk=evidence_id).first()


def open_breaches() -> list[BreachAssessment]:
    """The breach assessments of cases not closed, or closed with a notice still unsent."""
    return list(
        BreachAssessment.objects.select_related("incident")
        .filter(affected__gt=0)
        .exclude(incident__is_exercise=True)
        .order_by("incident_id")
    )


def exercises_since(*, since: dt.datetime) -> list[Incident]:
    return list(Incident.objects.filter(is_exercise=True, opened_at__gte=since).order_by("-opened_at"))


def cases_not_closed() -> list[Incident]:
    return list(Incident.objects.exclude(status=Incident.Status.CLOSED).order_by("id"))


def tasks_due_by(*, until: dt.datetime) -> list[Task]:
    """Tasks not done, of cases not closed, due at or before `until` (soonest first)."""
    return list(
        Task.objects.select_related("incident")
        .filter(done_at__isnull=True, due_at__isnull=False, due_at__lte=until)
        .exclude(incident__status=Incident.Status.CLOSED)
        .order_by("due_at", "id")
    )


def timeline_entry_get(*, entry_id: int) -> TimelineEntry | None:
    return TimelineEntry.objects.select_related("incident").filter(pk=entry_id).first()


def task_get(*, task_id: int) -> Task | None:
    return Task.objects.select_related("incident").filter(pk=task_id).first()


# Who may be named on a case: owners and evidence holders keep cases; reviewers read them.
OWNER_PERMISSION = Perm.INCIDENT_RECORD_MANAGE
REVIEWER_PERMISSION = Perm.INCIDENT_RECORD_READ


def staff_choices(*, permission: str) -> list[tuple[int, str]]:
    """Active people holding `permission`, labelled "Full Name (username)", for a select."""
    people = users_holding(permission=permission).order_by("last_name", "first_name", "username")[:500]
    return [
        (
            int(person.pk),
            f"{person.get_full_name()} ({person.username})" if person.get_full_name() else person.username,
        )
        for person in people
    ]


def staff_eligible(*, user_id: int, permission: str) -> bool:
    return users_holding(permission=permission).filter(pk=user_id).exists()
