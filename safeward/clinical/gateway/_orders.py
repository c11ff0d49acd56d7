"""The laboratory's side of orders: the worklist of open lab orders across
patients, and resulting one order (value and UCUM unit)."""

from __future__ import annotations

import uuid

from django.db import transaction

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import lab_catalog
from safeward.clinical.gateway._core import (
    Actor,
    PatientFacts,
    assign,
    audit_fields,
    by_time,
    facts_for,
    parse_id,
    plain,
    record,
    record_denied,
    subject_for,
    use_submission,
)
from safeward.clinical.gateway._patients import (
    _decide,
    count_emergency_access,
    load_patient,
    observation_view,
    patient_view,
)
from safeward.clinical.gateway._writes import UCUM, _user, check_plausible
from safeward.clinical.models import Observation, Patient, ResultNotification
from safeward.clinical.policy import Action, Decision, Section
from safeward.clinical.types import (
    Conflict,
    Forbidden,
    InvalidInput,
    LabWorklist,
    NotFound,
    ObservationView,
    SessionContext,
    WorklistItem,
)
from safeward.identity.permissions import Perm
from safeward.one_door import entry

WORKLIST_LIMIT = 200


def _require_laboratory(actor: Actor, purpose: PurposeOfUse, resource_type: str) -> None:
    """Resulting lab orders is the laboratory's work (`clinical:result:write`),
    not the ward's (vitals are charted with `clinical:chart:write`)."""
    if not subject_for(actor).has(Perm.CLINICAL_RESULT_WRITE):
        record_denied(
            action=AuditAction.READ if resource_type == "LabWorklist" else AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id="",
            patient=None,
            reason="permission",
        )
        raise Forbidden


@entry
def lab_worklist(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, limit: int = WORKLIST_LIMIT
) -> LabWorklist:
    """Open (ordered, not yet resulted) laboratory orders, oldest first, each
    with its patient's demographics. Every patient row is decided by the
    policy: orders of a patient the caller may not read, and sensitive orders
    without a direct relationship, are left out and counted in `withheld`.
    One READ audit event lists the patients shown."""
    _require_laboratory(actor, purpose, "LabWorklist")
    limit = min(max(1, limit), WORKLIST_LIMIT)
    with transaction.atomic():
        # Order times are encrypted: the open orders are ordered here, oldest
        # first, reading only their times; then the oldest are read whole.
        open_orders = Observation.objects.filter(
            status=Observation.Status.REGISTERED, category=Observation.Category.LABORATORY
        )
        oldest = by_time(open_orders.only("id", "effective_at"), "effective_at", newest_first=False)
        place = {order.pk: n for n, order in enumerate(oldest[: limit + 1])}
        rows = sorted(
            open_orders.filter(pk__in=list(place)).select_related("patient"), key=lambda row: place[row.pk]
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
        items: list[WorklistItem] = []
        withheld = 0
        shown_patients: dict[str, None] = {}
        views = {}
        for row in rows:
            decision = decisions[row.patient_id]
            if not decision.allows(Section.ORDERS) or (row.sensitivity and not decision.include_sensitive):
                withheld += 1
                continue
            if row.patient_id not in views:
                views[row.patient_id] = patient_view(row.patient, decision.sections & {Section.DEMOGRAPHICS})
            items.append(WorklistItem(order=observation_view(row), patient=views[row.patient_id]))
            shown_patients[str(row.patient_id)] = None
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="LabWorklist",
            fields=audit_fields([Section.DEMOGRAPHICS, Section.ORDERS]) if items else (),
            detail={
                "orders": len(items),
                "withheld": withheld,
                "capped": capped,
            },
            patient_ids=list(shown_patients),
        )
    return LabWorklist(items=items, withheld=withheld, capped=capped)


@entry
def order_result(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    order_id: str | uuid.UUID,
    value: str,
    unit: str,
    confirmed: bool = False,
    submission: str | None = None,
) -> ObservationView:
    """Result one open lab order: it becomes a final result with its value and
    UCUM unit, timed now. A second result of the same order is a Conflict.
    An impossible value is refused, an implausible one needs `confirmed`."""
    _require_laboratory(actor, purpose, "Observation")
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=Section.RESULTS,
        resource_type="Observation",
    )
    oid = parse_id(order_id)
    value = (value or "").strip()
    if not value:
        raise InvalidInput({"value": "Required."})
    if not unit or not UCUM.match(unit):
        raise InvalidInput({"unit": "Not a valid UCUM unit."})
    if len(value) > 200:
        raise InvalidInput({"value": "Too long."})
    try:
        return _result(
            actor=actor,
            purpose=purpose,
            patient=patient,
            decision=decision,
            facts=facts,
            order_id=oid,
            value=value,
            unit=unit,
            confirmed=confirmed,
            submission=submission,
        )
    except NotFound:
        record_denied(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="Observation",
            resource_id=str(oid),
            patient=patient,
            reason="not_found",
        )
        raise


def _result(
    *,
    actor: Actor,
    purpose: PurposeOfUse,
    patient: Patient,
    decision: Decision,
    facts: PatientFacts,
    order_id: uuid.UUID,
    value: str,
    unit: str,
    confirmed: bool,
    submission: str | None,
) -> ObservationView:
    with transaction.atomic():
        order = (
            Observation.objects.select_for_update()
            .filter(pk=order_id, patient=patient, category=Observation.Category.LABORATORY)
            .first()
        )
        if order is None or (order.sensitivity and not decision.include_sensitive):
            raise NotFound
        if order.status != Observation.Status.REGISTERED:
            raise Conflict("This order already has a result.")
        test = lab_catalog.lab_test(plain(order, "code"))
        if test is not None and unit != test.unit:
            raise InvalidInput({"unit": f"This test is reported in {test.unit}."})
        implausible = check_plausible(plain(order, "code"), unit, value, confirmed=confirmed)
        use_submission(submission)
        assign(order, {"value": value})
        order.status = Observation.Status.FINAL
        order.unit = unit
        order.effective_at = clock.now()
        order.recorded_by = _user(actor)
        order.save(update_fields=["value", "status", "unit", "effective_at", "effective_year", "recorded_by"])
        count_emergency_access(decision, facts)
        flag = lab_catalog.interpret(plain(order, "code"), unit, value)
        critical = flag in (lab_catalog.Flag.CRITICAL_LOW, lab_catalog.Flag.CRITICAL_HIGH)
        if order.ordered_by_id is not None:
            # The orderer reviews every result; a critical one alerts them at once.
            ResultNotification.objects.create(
                observation=order,
                patient=patient,
                recipient_id=order.ordered_by_id,
                critical=critical,
                created_at=clock.now(),
            )
        record(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="Observation",
            resource_id=str(order.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["observation.result"],
            detail=(
                ({"implausible_confirmed": True} if implausible else {})
                | ({"critical": critical, "notified": order.ordered_by_id} if order.ordered_by_id else {})
            )
            or None,
        )
        return observation_view(order)
