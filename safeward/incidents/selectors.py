"""Incident reads: a keyset-paged list (newest first) and one incident."""

from __future__ import annotations

from django.db.models import Count, Q

from safeward.incidents.models import Incident, NotificationDelivery


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
