"""The gateway's shared machinery: who the actor is to the policy, what the
actor's relationships to patients are (bulk, no N+1), the audit call, and
the one place that decrypts (`plain`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError as DatabaseIntegrityError
from django.db import models, transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.clinical import policy
from safeward.clinical.gateway._relationships import DEPARTMENTS_OF_PROBE, POLICY_KINDS, Probe, probe_rows
from safeward.clinical.models import (
    BreakGlassGrant,
    Patient,
    PatientRestriction,
    SubmissionToken,
)
from safeward.clinical.policy import AccessContext, Decision, Relationship, Resource, Section, Subject
from safeward.clinical.types import Conflict, InvalidInput, NotFound, SessionContext, SystemActor
from safeward.crypto.fields import decrypt_field
from safeward.identity.models import User

Actor = User | SystemActor

# Audit `fields`: what each section discloses.
SECTION_FIELDS: dict[Section, tuple[str, ...]] = {
    Section.DEMOGRAPHICS: ("mrn", "given_name", "family_name", "birth_date", "sex", "gender_identity"),
    Section.CONTACT: ("address", "phone", "email"),
    Section.NATIONAL_ID: ("national_id",),
    Section.INSURANCE: ("insurance",),
    Section.APPOINTMENTS: ("appointment",),
    Section.ENCOUNTERS: ("encounter",),
    Section.PROBLEMS: ("condition",),
    Section.NOTES: ("note",),
    Section.MEDICATIONS: ("medication_request",),
    Section.ALLERGIES: ("allergy",),
    Section.ORDERS: ("observation.order",),
    Section.RESULTS: ("observation.result",),
    Section.DOCUMENTS: ("document",),
    Section.CARE_TEAM: ("care_team",),
}


def audit_fields(sections: Iterable[Section]) -> list[str]:
    return sorted({name for section in sections for name in SECTION_FIELDS[section]})


def plain(instance: models.Model, name: str) -> Any:
    """Decrypt one field. The gateway calls this only for masked-in fields."""
    return decrypt_field(instance, name)


def parse_id(value: str | uuid.UUID) -> uuid.UUID:
    """An opaque id from a URL or an API; anything malformed is simply not found."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise NotFound from None


