"""Incident writes. An incident opened from alerts links them (each alert
belongs to at most one incident) and confirms the ones still open: an alert
worth an incident is a true positive. Audited in the same transaction; the
summary the person types stays on the incident, never in the audit row."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection.models import Alert
from safeward.detection.triage import InvalidTransition, StaleAlert, TriageError, UnknownObject, alert_version
from safeward.identity.errors import NotPermitted
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.incidents import workflow
from safeward.incidents.models import Incident, Task, TimelineEntry

MAX_TITLE = 200
MAX_SUMMARY = 5000


def _check_alert(alert_id: int, version: str) -> Alert:
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise UnknownObject("No such alert.")
    if version != alert_version(alert):
        raise StaleAlert(
            "This alert changed after you opened it. Nothing was saved; review it and try again."
        )
    if alert.incident_id is not None:
        raise InvalidTransition(f"This alert already belongs to incident {alert.incident_id}.")
    if alert.status == Alert.Status.DISMISSED:
        raise InvalidTransition("A dismissed alert cannot join an incident.")
    return alert


def _attach(*, actor: User, alert: Alert, incident: Incident, action: Action) -> None:
    """Link the alert and confirm it if still open; one audit event."""
    now = clock.now()
    status_before = alert.status
    alert.incident = incident
    alert.updated_at = now
    fields = ["incident", "updated_at"]
    if alert.status in (Alert.Status.NEW, Alert.Status.TRIAGE):
        alert.status = Alert.Status.CONFIRMED
        alert.resolved_at = now
        alert.resolved_by_id = actor.pk
        alert.resolution_reason = alert.resolution_reason or f"Part of incident {incident.pk}."
        alert.triaged_at = alert.triaged_at or now
        if alert.assignee_id is None:
            alert.assignee_id = actor.pk
        fields += [
            "status",
            "resolved_at",
            "resolved_by_id",
            "resolution_reason",
            "assignee_id",
            "triaged_at",
        ]
    alert.save(update_fields=fields)
    timeline_entry(
        incident=incident,
        kind=TimelineEntry.Kind.ALERT,
        text=f"Alert {alert.pk} ({alert.rule}) linked: {alert.title}"[:1000],
        occurred_at=alert.created_at,
        ref=f"alert:{alert.pk}",
        actor=actor,
    )
    if alert.triaged_at is not None:
        timeline_entry(
            incident=incident,
            kind=TimelineEntry.Kind.AUDIT,
            text=f"Alert {alert.pk} first acknowledged by the workforce",
            occurred_at=alert.triaged_at,
            ref=f"alert-triage:{alert.pk}",
            actor=actor,
        )
    audit_record(
        action=action,
        actor=actor,
        resource_type="Incident",
        resource_id=incident.pk,
        purpose=PurposeOfUse.SECURITY,
        detail={
            "alert_id": alert.pk,
            "severity": incident.severity,
            "alert_status_before": status_before,
            "alert_status_after": alert.status,
        },
    )


def timeline_entry(
    *,
    incident: Incident,
    kind: str,
    text: str,
    actor: User | None,
    occurred_at: dt.datetime | None = None,
    time_zone: str = "UTC",
    ref: str = "",
    for_report: bool = False,
) -> TimelineEntry:
    """An automatic timeline entry, written inside the caller's service (and its transaction)."""
    now = clock.now()
    return TimelineEntry.objects.create(
        incident=incident,
        kind=kind,
        text=text[:1000],
        occurred_at=occurred_at or now,
        time_zone=time_zone,
        ref=ref[:64],
        for_report=for_report,
        created_by_id=actor.pk if actor is not None else None,
        created_at=now,
    )


def _playbook(incident: Incident) -> None:
    steps = workflow.PLAYBOOKS.get(incident.category, workflow.PLAYBOOKS["other"])
    # An exercise's tasks carry no due dates: its clock is the scenario's, not a real one.
    hours = {} if incident.is_exercise else workflow.TASK_DUE_HOURS
    Task.objects.bulk_create(
        Task(
            incident=incident,
            kind=Task.Kind.PLAYBOOK,
            code=code,
            title=title,
            position=index,
            due_at=incident.opened_at + dt.timedelta(hours=hours[code]) if code in hours else None,
        )
        for index, (code, title) in enumerate(steps)
    )


def _require_both(actor: User) -> None:
    if not (actor.has_perm(Perm.INCIDENT_RECORD_MANAGE) and actor.has_perm(Perm.DETECTION_ALERT_TRIAGE)):
        raise NotPermitted(f"{Perm.INCIDENT_RECORD_MANAGE} and {Perm.DETECTION_ALERT_TRIAGE} are required")


