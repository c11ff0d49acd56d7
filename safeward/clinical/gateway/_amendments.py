"""Patients' requests to amend their record (HIPAA 164.526, ONC
170.315(d)(4)(ii)). The front desk records a request (an administrative
write, like demographics); it is accepted by the correction that answers
it (`amendment_request_id` on every correction: the request is linked to
the amended note or chart version in the same transaction), or denied by
a clinician who may decide amendments, with the reason. The patient's
statement of disagreement is attached to a denied request and shown with
the record. Every step is an audit event of the patient, so it appears in
the accounting of the patient's record."""

from __future__ import annotations

import uuid

from django.db import transaction

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import (
    Actor,
    PatientFacts,
    assign,
    parse_id,
    record,
    record_denied,
    subject_for,
    use_submission,
)
from safeward.clinical.gateway._patients import amendment_request_view, count_emergency_access, load_patient
from safeward.clinical.gateway._writes import _text, _user
from safeward.clinical.models import AmendmentRequest, Patient
from safeward.clinical.policy import Action, Decision, Section
from safeward.clinical.types import AmendmentRequestView, Conflict, Forbidden, NotFound, SessionContext
from safeward.identity.permissions import Perm
from safeward.one_door import entry

RESOURCE = "AmendmentRequest"


@entry
def amendment_request_record(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    request: str,
    submission: str | None = None,
) -> AmendmentRequestView:
    """Record what the patient asks to be amended, and why."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.CREATE,
        audit_action=AuditAction.CREATE,
        section=Section.DEMOGRAPHICS,
        resource_type=RESOURCE,
    )
    text = _text("request", request, max_length=2000)
    with transaction.atomic():
        use_submission(submission)
        row = AmendmentRequest(patient=patient, received_at=clock.now(), received_by=_user(actor))
        assign(row, {"request": text})
        row.save()
        count_emergency_access(decision, facts)
        record(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=purpose,
            resource_type=RESOURCE,
            resource_id=str(row.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["amendment_request"],
        )
        return amendment_request_view(row)


def _locked(
    *,
    actor: Actor,
    purpose: PurposeOfUse,
    patient: Patient,
    request_id: str | uuid.UUID,
    status: str,
) -> AmendmentRequest:
    rid = parse_id(request_id)
    row = AmendmentRequest.objects.select_for_update().filter(pk=rid, patient=patient).first()
    if row is None:
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type=RESOURCE,
            resource_id=str(rid),
            patient=patient,
            reason="not_found",
        )
        raise NotFound
    if row.status != status:
        raise Conflict(
            "This amendment request was already decided."
            if status == AmendmentRequest.Status.PENDING
            else "A statement of disagreement can be attached only to a denied request."
        )
    return row


def _update(
    *,
    actor: Actor,
    purpose: PurposeOfUse,
    patient: Patient,
    decision: Decision,
    facts: PatientFacts,
    row: AmendmentRequest,
) -> None:
    count_emergency_access(decision, facts)
    record(
        action=AuditAction.UPDATE,
        actor=actor,
        purpose=purpose,
        resource_type=RESOURCE,
        resource_id=str(row.pk),
        patient=patient,
        decision=decision,
        facts=facts,
        fields=["amendment_request"],
        detail={"status": row.status},
    )


@entry
def amendment_request_deny(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    request_id: str | uuid.UUID,
    reason: str,
    disagreement: str | None = None,
    submission: str | None = None,
) -> AmendmentRequestView:
    """Deny a pending request with the reason (a clinician who may decide
    amendments and may write the patient's notes). The patient's statement
    of disagreement, when already given, is attached at once."""
    if not subject_for(actor).has(Perm.CLINICAL_AMENDMENT_DECIDE):
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type=RESOURCE,
            resource_id=str(request_id),
            patient=None,
            reason="permission",
        )
        raise Forbidden
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=Section.NOTES,
        resource_type=RESOURCE,
    )
    why = _text("reason", reason, max_length=1000)
    statement = _text("disagreement", disagreement, required=False, max_length=2000)
    with transaction.atomic():
        row = _locked(
            actor=actor,
            purpose=purpose,
            patient=patient,
            request_id=request_id,
            status=AmendmentRequest.Status.PENDING,
        )
        use_submission(submission)
        row.status = AmendmentRequest.Status.DENIED
        row.decided_at = clock.now()
        row.decided_by = _user(actor)
        assign(row, {"denial_reason": why, "disagreement": statement})
        row.save()
        _update(actor=actor, purpose=purpose, patient=patient, decision=decision, facts=facts, row=row)
        return amendment_request_view(row)


@entry
def amendment_disagreement_attach(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    request_id: str | uuid.UUID,
    statement: str,
    submission: str | None = None,
) -> AmendmentRequestView:
    """Attach the patient's statement of disagreement to a denied request
    (recorded by the front desk, once)."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=Section.DEMOGRAPHICS,
        resource_type=RESOURCE,
    )
    text = _text("disagreement", statement, max_length=2000)
    with transaction.atomic():
        row = _locked(
            actor=actor,
            purpose=purpose,
            patient=patient,
            request_id=request_id,
            status=AmendmentRequest.Status.DENIED,
        )
        if row.disagreement is not None:
            raise Conflict("A statement of disagreement is already attached.")
        use_submission(submission)
        assign(row, {"disagreement": text})
        row.save(update_fields=["disagreement"])
        _update(actor=actor, purpose=purpose, patient=patient, decision=decision, facts=facts, row=row)
        return amendment_request_view(row)
