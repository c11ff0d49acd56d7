"""The gateway's shared machinery: who the actor is to the policy, what the
actor's relationships to patients are (bulk, no N+1), the audit call, and
the one place that decrypts (`plain`)."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError as DatabaseIntegrityError
from django.db import connection, models, transaction
from django.db.models import QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.clinical import policy
from safeward.clinical.gateway._relationships import (
    PATIENTS,
    collect,
    relationship_statement,
    select_list,
    uuid_of,
)
from safeward.clinical.models import (
    AmendmentRequest,
    BreakGlassGrant,
    ChartVersion,
    Patient,
    PatientRestriction,
    SubmissionToken,
)
from safeward.clinical.policy import AccessContext, Decision, Relationship, Resource, Section, Subject
from safeward.clinical.types import Conflict, InvalidInput, NotFound, SessionContext, SystemActor
from safeward.crypto.fields import decrypt_field
from safeward.identity.models import User
from safeward.identity.selectors import staff_department_ids_sql
from safeward.prepared import prepared_cursor

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
    Section.IMMUNIZATIONS: ("immunization",),
    Section.PROCEDURES: ("procedure",),
    Section.REPORTS: ("diagnostic_report",),
}


def audit_fields(sections: Iterable[Section]) -> list[str]:
    return sorted({name for section in sections for name in SECTION_FIELDS[section]})


def plain(instance: models.Model, name: str) -> Any:
    """Decrypt one field. The gateway calls this only for masked-in fields."""
    return decrypt_field(instance, name)


YEAR_FLOOR = -32768  # below any year: `newest` takes every row when there are fewer than `limit`


def by_time[M: models.Model](rows: Iterable[M], at: str, *, newest_first: bool = True) -> list[M]:
    """Rows ordered by their encrypted time `at`, then id: service times
    are encrypted, so a patient's rows are sorted here after decryption."""
    return sorted(rows, key=lambda row: (plain(row, at), row.pk), reverse=newest_first)


def newest_years[M: models.Model](rows: QuerySet[M], *, year: str, limit: int) -> QuerySet[M]:
    """Every row of the years that hold the newest `limit` of `rows` (one
    statement: the plain year bucket of the `limit`-th newest row is the
    cut-off); `by_time(...)[:limit]` of them are the `limit` newest (the
    time is encrypted, so the rows are ordered after decryption)."""
    cutoff = rows.order_by(f"-{year}").values(year)[limit - 1 : limit]
    return rows.filter(**{f"{year}__gte": Coalesce(Subquery(cutoff), Value(YEAR_FLOOR))})


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


@functools.cache
def _patient_facts_sql() -> str:
    """The facts statement's own branch (built once), after the relationship
    rows: one row per patient with the actor's break-glass grant and the
    patient's restrictions, each answered from an index on the patient
    (or on the actor and patient). Plain SQL rather than ORM expressions:
    building and compiling the expressions cost more Python time than the
    queries they replace (ADR 0520). Portable between PostgreSQL and SQLite;
    every value is a parameter; table and column names come from the models.
    A system actor passes NULL as the user, which matches no exclusion."""
    t = {model.__name__: model._meta.db_table for model in (Patient, BreakGlassGrant, PatientRestriction)}
    departments = staff_department_ids_sql(user_column="%s")  # the user is a parameter
    active = "{a}.starts_at <= %s AND ({a}.ends_at IS NULL OR {a}.ends_at > %s)"
    grant = f"""(SELECT g.id FROM {t["BreakGlassGrant"]} g WHERE g.patient_id = p.id AND g.user_id = %s
   AND g.started_at <= %s AND g.expires_at > %s AND g.ended_at IS NULL
   ORDER BY g.started_at DESC, g.id LIMIT 1)"""  # noqa: S608 - names from model metadata; values are parameters
    restricted = f"EXISTS (SELECT 1 FROM {t['PatientRestriction']} r WHERE r.patient_id = p.id AND {active}"  # noqa: S608 - the same
    excluded = f"""{restricted.format(a="r")}
   AND ((r.kind = %s AND r.user_id = %s) OR (r.kind = %s AND r.department_id IN ({departments}))))"""
    payer = f"{restricted.format(a='r')} AND r.kind = %s)"
    patient_facts = select_list(
        "p",
        patient="p.id",
        row=f"{grant} AS own_grant",
        flag_a=f"{excluded} AS own_excluded",
        flag_b=f"{payer} AS own_payer",
    )
    # Only the patients with a grant or a restriction come back: the rest of
    # a list (nearly all of it) would be rows of NULLs and falses to read.
    return f"""
UNION ALL
SELECT * FROM (SELECT {patient_facts} FROM {PATIENTS} p) own
 WHERE own.own_grant IS NOT NULL OR own.own_excluded OR own.own_payer"""  # noqa: S608 - names from model metadata; values are parameters