@transaction.atomic
def incident_open_from_alert(
    *,
    actor: User,
    alert_id: int,
    version: str,
    title: str,
    severity: str,
    summary: str,
    category: str = Incident.Category.OTHER,
) -> Incident:
    _require_both(actor)
    title = " ".join((title or "").split())
    if not title:
        raise TriageError("Give the incident a title.")
    if len(title) > MAX_TITLE:
        raise TriageError(f"The title is limited to {MAX_TITLE} characters.")
    if severity not in Incident.Severity.values:
        raise TriageError("Choose a severity.")
    summary = (summary or "").strip()
    if len(summary) > MAX_SUMMARY:
        raise TriageError(f"The summary is limited to {MAX_SUMMARY} characters.")
    alert = _check_alert(alert_id, version)
    incident = Incident.objects.create(
        title=title,
        severity=severity,
        summary=summary,
        opened_at=clock.now(),
        opened_by_id=actor.pk,
        owner_id=actor.pk,
        category=category if category in Incident.Category.values else Incident.Category.OTHER,
    )
    _playbook(incident)
    timeline_entry(
        incident=incident, kind=TimelineEntry.Kind.STATUS, text="Case opened from an alert", actor=actor
    )
    _attach(actor=actor, alert=alert, incident=incident, action=Action.CREATE)
    return incident


@transaction.atomic
def incident_link_alert(*, actor: User, alert_id: int, version: str, incident_id: int) -> Incident:
    """Add an alert to an incident that is not closed (the same attacker, a
    second rule firing)."""
    _require_both(actor)
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None:
        raise TriageError("Choose an incident.")
    if incident.status == Incident.Status.CLOSED:
        raise InvalidTransition(f"Incident {incident.pk} is closed; reopen it first.")
    alert = _check_alert(alert_id, version)
    _attach(actor=actor, alert=alert, incident=incident, action=Action.UPDATE)
    return incident


@transaction.atomic
def incident_status_set(*, actor: User, incident_id: int, status: str, reason: str = "") -> Incident:
    """Move the case along the transition table (`workflow.TRANSITIONS`):
    forward freely, back or reopened only with a reason."""
    if not actor.has_perm(Perm.INCIDENT_RECORD_MANAGE):
        raise NotPermitted(f"{Perm.INCIDENT_RECORD_MANAGE} is required")
    if status not in Incident.Status.values:
        raise TriageError("Choose a status.")
    reason = " ".join((reason or "").split())
    if len(reason) > 500:
        raise TriageError("The reason is limited to 500 characters.")
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None:
        raise UnknownObject("No such incident.")
    if incident.status == status:
        raise InvalidTransition(f"The incident is already {incident.get_status_display().lower()}.")
    before = incident.status
    if not workflow.transition_allowed(before, status):
        raise InvalidTransition(f"A case cannot go from {incident.get_status_display().lower()} to {status}.")
    if workflow.reason_required(before, status) and not reason:
        raise TriageError(f"Say why the case goes from {before} to {status}.")
    incident.status = status
    incident.status_reason = reason
    incident.closed_at = clock.now() if status == Incident.Status.CLOSED else None
    incident.save(update_fields=["status", "closed_at", "status_reason"])
    timeline_entry(
        incident=incident,
        kind=TimelineEntry.Kind.STATUS,
        text=f"Status {before} -> {status}" + (f": {reason}" if reason else ""),
        actor=actor,
    )
    audit_record(
        action=Action.UPDATE,
        actor=actor,
        resource_type="Incident",
        resource_id=incident.pk,
        purpose=PurposeOfUse.SECURITY,
        detail={"status_before": before, "status_after": status, "reason_given": bool(reason)},
    )
    return incident


@transaction.atomic
def incident_open_for(
    *,
    actor: User | None,
    title: str,
    severity: str,
    summary: str,
    source: str,
    category: str = Incident.Category.OTHER,
) -> Incident:
    """Open an incident for something another app detected (a device reported lost, a
    vendor's breach notice, a device missing before disposal). The caller has already
    checked the person's permission for its own action; `source` names that action in
    the audit row (e.g. "devices.report_lost"), never patient data."""
    title = " ".join((title or "").split())
    if not title or len(title) > MAX_TITLE:
        raise TriageError(f"An incident needs a title of at most {MAX_TITLE} characters.")
    if severity not in Incident.Severity.values:
        raise TriageError("Choose a severity.")
    summary = (summary or "").strip()[:MAX_SUMMARY]
    incident = Incident.objects.create(
        title=title,
        severity=severity,
        summary=summary,
        opened_at=clock.now(),
        opened_by_id=actor.pk if actor is not None else None,
        owner_id=actor.pk if actor is not None else None,
        category=category if category in Incident.Category.values else Incident.Category.OTHER,
    )
    _playbook(incident)
    timeline_entry(
        incident=incident, kind=TimelineEntry.Kind.STATUS, text=f"Case opened by {source}", actor=actor
    )
    audit_record(
        action=Action.CREATE,
        actor=actor,
        resource_type="Incident",
        resource_id=incident.pk,
        purpose=PurposeOfUse.SECURITY,
        detail={"severity": severity, "source": source},
    )
    return incident