def user_label(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


# --- subject ------------------------------------------------------------------------------
def _workforce_level(user: User) -> policy.WorkforceLevel:
    try:
        from safeward.workforce.policy import workforce_state
    except ImportError:  # pragma: no cover - workforce is installed in every SafeWard
        return policy.WorkforceLevel.UNMANAGED
    state = workforce_state(user)
    if not state.managed:
        return policy.WorkforceLevel.UNMANAGED
    return policy.WorkforceLevel(state.level.value)


def subject_for(actor: Actor) -> Subject:
    if isinstance(actor, SystemActor):
        return Subject(user_id=None, permissions=frozenset(), system=True)
    from safeward.identity.selectors import user_permissions

    usable = actor.is_authenticated and actor.is_active and actor.locked_at is None
    permissions = user_permissions(user=actor) if usable else frozenset()
    return Subject(user_id=actor.pk, permissions=permissions, workforce=_workforce_level(actor))


# --- the actor's relationships to patients, in one query -----------------------------------------
@dataclass
class PatientFacts:
    relationships: set[Relationship]
    excluded: bool = False
    payer_restricted: bool = False
    grant_id: str | None = None


def _policy_only_columns() -> tuple[str, ...]:
    """What only the policy needs, over the same probe row as the
    relationships: the active break-glass grant, an exclusion of the person
    or their department, and the patient's payer restriction."""
    grant, restriction = BreakGlassGrant._meta.db_table, PatientRestriction._meta.db_table
    kind = PatientRestriction.Kind
    active = "r.starts_at <= q.at AND (r.ends_at IS NULL OR r.ends_at > q.at)"
    return (
        f"(SELECT g.id FROM {grant} g WHERE g.patient_id = q.patient_id AND g.user_id = q.user_id"  # noqa: S608 - names from model metadata
        " AND g.started_at <= q.at AND g.expires_at > q.at AND g.ended_at IS NULL"
        " ORDER BY g.started_at DESC, g.id LIMIT 1)",
        f"EXISTS (SELECT 1 FROM {restriction} r WHERE r.patient_id = q.patient_id AND {active}"  # noqa: S608 - names from model metadata
        f" AND ((r.kind = '{kind.EXCLUDE_USER.value}' AND r.user_id = q.user_id)"
        f" OR (r.kind = '{kind.EXCLUDE_DEPARTMENT.value}' AND r.department_id IN ({DEPARTMENTS_OF_PROBE}))))",
        f"EXISTS (SELECT 1 FROM {restriction} r WHERE r.patient_id = q.patient_id AND {active}"  # noqa: S608 - names from model metadata
        f" AND r.kind = '{kind.NO_PAYER_DISCLOSURE.value}')",
    )


_FACTS_COLUMNS = tuple(kind.condition for kind in POLICY_KINDS) + _policy_only_columns()


def _grant_id(value: Any) -> str | None:
    if value is None:
        return None
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def facts_for(actor: Actor, patient_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PatientFacts]:
    """Relationships (as `_relationships` defines them), restrictions and
    break-glass grants of `actor` for every patient in `patient_ids`, now:
    one statement per 500 patients."""
    facts = {pid: PatientFacts(set()) for pid in patient_ids}
    if not patient_ids:
        return facts
    user = actor.pk if isinstance(actor, User) else None
    at = clock.now()
    probes = [Probe(user_id=user, patient_id=pid, at=at) for pid in patient_ids]
    for probe, row in zip(probes, probe_rows(probes, _FACTS_COLUMNS), strict=True):
        held, (grant, excluded, payer) = row[: len(POLICY_KINDS)], row[len(POLICY_KINDS) :]
        facts[probe.patient_id] = PatientFacts(
            relationships={
                kind.policy for kind, on in zip(POLICY_KINDS, held, strict=True) if on and kind.policy
            },
            excluded=bool(excluded),
            payer_restricted=bool(payer),
            grant_id=_grant_id(grant),
        )
    return facts


def resource_for(patient: Patient | None, facts: PatientFacts | None) -> Resource:
    if patient is None:
        return Resource()
    facts = facts or PatientFacts(set())
    return Resource(
        patient_id=str(patient.pk),
        relationships=frozenset(facts.relationships),
        confidential=patient.is_confidential,
        vip=patient.is_vip,
        employee=patient.is_employee,
        excluded_by_patient=facts.excluded,
        payer_restricted=facts.payer_restricted,
        break_glass_active=facts.grant_id is not None,
    )


def access_context(session: SessionContext, purpose: PurposeOfUse) -> AccessContext:
    return AccessContext(
        reachable=session.reachable, reachable_reason=session.reachable_reason, purpose=purpose.value
    )


def limit(decision: Decision, session: SessionContext) -> Decision:
    """Narrow a permit to the session's section limit (e.g. an OAuth token's scopes)."""
    if session.section_limit is None or not decision.permitted:
        return decision
    return Decision(
        decision.effect,
        decision.reason,
        decision.sections & session.section_limit,
        decision.include_sensitive,
        decision.emergency,
    )


# --- audit ----------------------------------------------------------------------------------------
def record(
    *,
    action: Action,
    actor: Actor,
    purpose: PurposeOfUse,
    resource_type: str,
    resource_id: str = "",
    patient: Patient | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    decision: Decision | None = None,
    facts: PatientFacts | None = None,
    fields: Iterable[str] = (),
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """One audit event, in the caller's transaction. An access under
    break-glass is recorded with purpose ETREAT and the grant's id."""
    extra: dict[str, Any] = dict(detail or {})
    if decision is not None:
        extra.setdefault("decision", decision.reason)
        if decision.emergency:
            purpose = PurposeOfUse.EMERGENCY
            extra["emergency"] = True
            if facts is not None and facts.grant_id:
                extra["break_glass_grant"] = facts.grant_id
    if patient is not None:
        flags = [name for name, on in (("vip", patient.is_vip), ("employee", patient.is_employee)) if on]
        if patient.is_confidential:
            flags.append("confidential")
        if flags:
            extra["patient_flags"] = flags
    audit_record(
        action=action,
        outcome=outcome,
        actor=actor if isinstance(actor, User) else None,
        actor_username=f"system:{actor.name}" if isinstance(actor, SystemActor) else "",
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=str(patient.pk) if patient is not None else "",
        purpose=purpose,
        reason=reason,
        fields=fields,
        detail=extra,
        source="import" if isinstance(actor, SystemActor) else "",
    )


def record_denied(
    *,
    action: Action,
    actor: Actor,
    purpose: PurposeOfUse,
    resource_type: str,
    resource_id: str,
    patient: Patient | None,
    reason: str,
) -> None:
    """A refused or not-found access, in its own transaction (the caller then raises NotFound)."""
    with transaction.atomic():
        record(
            action=action,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id=resource_id,
            patient=patient,
            outcome=Outcome.DENIED,
            reason=reason,
        )


# --- writes ---------------------------------------------------------------------------------------
def use_submission(token: str | None) -> None:
    """Claim a form's one-time token inside the write's transaction."""
    if not token:
        return
    if len(token) > 64:
        raise InvalidInput({"submission": "The form token is malformed."})
    try:
        with transaction.atomic():
            SubmissionToken.objects.create(token=token, used_at=clock.now())
    except DatabaseIntegrityError:
        raise Conflict("This form was already submitted.") from None


def assign(instance: models.Model, values: dict[str, Any]) -> None:
    """Set fields, turning an encrypted field's refusal (type, length) into
    InvalidInput naming the field, never the value."""
    errors: dict[str, str] = {}
    for name, value in values.items():
        try:
            setattr(instance, name, value)
        except ValidationError as error:
            code = getattr(error, "code", "")
            errors[name] = "Too long." if code == "max_length" else "Invalid value."
    if errors:
        raise InvalidInput(errors)


def check_choice(name: str, value: str, choices: type[models.TextChoices]) -> str:
    if value not in choices.values:
        raise InvalidInput({name: "Not one of the allowed values."})
    return value
