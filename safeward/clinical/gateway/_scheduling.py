"""Scheduling: a calendar of slots per department (optionally per
clinician), the day view of a clinic, booking, cancelling, checking in."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import IntegrityError as DatabaseIntegrityError
from django.db import transaction
from django.utils import timezone

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import policy
from safeward.clinical.gateway._core import (
    Actor,
    access_context,
    assign,
    audit_fields,
    facts_for,
    limit,
    parse_id,
    record,
    record_denied,
    resource_for,
    subject_for,
    use_submission,
    user_label,
)
from safeward.clinical.gateway._patients import appointment_view, load_patient, patient_view
from safeward.clinical.models import Appointment, Encounter, Slot
from safeward.clinical.policy import Action, Section
from safeward.clinical.types import (
    AppointmentView,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatientView,
    SessionContext,
    SlotView,
    SystemActor,
)
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import department_choices, department_exists, users_holding
from safeward.one_door import entry

MAX_SLOTS_PER_DAY = 96


def _require(actor: Actor, perm: Perm, session: SessionContext) -> None:
    if isinstance(actor, SystemActor):
        return  # the demo seed and imports: system actors write calendars, never read patients here
    subject = subject_for(actor)
    if not subject.has(perm) or not session.reachable:
        raise Forbidden


OUTSIDE_CALENDAR = "This day is outside the calendar SafeWard can schedule."


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    # The first and last days of Python's calendar have no next or previous
    # midnight in every time zone (9999-12-31 + 1 day overflows): a 400, not a 500.
    if not dt.date.min < day < dt.date.max:
        raise InvalidInput({"day": OUTSIDE_CALENDAR})
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


@entry
def slots_create(
    *,
    actor: Actor,
    session: SessionContext,
    department_id: int,
    day: dt.date,
    start: dt.time,
    end: dt.time,
    minutes: int,
    clinician_id: int | None = None,
) -> int:
    """Open bookable slots on one day; existing slots at the same times are kept. No PHI."""
    _require(actor, Perm.CLINICAL_APPOINTMENT_MANAGE, session)
    if not department_exists(department_id=department_id):
        raise InvalidInput({"department": "No such department."})
    clinician = None
    if clinician_id is not None:
        clinician = User.objects.filter(pk=clinician_id, is_active=True).first()
        if clinician is None:
            raise InvalidInput({"clinician": "No such clinician."})
    if not 5 <= minutes <= 240 or end <= start:
        raise InvalidInput({"minutes": "Give a start before the end and 5 to 240 minutes per slot."})
    first = timezone.make_aware(dt.datetime.combine(day, start))
    last = timezone.make_aware(dt.datetime.combine(day, end))
    times: list[dt.datetime] = []
    moment = first
    while moment + dt.timedelta(minutes=minutes) <= last and len(times) < MAX_SLOTS_PER_DAY:
        times.append(moment)
        moment += dt.timedelta(minutes=minutes)
    with transaction.atomic():
        existing = set(
            Slot.objects.filter(
                department_id=department_id, clinician=clinician, starts_at__in=times
            ).values_list("starts_at", flat=True)
        )
        new = [
            Slot(
                department_id=department_id,
                clinician=clinician,
                starts_at=t,
                ends_at=t + dt.timedelta(minutes=minutes),
            )
            for t in times
            if t not in existing
        ]
        Slot.objects.bulk_create(new)
        if not new:
            return 0
        record(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=PurposeOfUse.OPERATIONS,
            resource_type="Slot",
            detail={"department": department_id, "slots": len(new), "day": day.isoformat()},
        )
    return len(new)


@entry
def schedule_day(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    department_id: int,
    day: dt.date,
    clinician_id: int | None = None,
) -> list[SlotView]:
    """A clinic's day: every slot with its live appointment. Patient names are
    shown as the policy allows a search result (restricted records stay
    restricted). Audited as one READ naming the patients shown."""
    _require(actor, Perm.CLINICAL_APPOINTMENT_READ, session)
    start, end = _day_bounds(day)
    slots = Slot.objects.filter(department_id=department_id, starts_at__gte=start, starts_at__lt=end)
    if clinician_id is not None:
        slots = slots.filter(clinician_id=clinician_id)
    slot_rows = list(slots.select_related("clinician", "department").order_by("starts_at", "clinician_id"))
    appointments = {
        a.slot_id: a
        for a in Appointment.objects.filter(slot__in=slot_rows)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient", "department", "clinician")
    }
    patients = {a.patient_id: a.patient for a in appointments.values()}
    facts = facts_for(actor, list(patients))
    subject = subject_for(actor)
    context = access_context(session, purpose)
    shown: dict[uuid.UUID, PatientView] = {}
    for pid, patient in patients.items():
        decision = limit(
            policy.decide(subject, resource_for(patient, facts[pid]), Action.SEARCH, context),
            session,
            str(pid),
        )
        if decision.permitted:
            shown[pid] = patient_view(patient, decision.sections)
        else:
            shown[pid] = PatientView(id=str(pid), sections=frozenset(), restricted=True)
    with transaction.atomic():
        result = []
        for slot in slot_rows:
            appointment = appointments.get(slot.pk)
            view = None
            if appointment is not None:
                patient_shown = shown[appointment.patient_id]
                view = appointment_view(appointment, patient_shown) if not patient_shown.restricted else None
                if view is None:
                    view = AppointmentView(
                        id=str(appointment.pk),
                        patient_id=str(appointment.patient_id),
                        patient=patient_shown,
                        department=appointment.department.name,
                        department_id=appointment.department_id,
                        clinician=user_label(appointment.clinician),
                        starts_at=appointment.starts_at,
                        ends_at=appointment.ends_at,
                        status=appointment.status,
                        reason=None,
                        encounter_id=None,
                    )
            result.append(
                SlotView(
                    id=str(slot.pk),
                    department_id=slot.department_id,
                    clinician=user_label(slot.clinician),
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                    appointment=view,
                    blocked=slot.blocked,
                )
            )
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="Schedule",
            resource_id=str(department_id),
            fields=audit_fields([Section.DEMOGRAPHICS, Section.APPOINTMENTS]) if patients else (),
            detail={"day": day.isoformat()},
            patient_ids=[str(pid) for pid, v in shown.items() if not v.restricted],
        )
    return result


@entry
def appointment_book(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    slot_id: str,
    reason: str | None = None,
    submission: str | None = None,
) -> AppointmentView:
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.CREATE,
        audit_action=AuditAction.CREATE,
        section=Section.APPOINTMENTS,
        resource_type="Appointment",
    )
    sid = parse_id(slot_id)
    now = clock.now()
    with transaction.atomic():
        use_submission(submission)
        slot = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("department", "clinician")
            .filter(pk=sid)
            .first()
        )
        if slot is None or slot.blocked:
            raise InvalidInput({"slot": "No such slot."})
        # A person books ahead; an import or the demo seed may record a visit that already began.
        if slot.starts_at < now and not isinstance(actor, SystemActor):
            raise InvalidInput({"slot": "The slot is in the past: choose a later one."})
        appointment = Appointment(
            patient=patient,
            slot=slot,
            department=slot.department,
            clinician=slot.clinician,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            booked_by=actor if isinstance(actor, User) else None,
            booked_at=now,
        )
        text = (reason or "").strip()
        if len(text) > 500:
            raise InvalidInput({"reason": "Too long."})
        assign(appointment, {"reason": text or None})
        try:
            with transaction.atomic():
                appointment.save()
        except DatabaseIntegrityError:
            raise Conflict("That slot has just been booked.") from None
        record(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=purpose,
            resource_type="Appointment",
            resource_id=str(appointment.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=audit_fields([Section.APPOINTMENTS]),
        )
        return appointment_view(appointment, None)


def _appointment_change(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    appointment_id: str,
    check_in: bool,
) -> AppointmentView:
    aid = parse_id(appointment_id)
    patient_id = Appointment.objects.filter(pk=aid).values_list("patient_id", flat=True).first()
    if patient_id is None:
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="Appointment",
            resource_id=str(aid),
            patient=None,
            reason="not_found",
        )
        raise NotFound
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=Section.APPOINTMENTS,
        resource_type="Appointment",
    )
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("department", "clinician")
            .get(pk=aid)
        )
        if appointment.status != Appointment.Status.BOOKED:
            raise Conflict("The appointment is no longer booked.")
        fields = ["appointment.status"]
        # Check-in on the appointment's own day, in the hospital's time zone.
        if check_in and timezone.localdate(appointment.starts_at) != timezone.localdate(clock.now()):
            raise Conflict("This appointment is not today: a patient is checked in on the appointment's day.")
        if check_in:
            encounter = Encounter.objects.create(
                patient=patient,
                kind=Encounter.Kind.OUTPATIENT,
                department=appointment.department,
                attending=appointment.clinician,
                status=Encounter.Status.ARRIVED,
                started_at=clock.now(),
            )
            appointment.encounter = encounter
            appointment.status = Appointment.Status.CHECKED_IN
            fields.append("encounter")
        else:
            appointment.status = Appointment.Status.CANCELLED
        appointment.save(update_fields=["status", "encounter"])
        record(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="Appointment",
            resource_id=str(appointment.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=fields,
            detail={"change": "check_in" if check_in else "cancel"},
        )
        return appointment_view(appointment, None)


@entry
def appointment_cancel(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, appointment_id: str
) -> AppointmentView:
    return _appointment_change(
        actor=actor, session=session, purpose=purpose, appointment_id=appointment_id, check_in=False
    )


@entry
def appointment_check_in(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, appointment_id: str
) -> AppointmentView:
    """The patient has arrived: an outpatient encounter starts in the clinic's department."""
    return _appointment_change(
        actor=actor, session=session, purpose=purpose, appointment_id=appointment_id, check_in=True
    )


@entry
def departments_list(*, clinical_only: bool = False) -> list[tuple[int, str]]:
    """(id, name) of the departments (only the clinical ones: clinics and
    admissions), for pickers (no PHI)."""
    return department_choices(clinical_only=clinical_only)


@entry
def clinicians_list() -> list[tuple[int, str]]:
    """(id, name) of the physicians (active accounts that prescribe): the
    only people who can be attending, for pickers (no PHI)."""
    users = users_holding(permission=Perm.CLINICAL_MEDICATION_PRESCRIBE.value).order_by(
        "last_name", "first_name"
    )
    return [(u.pk, user_label(u)) for u in users]
