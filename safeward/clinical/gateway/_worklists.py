"""Worklists: what each clinical role's home page lists (issue 12), and the
result notifications of the clinician who ordered a test.

Every list reads its rows in a fixed number of statements whatever its
length (the patients' relationships in one facts query, `shown_patients`),
shows each patient as the policy allows, and records one READ event naming
the patients shown."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import lab_catalog
from safeward.clinical.gateway._admission import (
    Shown,
    _require,
    list_event,
    listed_patients,
    shown_patients,
)
from safeward.clinical.gateway._core import (
    Actor,
    parse_id,
    record,
    record_denied,
    user_label,
)
from safeward.clinical.gateway._patients import observation_view
from safeward.clinical.models import (
    Appointment,
    BedOccupancy,
    CareTeamMembership,
    Encounter,
    Patient,
    ResultNotification,
)
from safeward.clinical.policy import Section
from safeward.clinical.types import (
    Conflict,
    NotFound,
    PhysicianWorklist,
    ResultNotificationView,
    SessionContext,
    WorklistPatient,
)
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.one_door import entry

WORKLIST_ROWS = 100  # per list: a home page, not a report


def _today() -> tuple[dt.datetime, dt.datetime]:
    """The hospital's local day now (settings.TIME_ZONE, SAFEWARD_TIME_ZONE)."""
    start = timezone.localtime(clock.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


def _flag_rank(view: ResultNotificationView) -> tuple[int, float]:
    """Critical first, then abnormal, then normal; newest first within each."""
    if view.critical:
        rank = 0
    elif view.observation is not None and (
        (flag := lab_catalog.interpret(view.observation.code, view.observation.unit, view.observation.value))
        is not None
        and flag.abnormal
    ):
        rank = 1
    else:
        rank = 2
    return rank, -view.created_at.timestamp()


def _notification_views(
    rows: list[ResultNotification], shown: dict[uuid.UUID, Shown]
) -> list[ResultNotificationView]:
    views = []
    for n in rows:
        who = shown[n.patient_id]
        visible = who.read.allows(Section.RESULTS) and (
            not n.observation.sensitivity or who.read.include_sensitive
        )
        views.append(
            ResultNotificationView(
                id=str(n.pk),
                patient=who.view,
                observation=observation_view(n.observation) if visible else None,
                critical=n.critical,
                created_at=n.created_at,
                acknowledged_at=n.acknowledged_at,
            )
        )
    return sorted(views, key=_flag_rank)


@entry
def result_notification_acknowledge(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, notification_id: str | uuid.UUID
) -> ResultNotificationView:
    """The recipient has seen the result. Only the recipient may acknowledge;
    anyone else, and a second acknowledgement, are refused."""
    nid = parse_id(notification_id)
    recipient = actor.pk if isinstance(actor, User) else None
    if not ResultNotification.objects.filter(pk=nid, recipient_id=recipient).exists():
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="ResultNotification",
            resource_id=str(nid),
            patient=None,
            reason="not_found",
        )
        raise NotFound
    with transaction.atomic():
        notification = ResultNotification.objects.select_for_update(of=("self",)).get(pk=nid)
        if notification.acknowledged_at is not None:
            raise Conflict("This result was already acknowledged.")
        notification.acknowledged_at = clock.now()
        notification.save(update_fields=["acknowledged_at"])
        patient = Patient.objects.get(pk=notification.patient_id)
        shown = shown_patients(actor, session, purpose, {patient.pk: patient})
        record(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="ResultNotification",
            resource_id=str(notification.pk),
            patient=patient,
            fields=["result_notification.acknowledged"],
            detail={"observation": str(notification.observation_id), "critical": notification.critical},
        )
        rows = list(ResultNotification.objects.select_related("observation").filter(pk=nid))
        return _notification_views(rows, shown)[0]


def _care_roles(memberships: list[CareTeamMembership]) -> dict[uuid.UUID, list[str]]:
    """One row per patient with the person's roles on the care team, each
    once whatever its capitalisation ("attending physician" recorded by an
    import and "Attending physician" by an admission are one role)."""
    roles: dict[uuid.UUID, list[str]] = {}
    for m in memberships:
        label = (m.role or "care team").strip()
        label = label[:1].upper() + label[1:]
        labels = roles.setdefault(m.patient_id, [])
        if label.casefold() not in {known.casefold() for known in labels}:
            labels.append(label)
    return roles


