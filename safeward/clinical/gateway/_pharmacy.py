"""The pharmacy's side of medication orders: the orders awaiting
verification across patients, and verifying one or querying it back to
the prescriber. Every new order from the chart waits for this step;
orders recorded elsewhere (an import) need none."""

from __future__ import annotations

import uuid

from django.db import transaction

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import (
    Actor,
    assign,
    audit_fields,
    by_time,
    facts_for,
    parse_id,
    record,
    record_denied,
    subject_for,
    use_submission,
)
from safeward.clinical.gateway._patients import (
    _decide,
    count_emergency_access,
    load_patient,
    medication_view,
    patient_view,
)
from safeward.clinical.gateway._writes import _text, _user
from safeward.clinical.models import MedicationRequest
from safeward.clinical.policy import Action, Section
from safeward.clinical.types import (
    Conflict,
    Forbidden,
    InvalidInput,
    MedicationView,
    MedicationWorklist,
    MedicationWorklistItem,
    NotFound,
    SessionContext,
)
from safeward.identity.permissions import Perm
from safeward.one_door import entry

WORKLIST_LIMIT = 200
OUTCOMES = ("verified", "queried")


def _require_pharmacy(actor: Actor, purpose: PurposeOfUse, resource_type: str, action: AuditAction) -> None:
    if not subject_for(actor).has(Perm.CLINICAL_MEDICATION_DISPENSE):
        record_denied(
            action=action,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id="",
            patient=None,
            reason="permission",
        )
        raise Forbidden


@entry
def medication_orders_to_verify(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, limit: int = WORKLIST_LIMIT
) -> MedicationWorklist:
    """Active medication orders awaiting a pharmacist's verification, oldest
    first, each with its patient's demographics. Every patient is decided by
    the policy: orders the caller may not see are left out and counted in
    `withheld`. One READ event lists the patients shown."""
    _require_pharmacy(actor, purpose, "MedicationWorklist", AuditAction.READ)
    limit = min(max(1, limit), WORKLIST_LIMIT)
    with transaction.atomic():
        waiting = MedicationRequest.objects.filter(
            verification=MedicationRequest.Verification.PENDING, status=MedicationRequest.Status.ACTIVE
        )
        # Order times are encrypted: the waiting orders are ordered here by their times only.
        oldest = by_time(waiting.only("id", "authored_at"), "authored_at", newest_first=False)
        place = {order.pk: n for n, order in enumerate(oldest[: limit + 1])}
        rows = sorted(
            waiting.filter(pk__in=list(place)).select_related("patient", "requester"),
            key=lambda row: place[row.pk],
        )
        capped = len(rows) > limit
        rows = rows[:limit]
        patients = {row.patient_id: row.patient for row in rows}
        facts = facts_for(actor, list(patients))
        decisions = {
            pid: _decide(
                actor=actor,
                session=session,
                purpose=purpose,
                patient=patient,
                facts=facts[pid],
                action=Action.READ,
            )
            for pid, patient in patients.items()
        }
        items: list[MedicationWorklistItem] = []
        withheld = 0
        views = {}
        for row in rows:
            decision = decisions[row.patient_id]
            if not decision.allows(Section.MEDICATIONS) or (
                row.sensitivity and not decision.include_sensitive
            ):
                withheld += 1
                continue
            if row.patient_id not in views:
                views[row.patient_id] = patient_view(row.patient, decision.sections & {Section.DEMOGRAPHICS})
            items.append(MedicationWorklistItem(order=medication_view(row), patient=views[row.patient_id]))
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="MedicationWorklist",
            fields=audit_fields([Section.DEMOGRAPHICS, Section.MEDICATIONS]) if items else (),
            detail={"orders": len(items), "withheld": withheld, "capped": capped},
            patient_ids=list(dict.fromkeys(item.patient.id for item in items)),
        )
    return MedicationWorklist(items=items, withheld=withheld, capped=capped)


@entry
def medication_verify(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    medication_id: str | uuid.UUID,
    outcome: str,
    note: str | None = None,
    submission: str | None = None,
) -> MedicationView:
    """A pharmacist verifies an order, or queries it back to the prescriber
    (the query, which is required, is shown with the order in the chart). A
    queried order may be verified later; a verified one is final."""
    _require_pharmacy(actor, purpose, "MedicationRequest", AuditAction.UPDATE)
    if outcome not in OUTCOMES:
        raise InvalidInput({"outcome": "Not one of the allowed values."})
    query = _text("note", note, required=outcome == "queried", max_length=1000)
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.READ,
        audit_action=AuditAction.UPDATE,
        resource_type="MedicationRequest",
    )
    mid = parse_id(medication_id)
    try:
        with transaction.atomic():
            order = MedicationRequest.objects.select_for_update().filter(pk=mid, patient=patient).first()
            visible = (
                order is not None
                and decision.allows(Section.MEDICATIONS)
                and (decision.include_sensitive or not order.sensitivity)
            )
            if not visible:
                order = None
            if order is None or order.verification not in ("pending", "queried") or order.status != "active":
                if order is None:
                    raise NotFound
                raise Conflict("This order is not awaiting verification.")
            use_submission(submission)
            order.verification = outcome
            order.verified_by = _user(actor)
            order.verified_at = clock.now()
            assign(order, {"verification_note": query})
            order.save(update_fields=["verification", "verified_by", "verified_at", "verification_note"])
            count_emergency_access(decision, facts)
            record(
                action=AuditAction.UPDATE,
                actor=actor,
                purpose=purpose,
                resource_type="MedicationRequest",
                resource_id=str(order.pk),
                patient=patient,
                decision=decision,
                facts=facts,
                fields=["medication_request.verification"],
                detail={"verification": outcome},
            )
            return medication_view(order)
    except NotFound:
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="MedicationRequest",
            resource_id=str(mid),
            patient=patient,
            reason="not_found",
        )
        raise