def _patient_facts_params(actor: Actor, now: dt.datetime) -> list[Any]:
    """The parameters of `_patient_facts_sql`, in order (and adapted for the database)."""
    at = connection.ops.adapt_datetimefield_value(now)
    user = actor.pk if isinstance(actor, User) else None
    kind = PatientRestriction.Kind
    return [
        *(user, at, at),  # break-glass grant
        *(at, at, kind.EXCLUDE_USER.value, user, kind.EXCLUDE_DEPARTMENT.value, user),  # excluded
        *(at, at, kind.NO_PAYER_DISCLOSURE.value),  # payer restricted
    ]


def _grant_id(value: Any) -> str | None:
    if value is None:
        return None
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def facts_statement(
    actor: Actor, patient_ids: Sequence[uuid.UUID], now: dt.datetime
) -> tuple[str, list[Any]]:
    """The one facts statement for `actor` and the patients at `now`: the
    relationship rows (the one definition, `_relationships`) and the
    patients' own facts. Run it through `prepared_cursor` (ADR 0591)."""
    user = actor.pk if isinstance(actor, User) else None
    related_sql, related_params = relationship_statement([user], patient_ids, now, now)
    return related_sql + _patient_facts_sql(), related_params + _patient_facts_params(actor, now)


def facts_from_rows(
    actor: Actor, patient_ids: Sequence[uuid.UUID], rows: Iterable[Sequence[Any]], now: dt.datetime
) -> dict[uuid.UUID, PatientFacts]:
    """Each patient's facts from the rows of `facts_statement`. Most of a
    list's patients have no row at all: they are looked at once, not per
    kind of row (a uuid is hashed in Python, ~1 us a look-up)."""
    user = actor.pk if isinstance(actor, User) else None
    related, own_rows = collect(rows)
    own = {uuid_of(row[1]): row[9:12] for row in own_rows}
    with_rows = related.patients()
    facts: dict[uuid.UUID, PatientFacts] = {}
    for pid in patient_ids:
        relationships = related.at(user, pid, now) if pid in with_rows else set()
        found = own.get(pid) if own else None
        if found is None:
            facts[pid] = PatientFacts(relationships)
            continue
        grant, excluded, payer = found
        facts[pid] = PatientFacts(
            relationships=relationships,
            excluded=bool(excluded),
            payer_restricted=bool(payer),
            grant_id=_grant_id(grant),
        )
    return facts


def facts_for(actor: Actor, patient_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PatientFacts]:
    """Relationships (now), restrictions and break-glass grants of `actor` for
    every patient in `patient_ids`: one query, whatever the number of patients."""
    if not patient_ids:
        return {}
    now = clock.now()
    # Prepared on the server once per connection: every list and chart runs it (ADR 0591).
    with prepared_cursor() as cursor:
        cursor.execute(*facts_statement(actor, patient_ids, now))
        rows = cursor.fetchall()
    return facts_from_rows(actor, patient_ids, rows, now)


type ResourceFacts = tuple[frozenset[Relationship], bool, bool, bool, bool, bool, bool]


def resource_facts(patient: Patient, facts: PatientFacts | None) -> ResourceFacts:
    """Everything the policy sees of a patient but the id, in `Resource`'s
    field order: the one mapping from a patient and their facts to the
    policy's view (`resource_for`), and a list's key for the rows whose
    decisions agree (`_admission.shown_patients`)."""
    facts = facts or PatientFacts(set())
    return (
        frozenset(facts.relationships),
        patient.is_confidential,
        patient.is_vip,
        patient.is_employee,
        facts.excluded,
        facts.payer_restricted,
        facts.grant_id is not None,
    )


