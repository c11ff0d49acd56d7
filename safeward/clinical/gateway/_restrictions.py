"""Patient-requested restrictions (HIPAA 164.522): record, list and lift.

A restriction keeps a named person or a department out of the record, or
keeps codes from the payer; the policy reads the active ones on every
decision (`_core.facts_for`). Recording and lifting one is a registration
(front-desk / health-information) function: `clinical:patient:register`,
decided as a write of the patient's demographics. The free-text note is
decrypted only for those who manage restrictions."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Q

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import (
    Actor,
    assign,
    check_choice,
    parse_id,
    plain,
    record,
    record_denied,
    subject_for,
    use_submission,
    user_label,
)
from safeward.clinical.gateway._patients import load_patient
from safeward.clinical.gateway._writes import _text
from safeward.clinical.models import PatientRestriction
from safeward.clinical.policy import Action, Section
from safeward.clinical.types import Conflict, InvalidInput, NotFound, RestrictionView, SessionContext
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import department_exists, users_holding
from safeward.one_door import entry

HISTORY_LIMIT = 50


def _view(r: PatientRestriction) -> RestrictionView:
    return RestrictionView(
        id=str(r.pk),
        kind=r.kind,
        user_id=r.user_id,
        user=user_label(r.user),
        department_id=r.department_id,
        department=r.department.name if r.department is not None else "",
        note=plain(r, "note"),
        starts_at=r.starts_at,
        ends_at=r.ends_at,
    )


@entry
def staff_choices() -> list[tuple[int, str]]:
    """(id, name) of active accounts holding a role that may open patient
    records: the people a patient can ask to be kept out (no PHI)."""
    users = users_holding(permission=Perm.CLINICAL_PATIENT_READ.value).order_by(
        "last_name", "first_name", "username"
    )
    return [(u.pk, user_label(u)) for u in users]


@entry
def restriction_list(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, patient_id: str | uuid.UUID
) -> list[RestrictionView]:
    """The patient's restrictions, active first, then the lifted ones (newest
    first). Needs `clinical:patient:register` and a decision that discloses
    demographics; one READ audit event."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.READ,
        audit_action=AuditAction.READ,
        resource_type="PatientRestriction",
    )
    if (
        not subject_for(actor).has(Perm.CLINICAL_PATIENT_REGISTER)
        or Section.DEMOGRAPHICS not in decision.sections
    ):
        record_denied(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="PatientRestriction",
            resource_id=str(patient.pk),
            patient=patient,
            reason="permission",
        )
        raise NotFound
    now = clock.now()
    with transaction.atomic():
        rows = list(
            PatientRestriction.objects.filter(patient=patient)
            .select_related("user", "department")
            .order_by("-starts_at")[:HISTORY_LIMIT]
        )
        views = [_view(r) for r in rows]
        views.sort(key=lambda v: not v.active_at(now))  # stable: active first, each newest first
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="PatientRestriction",
            resource_id=str(patient.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["restriction"] if views else (),
        )
    return views


@entry
def restriction_create(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    kind: str,
    user_id: int | None = None,
    department_id: int | None = None,
    note: str | None = None,
    submission: str | None = None,
) -> RestrictionView:
    """Record a restriction the patient asked for; it applies from now on."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.CREATE,
        audit_action=AuditAction.CREATE,
        section=Section.DEMOGRAPHICS,
        resource_type="PatientRestriction",
    )
    check_choice("kind", kind, PatientRestriction.Kind)
    person, department = None, None
    if kind == PatientRestriction.Kind.EXCLUDE_USER:
        person = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
        if person is None:
            raise InvalidInput({"user": "Choose the person to keep out of the record."})
    elif kind == PatientRestriction.Kind.EXCLUDE_DEPARTMENT:
        if not department_exists(department_id=department_id):
            raise InvalidInput({"department": "Choose the department to keep out of the record."})
        department = department_id
    now = clock.now()
    restriction = PatientRestriction(
        patient=patient, kind=kind, user=person, department_id=department, starts_at=now
    )
    assign(restriction, {"note": _text("note", note, required=False, max_length=500)})
    with transaction.atomic():
        use_submission(submission)
        same = (
            PatientRestriction.objects.select_for_update()
            .filter(patient=patient, kind=kind, user=person, starts_at__lte=now)
            .filter(Q(department_id=department) if department is not None else Q(department__isnull=True))
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        )
        if same.exists():
            raise Conflict("The same restriction is already in force.")
        restriction.save()
        record(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=purpose,
            resource_type="PatientRestriction",
            resource_id=str(restriction.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["restriction"],
            detail={"kind": kind},
        )
        return _view(restriction)


@entry
def restriction_lift(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    restriction_id: str | uuid.UUID,
) -> RestrictionView:
    """End a restriction now (the patient withdrew it). Lifting one that has
    already ended is a Conflict (a double post changes nothing)."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=Section.DEMOGRAPHICS,
        resource_type="PatientRestriction",
    )
    rid = parse_id(restriction_id)
    now = clock.now()
    with transaction.atomic():
        restriction = PatientRestriction.objects.select_for_update().filter(pk=rid, patient=patient).first()
        if restriction is not None and restriction.ends_at is not None and restriction.ends_at <= now:
            raise Conflict("This restriction was already lifted.")
        if restriction is not None:
            restriction.ends_at = now
            restriction.save(update_fields=["ends_at"])
            record(
                action=AuditAction.UPDATE,
                actor=actor,
                purpose=purpose,
                resource_type="PatientRestriction",
                resource_id=str(restriction.pk),
                patient=patient,
                decision=decision,
                facts=facts,
                fields=["restriction"],
                detail={"kind": restriction.kind, "lifted": True},
            )
            return _view(restriction)
    record_denied(
        action=AuditAction.UPDATE,
        actor=actor,
        purpose=purpose,
        resource_type="PatientRestriction",
        resource_id=str(rid),
        patient=patient,
        reason="not_found",
    )
    raise NotFound