@entry
def physician_worklist(*, actor: Actor, session: SessionContext, purpose: PurposeOfUse) -> PhysicianWorklist:
    """A physician's day: the patients on their care teams, today's clinic,
    their inpatients with ward and bed, and the results of their orders
    waiting for review (critical first). One READ event."""
    _require(actor, Perm.CLINICAL_CHART_READ, session, "Worklist")
    assert isinstance(actor, User)
    now = clock.now()
    day_start, day_end = _today()
    memberships = list(
        CareTeamMembership.objects.filter(user=actor, starts_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("-starts_at")[:WORKLIST_ROWS]
    )
    inpatients = list(
        Encounter.objects.filter(
            attending=actor, kind=Encounter.Kind.INPATIENT, status__in=Encounter.ACTIVE_STATUSES
        ).select_related("department")[:WORKLIST_ROWS]
    )
    beds = {
        s.encounter_id: s
        for s in BedOccupancy.objects.filter(encounter__in=inpatients, current=True).select_related(
            "bed__ward"
        )
    }
    appointments = list(
        Appointment.objects.filter(
            clinician=actor,
            starts_at__gte=day_start,
            starts_at__lt=day_end,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN],
        )
        .select_related("department")
        .order_by("starts_at")[:WORKLIST_ROWS]
    )
    notifications = list(
        ResultNotification.objects.filter(recipient=actor, acknowledged_at__isnull=True)
        .select_related("observation")
        .order_by("-critical", "-created_at")[:WORKLIST_ROWS]
    )
    rows: list[CareTeamMembership | Encounter | Appointment | ResultNotification] = [
        *memberships,
        *inpatients,
        *appointments,
        *notifications,
    ]
    # Each patient read once, whatever the number of lists they are on.
    shown = listed_patients(actor, session, purpose, (row.patient_id for row in rows))

    def bed_of(encounter: Encounter) -> str:
        stay = beds.get(encounter.pk)
        return (
            f"{stay.bed.ward.name} · bed {stay.bed.label}" if stay is not None else encounter.department.name
        )

    roles = _care_roles(memberships)
    with list_event(
        actor=actor,
        purpose=purpose,
        shown=shown,
        resource_type="Worklist",
        resource_id="physician",
        sections=[Section.DEMOGRAPHICS, Section.ENCOUNTERS, Section.APPOINTMENTS, Section.RESULTS],
        detail={"rows": len(roles) + len(inpatients) + len(appointments) + len(notifications)},
    ):
        my_patients = [
            WorklistPatient(patient=shown[patient_id].view, reason=", ".join(labels))
            for patient_id, labels in roles.items()
        ]
        ward_rows = [
            WorklistPatient(
                patient=shown[e.patient_id].view,
                reason="attending",
                detail=bed_of(e),
                encounter_id=str(e.pk),
                status=e.status,
            )
            for e in inpatients
        ]
        clinic = [
            WorklistPatient(
                patient=shown[a.patient_id].view,
                reason=timezone.localtime(a.starts_at).strftime("%H:%M"),
                detail=a.department.name,
                appointment_id=str(a.pk),
                status=a.status,
            )
            for a in appointments
        ]
        results = _notification_views(notifications, shown)
    return PhysicianWorklist(
        my_patients=my_patients, clinic_today=clinic, inpatients=ward_rows, results=results
    )


@entry
def arrivals_today(*, actor: Actor, session: SessionContext, purpose: PurposeOfUse) -> list[WorklistPatient]:
    """The registration desk's day: today's appointments in every clinic,
    booked or checked in, by time. One READ event."""
    _require(actor, Perm.CLINICAL_APPOINTMENT_MANAGE, session, "Worklist")
    day_start, day_end = _today()
    appointments = list(
        Appointment.objects.filter(
            starts_at__gte=day_start,
            starts_at__lt=day_end,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN],
        )
        .select_related("department", "clinician")
        .order_by("starts_at")[: WORKLIST_ROWS * 2]
    )
    shown = listed_patients(actor, session, purpose, (a.patient_id for a in appointments))
    with list_event(
        actor=actor,
        purpose=purpose,
        shown=shown,
        resource_type="Worklist",
        resource_id="arrivals",
        sections=[Section.DEMOGRAPHICS, Section.APPOINTMENTS],
        detail={"rows": len(appointments)},
    ):
        return [
            WorklistPatient(
                patient=shown[a.patient_id].view,
                reason=timezone.localtime(a.starts_at).strftime("%H:%M"),
                detail=" · ".join(part for part in (a.department.name, user_label(a.clinician)) if part),
                appointment_id=str(a.pk),
                encounter_id=str(a.encounter_id) if a.encounter_id else None,
                status=a.status,
            )
            for a in appointments
        ]