def resource_for(patient: Patient | None, facts: PatientFacts | None) -> Resource:
    if patient is None:
        return Resource()
    return Resource(str(patient.pk), *resource_facts(patient, facts))


def access_context(session: SessionContext, purpose: PurposeOfUse) -> AccessContext:
    return AccessContext(
        reachable=session.reachable,
        reachable_reason=session.reachable_reason,
        purpose=purpose.value,
        device=policy.DevicePosture(session.device_posture),
        zone_clinical=session.zone_clinical,
        device_strict=settings.SAFEWARD_DEVICE_STRICT,
    )


def limit(decision: Decision, session: SessionContext, patient_id: str | None = None) -> Decision:
    """Narrow a decision to the session's limits (an OAuth token's scopes):
    a patient other than the session's patient limit is denied whatever the
    policy said (not even a break-glass row), and a permit discloses only
    the section limit."""
    if session.patient_limit is not None and patient_id is not None and patient_id != session.patient_limit:
        return policy.deny("outside_token_patient")
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
    patient_ids: Iterable[str] = (),
) -> None:
    """One audit event, in the caller's transaction. An access under
    break-glass is recorded with purpose ETREAT and the grant's id.
    `patient_ids`: every patient an event about several discloses (indexed
    for each patient's accounting of disclosures, ADR 0208)."""
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
        patient_ids=patient_ids,
    )


def record_isolated(**kwargs: Any) -> None:
    """A successful event in its own transaction, for a disclosure that
    happens although the call then refuses (a safety warning shows what it
    found): the refusal must not roll the event back."""
    with transaction.atomic():
        record(**kwargs)


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


# --- corrections and amendments ------------------------------------------------------------------
def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def save_version(
    *,
    patient: Patient,
    resource_type: str,
    resource_id: uuid.UUID,
    before: dict[str, Any],
    reason: str | None,
    actor: Actor,
) -> ChartVersion | None:
    """Keep the values a correction replaces (encrypted); None when nothing changed."""
    if not before:
        return None
    version = ChartVersion(
        patient=patient,
        resource_type=resource_type,
        resource_id=resource_id,
        changed=sorted(before),
        author=actor if isinstance(actor, User) else None,
        created_at=clock.now(),
    )
    assign(version, {"before": {k: _json_value(v) for k, v in before.items()}, "reason": reason or None})
    version.save()
    return version


def pending_amendment(patient: Patient, request_id: str | uuid.UUID | None) -> AmendmentRequest | None:
    """The patient's pending amendment request a correction answers (locked)."""
    if not request_id:
        return None
    try:
        rid = parse_id(request_id)
    except NotFound:
        raise InvalidInput({"amendment_request": "No such amendment request for this patient."}) from None
    request = AmendmentRequest.objects.select_for_update().filter(pk=rid, patient=patient).first()
    if request is None:
        raise InvalidInput({"amendment_request": "No such amendment request for this patient."})
    if request.status != AmendmentRequest.Status.PENDING:
        raise Conflict("This amendment request was already decided.")
    return request


def link_amendment(request: AmendmentRequest | None, applied: models.Model | None, *, actor: Actor) -> None:
    """Accept the request with the amendment that answers it."""
    if request is None:
        return
    if applied is None:
        raise InvalidInput({"amendment_request": "Nothing was changed, so the request cannot be accepted."})
    request.status = AmendmentRequest.Status.ACCEPTED
    request.applied_type = type(applied).__name__
    request.applied_id = applied.pk
    request.decided_at = clock.now()
    request.decided_by = actor if isinstance(actor, User) else None
    request.save(update_fields=["status", "applied_type", "applied_id", "decided_at", "decided_by"])


def correction_detail(
    changed: Iterable[str], version: models.Model | None, request: AmendmentRequest | None
) -> dict[str, Any]:
    """What a correction's audit event says: the names of the changed fields
    and the ids of the kept version and the request, never a value."""
    detail: dict[str, Any] = {"changed": sorted(changed)}
    if version is not None:
        detail["version"] = str(version.pk)
    if request is not None:
        detail["amendment_request"] = str(request.pk)
    return detail
