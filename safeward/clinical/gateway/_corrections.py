"""Corrections and amendments of the chart (ONC 170.315(d)(4)): discontinue
a medication, resolve a problem, change an allergy's status, amend a note
(append-only), correct a lab result. Each goes through the policy like any
write of its section; the values replaced are kept in an encrypted chart
version (a note's earlier version is its own, unchanged row); the audit
event names the fields that changed and the version, never a value
(ADR 0576). A correction may answer a patient's amendment request, which
is then accepted and linked to it in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, models, transaction

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import (
    Actor,
    assign,
    check_choice,
    correction_detail,
    link_amendment,
    parse_id,
    pending_amendment,
    plain,
    record,
    record_denied,
    save_version,
    use_submission,
)
from safeward.clinical.gateway._patients import (
    allergy_view,
    condition_view,
    count_emergency_access,
    load_patient,
    medication_view,
    note_view,
    observation_view,
)
from safeward.clinical.gateway._writes import UCUM, _text, _user, check_plausible
from safeward.clinical.models import (
    AllergyIntolerance,
    ClinicalNote,
    Condition,
    MedicationRequest,
    Observation,
)
from safeward.clinical.policy import Action, Decision, Section
from safeward.clinical.types import (
    AllergyView,
    ConditionView,
    Conflict,
    Forbidden,
    InvalidInput,
    MedicationView,
    NoteView,
    NotFound,
    ObservationView,
    SessionContext,
)
from safeward.identity.models import User
from safeward.one_door import entry


def _correct[M: models.Model, V](
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    section: Section,
    model: type[M],
    row_id: str | uuid.UUID,
    change: Callable[[M, Decision], dict[str, Any]],
    view: Callable[[M], V],
    reason: str | None,
    amendment_request_id: str | uuid.UUID | None,
    submission: str | None,
    audit_field: str,
) -> V:
    """Decide on the section's write, lock the row, apply `change` (which
    validates and returns the values it replaced), keep them in a chart
    version and audit it, all or nothing. A row of another patient, or a
    sensitive row without a direct relationship, is not found."""
    resource_type = model.__name__
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=section,
        resource_type=resource_type,
    )
    rid = parse_id(row_id)
    try:
        with transaction.atomic():
            row = model._default_manager.select_for_update().filter(pk=rid, patient=patient).first()
            if row is None or (getattr(row, "sensitivity", None) and not decision.include_sensitive):
                raise NotFound
            use_submission(submission)
            request = pending_amendment(patient, amendment_request_id)
            before = change(row, decision)
            version = save_version(
                patient=patient,
                resource_type=resource_type,
                resource_id=rid,
                before=before,
                reason=reason,
                actor=actor,
            )
            link_amendment(request, version, actor=actor)
            count_emergency_access(decision, facts)
            record(
                action=AuditAction.UPDATE,
                actor=actor,
                purpose=purpose,
                resource_type=resource_type,
                resource_id=str(rid),
                patient=patient,
                decision=decision,
                facts=facts,
                fields=[audit_field],
                detail=correction_detail(before, version, request),
            )
            return view(row)
    except NotFound:
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id=str(rid),
            patient=patient,
            reason="not_found",
        )
        raise


def _status_change(row: Any, name: str, new: str, allowed_from: tuple[str, ...], what: str) -> dict[str, Any]:
    old = getattr(row, name)
    if old == new:
        raise Conflict(f"This {what} already has that status.")
    if old not in allowed_from:
        raise Conflict(f"This {what} can no longer change status.")
    setattr(row, name, new)
    row.save(update_fields=[name])
    return {name: old}


@entry
def medication_discontinue(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    medication_id: str | uuid.UUID,
    reason: str,
    amendment_request_id: str | uuid.UUID | None = None,
    submission: str | None = None,
) -> MedicationView:
    """Stop an active medication (a prescriber with a relationship); the reason is kept."""
    why = _text("reason", reason, max_length=500)

    def change(row: MedicationRequest, _decision: Decision) -> dict[str, Any]:
        return _status_change(row, "status", MedicationRequest.Status.STOPPED, ("active",), "medication")

    return _correct(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.MEDICATIONS,
        model=MedicationRequest,
        row_id=medication_id,
        change=change,
        view=medication_view,
        reason=why,
        amendment_request_id=amendment_request_id,
        submission=submission,
        audit_field="medication_request.status",
    )


@entry
def condition_resolve(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    condition_id: str | uuid.UUID,
    status: str = "resolved",
    reason: str | None = None,
    amendment_request_id: str | uuid.UUID | None = None,
    submission: str | None = None,
) -> ConditionView:
    """Mark a problem resolved or inactive (or active again)."""
    new = check_choice("status", status, Condition.Status)
    why = _text("reason", reason, required=False, max_length=500)

    def change(row: Condition, _decision: Decision) -> dict[str, Any]:
        return _status_change(row, "clinical_status", new, tuple(Condition.Status.values), "problem")

    return _correct(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.PROBLEMS,
        model=Condition,
        row_id=condition_id,
        change=change,
        view=condition_view,
        reason=why,
        amendment_request_id=amendment_request_id,
        submission=submission,
        audit_field="condition.clinical_status",
    )


@entry
def allergy_set_status(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    allergy_id: str | uuid.UUID,
    status: str,
    reason: str | None = None,
    amendment_request_id: str | uuid.UUID | None = None,
    submission: str | None = None,
) -> AllergyView:
    """Mark an allergy inactive, resolved or entered in error (or active again).
    Entered in error is final: such an entry never changes again, and it
    needs a reason."""
    new = check_choice("status", status, AllergyIntolerance.Status)
    why = _text("reason", reason, required=new == AllergyIntolerance.Status.ENTERED_IN_ERROR, max_length=500)
    changeable = tuple(s for s in AllergyIntolerance.Status.values if s != "entered-in-error")

    def change(row: AllergyIntolerance, _decision: Decision) -> dict[str, Any]:
        return _status_change(row, "clinical_status", new, changeable, "allergy")

    return _correct(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.ALLERGIES,
        model=AllergyIntolerance,
        row_id=allergy_id,
        change=change,
        view=allergy_view,
        reason=why,
        amendment_request_id=amendment_request_id,
        submission=submission,
        audit_field="allergy.clinical_status",
    )


@entry
def result_correct(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    observation_id: str | uuid.UUID,
    value: str,
    unit: str,
    reason: str,
    confirmed: bool = False,
    amendment_request_id: str | uuid.UUID | None = None,
    submission: str | None = None,
) -> ObservationView:
    """Correct a resulted value (FHIR status `corrected`): the value and unit
    it replaces are kept in a chart version and shown with the result. The
    new value passes the same plausibility limits as a new one."""
    new_value = _text("value", value, max_length=200) or ""
    why = _text("reason", reason, max_length=500)
    if not unit or not UCUM.match(unit):
        raise InvalidInput({"unit": "Not a valid UCUM unit."})

    def change(row: Observation, _decision: Decision) -> dict[str, Any]:
        if row.status in (Observation.Status.REGISTERED, Observation.Status.CANCELLED):
            raise Conflict("This order has no result to correct yet.")
        old_value = plain(row, "value")
        if old_value == new_value and row.unit == unit:
            raise InvalidInput({"value": "The value is unchanged."})
        check_plausible(plain(row, "code"), unit, new_value, confirmed=confirmed)
        before = {"value": old_value, "unit": row.unit, "status": row.status}
        assign(row, {"value": new_value})
        row.unit = unit
        row.status = Observation.Status.CORRECTED
        row.recorded_by = _user(actor)
        row.save(update_fields=["value", "unit", "status", "recorded_by"])
        return before

    return _correct(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.RESULTS,
        model=Observation,
        row_id=observation_id,
        change=change,
        view=observation_view,
        reason=why,
        amendment_request_id=amendment_request_id,
        submission=submission,
        audit_field="observation.result",
    )


@entry
def note_amend(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    note_id: str | uuid.UUID,
    title: str,
    text: str,
    reason: str,
    amendment_request_id: str | uuid.UUID | None = None,
    submission: str | None = None,
) -> NoteView:
    """Amend a note, append-only: a new note replaces the latest version and
    names it; the earlier version stays as written and is shown with it.
    Only the note's author amends it (anyone else is refused and recorded);
    an amended version cannot be amended again (amend the newest)."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=Section.NOTES,
        resource_type="ClinicalNote",
    )
    nid = parse_id(note_id)
    values = {
        "title": _text("title", title, max_length=200),
        "text": _text("text", text, max_length=20_000),
        "amendment_reason": _text("reason", reason, max_length=500),
    }
    previous = ClinicalNote.objects.filter(pk=nid, patient=patient).first()
    if previous is None or (previous.sensitivity and not decision.include_sensitive):
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="ClinicalNote",
            resource_id=str(nid),
            patient=patient,
            reason="not_found",
        )
        raise NotFound
    if not isinstance(actor, User) or previous.author_id != actor.pk:
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="ClinicalNote",
            resource_id=str(nid),
            patient=patient,
            reason="not_author",
        )
        raise Forbidden
    if ClinicalNote.objects.filter(amends=previous).exists():
        raise Conflict("This version was already amended: amend the newest version.")
    with transaction.atomic():
        use_submission(submission)
        request = pending_amendment(patient, amendment_request_id)
        note = ClinicalNote(
            patient=patient,
            encounter_id=previous.encounter_id,
            author=_user(actor),
            kind=previous.kind,
            sensitivity=previous.sensitivity,
            created_at=clock.now(),
            amends=previous,
        )
        assign(note, values)
        try:
            with transaction.atomic():
                note.save()
        except IntegrityError:  # "amended once": a concurrent amendment of the same version
            raise Conflict("This version was already amended: amend the newest version.") from None
        link_amendment(request, note, actor=actor)
        changed = [name for name in ("title", "text") if plain(previous, name) != values[name]]
        count_emergency_access(decision, facts)
        record(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="ClinicalNote",
            resource_id=str(note.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["note"],
            detail={**correction_detail(changed, None, request), "amends": str(previous.pk)},
        )
        return note_view(note)
