"""Patients: search, registration, demographics, and the chart (read,
export, print)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError as DatabaseIntegrityError
from django.db import connection, models, transaction
from django.db.models import F, Q, QuerySet

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import policy
from safeward.clinical.gateway._core import (
    Actor,
    PatientFacts,
    access_context,
    assign,
    audit_fields,
    by_time,
    correction_detail,
    facts_for,
    limit,
    link_amendment,
    newest_years,
    parse_id,
    pending_amendment,
    plain,
    record,
    record_denied,
    resource_for,
    save_version,
    subject_for,
    use_submission,
    user_label,
)
from safeward.clinical.models import (
    AllergyIntolerance,
    AmendmentRequest,
    Appointment,
    BreakGlassGrant,
    CareTeamMembership,
    ChartVersion,
    ClinicalNote,
    Condition,
    DiagnosticReport,
    Document,
    Encounter,
    Immunization,
    MedicationAdministration,
    MedicationRequest,
    Observation,
    Patient,
    Procedure,
)
from safeward.clinical.policy import Action, Decision, Effect, Section
from safeward.clinical.types import (
    AdministrationView,
    AllergyView,
    AmendmentRequestView,
    AppointmentView,
    CareTeamView,
    Chart,
    ConditionView,
    Conflict,
    CorrectionView,
    DocumentView,
    EncounterView,
    Forbidden,
    ImmunizationView,
    InvalidInput,
    MedicationView,
    NoteView,
    NotFound,
    ObservationView,
    PatientInput,
    PatientView,
    PossibleDuplicates,
    ProcedureView,
    ReportView,
    SearchPage,
    SessionContext,
)
from safeward.crypto.fields import (
    BlindIndexField,
    BlindPrefixField,
    blind_filter,
    blind_index_keys,
    compute_blind_index,
)
from safeward.crypto.normalise import normalise
from safeward.one_door import entry
from safeward.prepared import Compiled, prepared_cursor, rows_together

SEARCH_CAP = 100
PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
# How many rows of each chart section the chart shows (newest first).
CHART_LIMITS = {
    "encounters": 50,
    "notes": 50,
    "observations": 500,
    "appointments": 30,
    "documents": 50,
    "immunizations": 100,
    "procedures": 100,
    "reports": 100,
    # Doses given: decrypted and sorted here (the time is encrypted, no year bucket yet).
    "administrations": 200,
}

# Patient's blind-index and prefix-token columns: searched, never shown.
_SEARCH_COLUMNS = tuple(
    f.name for f in Patient._meta.concrete_fields if isinstance(f, BlindIndexField | BlindPrefixField)
)
# A list row (a worklist, the census, the arrivals) shows a patient as a
# search result does (policy SEARCH: demographics and flags): the contact,
# identifier and insurance columns and the search indexes are never read.
LIST_ROW_DEFERRED = (*_SEARCH_COLUMNS, "national_id", "address", "phone", "email", "insurance")


def list_patients(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Patient]:
    """The patients of a list's rows, each loaded once (a patient on the care
    team, in a bed and in today's clinic is one row read, not three), without
    the columns a list row never shows. One query."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    return {p.pk: p for p in Patient.objects.filter(pk__in=unique).defer(*LIST_ROW_DEFERRED)}


# A person named on a chart row: only what `user_label` shows is read (not
# the password hash and the rest of the account).
_LABEL_COLUMNS = ("first_name", "last_name", "username")


def _with_labels(query: QuerySet[Any], *relations: str) -> QuerySet[Any]:
    """`select_related(relations)` reading only the labels of the people and
    the names of the departments it joins, and every column of the row."""
    own = [f.name for f in query.model._meta.concrete_fields]
    related = [
        f"{relation}__{column}"
        for relation in relations
        for column in (("name",) if relation == "department" else _LABEL_COLUMNS)
    ]
    return query.select_related(*relations).only(*own, *related)


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
_NAME_FIELDS = ("given_name", "family_name")


# --- views of a patient --------------------------------------------------------------------
def _flags(patient: Patient) -> tuple[str, ...]:
    pairs = (
        ("vip", patient.is_vip),
        ("employee", patient.is_employee),
        ("confidential", patient.is_confidential),
    )
    return tuple(name for name, on in pairs if on)


def patient_view(patient: Patient, sections: frozenset[Section]) -> PatientView:
    """Decrypt exactly the fields of the allowed sections."""
    values: dict[str, Any] = {}
    if Section.DEMOGRAPHICS in sections:
        values.update(
            mrn=plain(patient, "mrn"),
            given_name=plain(patient, "given_name"),
            family_name=plain(patient, "family_name"),
            birth_date=plain(patient, "birth_date"),
            sex=patient.sex,
            gender_identity=plain(patient, "gender_identity"),
            deceased=patient.deceased,
            deceased_date=plain(patient, "deceased_date"),
            flags=_flags(patient),
        )
    if Section.CONTACT in sections:
        values.update(
            address=plain(patient, "address"), phone=plain(patient, "phone"), email=plain(patient, "email")
        )
    if Section.NATIONAL_ID in sections:
        values["national_id"] = plain(patient, "national_id")
    if Section.INSURANCE in sections:
        values["insurance"] = plain(patient, "insurance")
    shown = sections & {Section.DEMOGRAPHICS, Section.CONTACT, Section.NATIONAL_ID, Section.INSURANCE}
    return PatientView(id=str(patient.pk), sections=frozenset(shown), **values)


def _decide(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient: Patient | None,
    facts: PatientFacts | None,
    action: Action,
    section: Section | None = None,
) -> Decision:
    decision = policy.decide(
        subject_for(actor),
        policy.Resource() if patient is None else resource_for(patient, facts),
        action,
        access_context(session, purpose),
        section=section,
    )
    return limit(decision, session, None if patient is None else str(patient.pk))


_PATIENT_READ = Compiled(
    "patient.read",
    lambda patient: Patient.objects.filter(pk=patient).defer(*_SEARCH_COLUMNS).order_by("pk")[:1],
)


def load_patient(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    action: Action,
    audit_action: AuditAction,
    section: Section | None = None,
    resource_type: str = "Patient",
    for_update: bool = False,
) -> tuple[Patient, Decision, PatientFacts]:
    """Fetch one patient and decide. Not found and not allowed both record a
    denied event and raise NotFound. Call inside no transaction of your own:
    the denial must commit although the caller's work does not happen."""
    pid = parse_id(patient_id)
    if action in policy.READ_ACTIONS:
        # A read never needs the search columns (and never saves the row:
        # a save with them deferred would leave the indexes stale); every
        # chart and read runs it, so it is compiled once (ADR 1632).
        patient = next(iter(_PATIENT_READ.rows(patient=pid)), None)
    else:
        patient = Patient.objects.filter(pk=pid).first()
    if patient is None:
        record_denied(
            action=audit_action,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id=str(pid),
            patient=None,
            reason="not_found",
        )
        raise NotFound
    facts = facts_for(actor, [pid])[pid]
    decision = _decide(
        actor=actor,
        session=session,
        purpose=purpose,
        patient=patient,
        facts=facts,
        action=action,
        section=section,
    )
    if not decision.permitted:
        record_denied(
            action=audit_action,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id=str(pid),
            patient=patient,
            reason=decision.reason,
        )
        raise NotFound
    return patient, decision, facts


def count_emergency_access(decision: Decision, facts: PatientFacts) -> None:
    if decision.emergency and facts.grant_id:
        BreakGlassGrant.objects.filter(pk=facts.grant_id).update(access_count=F("access_count") + 1)


# --- search -----------------------------------------------------------------------------------
def _name_query(name: str) -> tuple[Q, list[str]]:
    family = Patient._meta.get_field("family_name_prefixes")
    given = Patient._meta.get_field("given_name_prefixes")
    words = [w for w in normalise("name", name).split(" ") if w]
    query = Q()
    for key in blind_index_keys():  # two keys while a blind-index rotation runs
        under_key = Q()
        for word in words:
            family_token = family.query_tokens(word, key=key)[0]
            given_token = given.query_tokens(word, key=key)[0]
            under_key &= Q(family_name_prefixes__contains=family_token) | Q(
                given_name_prefixes__contains=given_token
            )
        query |= under_key
    return query, words


def _name_confirmed(patient: Patient, words: list[str]) -> bool:
    """Prefix tokens cover 8 letters; longer query words are checked on the names."""
    long_words = [w for w in words if len(w) > 8]
    if not long_words:
        return True
    names = " ".join(normalise("name", plain(patient, f)) for f in _NAME_FIELDS).split(" ")
    return all(any(n.startswith(w) for n in names) for w in long_words)


# A search's name query in its audit event: a 2-byte keyed tag (ADR 0728). It
# tells detection that two searches used different names (name-prefix
# probing) and is too short to name anybody.
NAME_TAG_SCOPE = "audit.search.name_tag"
NAME_TAG_BYTES = 2


def _name_probe(words: list[str]) -> dict[str, Any]:
    if not words:
        return {}
    tag = compute_blind_index(" ".join(words), normaliser="name", scope=NAME_TAG_SCOPE, size=NAME_TAG_BYTES)
    return {"name_shortest": min(len(word) for word in words), "name_tag": tag.hex()}


def _specific(
    *, mrn: str | None, name: str | None, birth_date: dt.date | None, national_id: str | None
) -> bool:
    """Criteria that single out a person: an identifier, or a name with the
    date of birth. A name (or a birth date) alone matches a crowd."""
    return bool(mrn or national_id or (name and birth_date))


@entry
def patient_search(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    mrn: str | None = None,
    name: str | None = None,
    birth_date: dt.date | None = None,
    national_id: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> SearchPage:
    """Patients by MRN, partial name (each word a prefix of a given or family
    name), date of birth and national id, combined with AND. At most
    SEARCH_CAP matches, paginated. Audited with the kinds of criteria used
    (never their values) and every patient shown (indexed per patient, ADR 0208).

    Criteria that do not single out a person (a name without the date of
    birth, a date of birth alone) find only patients the caller has a care
    relationship or an active break-glass grant with; everybody else needs
    the date of birth or an identifier (`SearchPage.narrowed` is set for
    every such search, whether or not anybody was left out, so it reveals
    nothing; ADR 0728).
    The policy decides on every candidate before anything of it is
    decrypted: a name is read back (to confirm a query word longer than the
    prefix tokens) only for candidates the caller may see."""
    criteria = {"mrn": mrn, "name": name, "birth_date": birth_date, "national_id": national_id}
    used = sorted(kind for kind, value in criteria.items() if value not in (None, ""))
    if not used:
        raise InvalidInput({"query": "Give at least one search criterion."})
    page = max(1, page)
    page_size = min(max(1, page_size), MAX_PAGE_SIZE)
    gate = _decide(
        actor=actor, session=session, purpose=purpose, patient=None, facts=None, action=Action.SEARCH
    )
    if gate.effect is Effect.DENY:
        record_denied(
            action=AuditAction.SEARCH,
            actor=actor,
            purpose=purpose,
            resource_type="Patient",
            resource_id="",
            patient=None,
            reason=gate.reason,
        )
        raise Forbidden
    query = Q()
    words: list[str] = []
    try:
        if mrn:
            query &= blind_filter(Patient, "mrn_index", mrn)
        if national_id:
            query &= blind_filter(Patient, "national_id_index", national_id)
        if birth_date:
            query &= blind_filter(Patient, "birth_date_index", birth_date)
        if name:
            name_query, words = _name_query(name)
            query &= name_query
    except ValidationError as error:
        raise InvalidInput({"query": error.messages[0] if error.messages else "Invalid search."}) from None
    specific = _specific(mrn=mrn, name=name, birth_date=birth_date, national_id=national_id)
    with transaction.atomic():
        candidates = list(
            Patient.objects.filter(query)
            .defer(*_SEARCH_COLUMNS)
            .order_by("created_at", "id")[: SEARCH_CAP + 1]
        )
        capped = len(candidates) > SEARCH_CAP
        candidates = candidates[:SEARCH_CAP]
        facts = facts_for(actor, [p.pk for p in candidates])
        decided: list[tuple[Patient, Decision]] = []
        for patient in candidates:
            known = facts[patient.pk]
            if not specific and not (known.relationships or known.grant_id):
                continue
            decision = _decide(
                actor=actor,
                session=session,
                purpose=purpose,
                patient=patient,
                facts=known,
                action=Action.SEARCH,
            )
            if decision.permitted or decision.effect is Effect.BREAK_GLASS:
                decided.append((patient, decision))
        # Only a permitted candidate's name is decrypted to confirm a long word;
        # a restricted one stays a placeholder, confirmed or not.
        matches = [(p, d) for p, d in decided if not d.permitted or _name_confirmed(p, words)]
        start = (page - 1) * page_size
        results = [
            patient_view(patient, decision.sections)
            if decision.permitted
            else PatientView(id=str(patient.pk), sections=frozenset(), restricted=True)
            for patient, decision in matches[start : start + page_size]
        ]
        record(
            action=AuditAction.SEARCH,
            actor=actor,
            purpose=purpose,
            resource_type="Patient",
            fields=audit_fields([Section.DEMOGRAPHICS]) if results else (),
            detail={
                "criteria": used,
                "results": len(results),
                "page": page,
                "capped": capped,
                "narrowed": not specific,
                **_name_probe(words),
            },
            patient_ids=[r.id for r in results if not r.restricted],
        )
    return SearchPage(
        results=results,
        page=page,
        has_next=len(matches) > start + page_size,
        capped=capped,
        narrowed=not specific,
    )


@entry
def patient_labels(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, patient_ids: list[str]
) -> dict[str, str]:
    """Names and MRNs of the patients a privacy-office queue lists ("FAMILY,
    Given · MRN"), for a purpose of that office (compliance review,
    accounting). One decision (the policy's privacy-office search: the
    permission, workforce and zone gates), one query, one audit event naming
    the patients (indexed for their accountings). Refused: Forbidden, and a
    denied event."""
    gate = _decide(
        actor=actor, session=session, purpose=purpose, patient=None, facts=None, action=Action.SEARCH
    )
    if not gate.permitted or purpose.value not in policy.PRIVACY_OFFICE_PURPOSES:
        record_denied(
            action=AuditAction.SEARCH,
            actor=actor,
            purpose=purpose,
            resource_type="Patient",
            resource_id="",
            patient=None,
            reason=gate.reason if not gate.permitted else "purpose",
        )
        raise Forbidden
    ids = []
    for raw in dict.fromkeys(patient_ids):
        try:
            ids.append(parse_id(raw))
        except NotFound:
            continue  # not a patient id (an audit row about something else): nothing to name
    with transaction.atomic():
        patients = list(Patient.objects.filter(pk__in=ids).defer(*_SEARCH_COLUMNS)) if ids else []
        labels = {}
        for patient in patients:
            view = patient_view(patient, gate.sections)
            labels[view.id] = f"{view.display_name} · {view.mrn}"
        if labels:
            record(
                action=AuditAction.SEARCH,
                actor=actor,
                purpose=purpose,
                resource_type="Patient",
                fields=audit_fields([Section.DEMOGRAPHICS]),
                detail={"criteria": ["id"], "results": len(labels), "listing": True},
                patient_ids=list(labels),
            )
    return labels


# --- registration ---------------------------------------------------------------------------
def normalised_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """The address as stored, whichever path wrote it (the registration and
    correction forms, REST, FHIR, the import): each part trimmed, empty parts
    and empty lines dropped, and no address at all when nothing is left."""
    kept: dict[str, Any] = {}
    for key, value in (address or {}).items():
        if isinstance(value, str):
            value = value.strip()
        elif isinstance(value, list):
            value = [line.strip() if isinstance(line, str) else line for line in value]
            value = [line for line in value if line not in ("", None)]
        if value not in ("", [], None):
            kept[key] = value
    return kept or None


def _validated(data: PatientInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for name in _NAME_FIELDS:
        value = getattr(data, name)
        if not isinstance(value, str) or not value.strip():
            errors[name] = "Required."
        elif len(value) > 200:
            errors[name] = "Too long."
    today = clock.now().date()
    if not isinstance(data.birth_date, dt.date) or isinstance(data.birth_date, dt.datetime):
        errors["birth_date"] = "Required."
    elif data.birth_date > today or data.birth_date.year < 1880:
        errors["birth_date"] = "Not a plausible date of birth."
    if data.sex not in Patient.Sex.values:
        errors["sex"] = "Not one of the allowed values."
    checks = (("mrn", "mrn"), ("national_id", "national_id"), ("phone", "phone"))
    for name, normaliser in checks:
        value = getattr(data, name)
        if value:
            try:
                normalise(normaliser, value)
            except ValidationError:
                errors[name] = "Not a valid value."
    if data.email and not _EMAIL.match(data.email):
        errors["email"] = "Not a valid e-mail address."
    if data.deceased_date is not None and (
        data.deceased_date > today
        or (isinstance(data.birth_date, dt.date) and data.deceased_date < data.birth_date)
    ):
        errors["deceased_date"] = "Not a plausible date."
    if errors:
        raise InvalidInput(errors)
    return {
        "given_name": data.given_name.strip(),
        "family_name": data.family_name.strip(),
        "birth_date": data.birth_date,
        "gender_identity": data.gender_identity or None,
        "national_id": data.national_id or None,
        "address": normalised_address(data.address),
        "phone": data.phone or None,
        "email": data.email or None,
        "insurance": data.insurance or None,
        "deceased_date": data.deceased_date,
    }


def _mrn_taken(mrn: str) -> bool:
    return Patient.objects.filter(blind_filter(Patient, "mrn_index", mrn)).exists()


def new_mrn() -> str:
    for _ in range(20):
        mrn = f"SW{secrets.randbelow(10**8):08d}"
        if not _mrn_taken(mrn):
            return mrn
    raise Conflict("Could not allocate a medical record number.")  # pragma: no cover - 1e8 space


def build_patient(data: PatientInput) -> Patient:
    """A new, unsaved Patient from validated input (the import uses it too)."""
    values = _validated(data)
    now = clock.now()
    patient = Patient(
        sex=data.sex,
        is_employee=data.is_employee,
        is_vip=data.is_vip,
        is_confidential=data.is_confidential,
        deceased=data.deceased_date is not None,
        created_at=now,
        updated_at=now,
    )
    assign(patient, {"mrn": data.mrn or new_mrn(), **values})
    return patient


def _national_id_taken(national_id: str | None, *, other_than: uuid.UUID | None = None) -> bool:
    if not national_id:
        return False
    same = Patient.objects.filter(blind_filter(Patient, "national_id_index", national_id))
    if other_than is not None:
        same = same.exclude(pk=other_than)
    return same.exists()


NATIONAL_ID_TAKEN = "Another patient is registered with this national ID: search for them instead."


def _same_person(data: PatientInput) -> list[Patient]:
    """Patients with the same names and date of birth: the birth date's blind
    index and the names' prefix tokens narrow it in the database, and the
    few candidates' names are compared exactly here."""
    given, family = (normalise("name", getattr(data, f)) for f in _NAME_FIELDS)
    name_query, _ = _name_query(f"{given} {family}")
    query = blind_filter(Patient, "birth_date_index", data.birth_date) & name_query
    return [
        p
        for p in Patient.objects.filter(query)
        .defer(*_SEARCH_COLUMNS)
        .order_by("created_at", "id")[:SEARCH_CAP]
        if normalise("name", plain(p, "given_name")) == given
        and normalise("name", plain(p, "family_name")) == family
    ]


def _duplicate_views(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, candidates: list[Patient]
) -> list[PatientView]:
    """The candidates as a search would show them to this person: demographics,
    or a placeholder for a record they could only break the glass for."""
    facts = facts_for(actor, [p.pk for p in candidates])
    views = []
    for candidate in candidates:
        decision = _decide(
            actor=actor,
            session=session,
            purpose=purpose,
            patient=candidate,
            facts=facts[candidate.pk],
            action=Action.SEARCH,
        )
        views.append(
            patient_view(candidate, decision.sections)
            if decision.permitted
            else PatientView(id=str(candidate.pk), sections=frozenset(), restricted=True)
        )
    return views


def save_new_patient(patient: Patient) -> None:
    try:
        with transaction.atomic():
            patient.save()
    except DatabaseIntegrityError:
        raise Conflict("That medical record number is already in use.") from None


@entry
def patient_register(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    data: PatientInput,
    confirm_not_duplicate: bool = False,
    submission: str | None = None,
) -> PatientView:
    """Register a patient. A national ID already on file is refused; patients
    with the same names and date of birth are returned as PossibleDuplicates
    (recorded as a search that showed them) until the clerk confirms that
    this is somebody else (`confirm_not_duplicate`, noted in the event)."""
    decision = _decide(
        actor=actor,
        session=session,
        purpose=purpose,
        patient=None,
        facts=None,
        action=Action.CREATE,
        section=Section.DEMOGRAPHICS,
    )
    if not decision.permitted:
        record_denied(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=purpose,
            resource_type="Patient",
            resource_id="",
            patient=None,
            reason=decision.reason,
        )
        raise Forbidden
    patient = build_patient(data)
    if _national_id_taken(data.national_id):
        raise InvalidInput({"national_id": NATIONAL_ID_TAKEN})
    candidates = _same_person(data)
    if candidates and not confirm_not_duplicate:
        views = _duplicate_views(actor=actor, session=session, purpose=purpose, candidates=candidates)
        with transaction.atomic():
            record(
                action=AuditAction.SEARCH,
                actor=actor,
                purpose=purpose,
                resource_type="Patient",
                fields=audit_fields([Section.DEMOGRAPHICS]),
                detail={"duplicate_check": True, "results": len(views)},
                patient_ids=[v.id for v in views if not v.restricted],
            )
        raise PossibleDuplicates(views)
    with transaction.atomic():
        use_submission(submission)
        if data.mrn and _mrn_taken(data.mrn):
            raise Conflict("That medical record number is already in use.")
        save_new_patient(patient)
        sections = frozenset({Section.DEMOGRAPHICS, Section.CONTACT, Section.NATIONAL_ID, Section.INSURANCE})
        record(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=purpose,
            resource_type="Patient",
            resource_id=str(patient.pk),
            patient=patient,
            decision=decision,
            fields=audit_fields(sections),
            detail={"possible_duplicates_confirmed": len(candidates)} if candidates else None,
        )
        return patient_view(patient, sections)


@entry
def patient_update(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    data: PatientInput,
    reason: str | None = None,
    amendment_request_id: str | uuid.UUID | None = None,
    submission: str | None = None,
) -> PatientView:
    """Correct demographics (registration). The MRN never changes here. The
    values replaced are kept in a chart version; the event names the fields
    that changed and the version, never a value. `amendment_request_id`: the
    patient's pending request this correction answers (accepted and linked)."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=Section.DEMOGRAPHICS,
    )
    values = _validated(dataclasses.replace(data, mrn=None))
    if _national_id_taken(data.national_id, other_than=patient.pk):
        raise InvalidInput({"national_id": NATIONAL_ID_TAKEN})
    flags = {
        "sex": data.sex,
        "is_employee": data.is_employee,
        "is_vip": data.is_vip,
        "is_confidential": data.is_confidential,
        "deceased": data.deceased_date is not None,
    }
    before = {name: plain(patient, name) for name in values} | {n: getattr(patient, n) for n in flags}
    with transaction.atomic():
        use_submission(submission)
        request = pending_amendment(patient, amendment_request_id)
        assign(patient, values)
        for name, value in flags.items():
            setattr(patient, name, value)
        changed = sorted(name for name, value in (values | flags).items() if before[name] != value)
        patient.updated_at = clock.now()
        patient.save()
        version = save_version(
            patient=patient,
            resource_type="Patient",
            resource_id=patient.pk,
            before={name: before[name] for name in changed},
            reason=reason,
            actor=actor,
        )
        link_amendment(request, version, actor=actor)
        sections = frozenset({Section.DEMOGRAPHICS, Section.CONTACT, Section.NATIONAL_ID, Section.INSURANCE})
        record(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="Patient",
            resource_id=str(patient.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=audit_fields(sections),
            detail=correction_detail(changed, version, request),
        )
        return patient_view(patient, sections)


@entry
def patient_read(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, patient_id: str | uuid.UUID
) -> PatientView:
    """Demographics, contact, national id and insurance as the mask allows."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.READ,
        audit_action=AuditAction.READ,
    )
    with transaction.atomic():
        view = patient_view(patient, decision.sections)
        count_emergency_access(decision, facts)
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="Patient",
            resource_id=str(patient.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=audit_fields(view.sections),
        )
    return view


# --- the chart ---------------------------------------------------------------------------------
def _split(rows: list[Any], include_sensitive: bool) -> tuple[list[Any], int]:
    if include_sensitive:
        return rows, 0
    kept = [row for row in rows if not row.sensitivity]
    return kept, len(rows) - len(kept)


def observation_view(o: Observation) -> ObservationView:
    return ObservationView(
        id=str(o.pk),
        category=o.category,
        status=o.status,
        code=plain(o, "code"),
        display=plain(o, "display"),
        value=plain(o, "value"),
        unit=o.unit,
        effective_at=plain(o, "effective_at"),
        sensitivity=o.sensitivity,
        late_entry_at=plain(o, "late_entry_at"),
    )


def encounter_view(e: Encounter) -> EncounterView:
    return EncounterView(
        id=str(e.pk),
        kind=e.kind,
        status=e.status,
        department=e.department.name,
        attending=user_label(e.attending),
        started_at=plain(e, "started_at"),
        ended_at=plain(e, "ended_at"),
        reason=plain(e, "reason"),
        sensitivity=e.sensitivity,
    )


def note_view(n: ClinicalNote) -> NoteView:
    return NoteView(
        id=str(n.pk),
        kind=n.kind,
        title=plain(n, "title"),
        text=plain(n, "text"),
        author=user_label(n.author),
        created_at=plain(n, "created_at"),
        encounter_id=str(n.encounter_id) if n.encounter_id else None,
        sensitivity=n.sensitivity,
        author_id=n.author_id,
        amends=str(n.amends_id) if n.amends_id else None,
        amendment_reason=plain(n, "amendment_reason"),
    )


def _note_chains(rows: list[ClinicalNote]) -> list[tuple[ClinicalNote, list[ClinicalNote]]]:
    """Each note's newest version with its earlier versions (newest first):
    an amended version is shown under the version that replaced it."""
    by_id = {n.pk: n for n in rows}
    replaced = {n.amends_id for n in rows if n.amends_id}
    chains = []
    for note in rows:
        if note.pk in replaced:
            continue
        earlier, step = [], note.amends_id
        while step is not None and step in by_id:
            earlier.append(by_id[step])
            step = by_id[step].amends_id
        chains.append((note, earlier))
    return chains


# Which section discloses each corrected field of a patient (the others are the row's own section).
_PATIENT_FIELD_SECTIONS = {
    "phone": Section.CONTACT,
    "email": Section.CONTACT,
    "address": Section.CONTACT,
    "national_id": Section.NATIONAL_ID,
    "insurance": Section.INSURANCE,
}


def _corrections(
    versions: list[ChartVersion], sections: frozenset[Section], shown: set[str]
) -> list[CorrectionView]:
    """The corrections of rows the chart shows (so a sensitive row's old
    values stay as hidden as the row), newest first; a patient correction
    discloses only the fields of sections the reader may see."""
    views = []
    for version in versions:
        if str(version.resource_id) not in shown:
            continue
        before = plain(version, "before")
        if version.resource_type == "Patient":
            before = {
                k: v
                for k, v in before.items()
                if _PATIENT_FIELD_SECTIONS.get(k, Section.DEMOGRAPHICS) in sections
            }
        views.append(
            CorrectionView(
                id=str(version.pk),
                resource_type=version.resource_type,
                resource_id=str(version.resource_id),
                changed=tuple(version.changed),
                before=before,
                reason=plain(version, "reason"),
                author=user_label(version.author),
                created_at=version.created_at,
            )
        )
    return views


def amendment_request_view(a: AmendmentRequest) -> AmendmentRequestView:
    return AmendmentRequestView(
        id=str(a.pk),
        patient_id=str(a.patient_id),
        status=a.status,
        request=plain(a, "request"),
        received_at=a.received_at,
        received_by=user_label(a.received_by),
        decided_at=a.decided_at,
        decided_by=user_label(a.decided_by),
        denial_reason=plain(a, "denial_reason"),
        disagreement=plain(a, "disagreement"),
        applied_type=a.applied_type,
        applied_id=str(a.applied_id) if a.applied_id else None,
    )


def condition_view(c: Condition) -> ConditionView:
    return ConditionView(
        id=str(c.pk),
        code_system=c.code_system,
        code=plain(c, "code"),
        display=plain(c, "display"),
        clinical_status=c.clinical_status,
        onset=plain(c, "onset"),
        recorded_at=plain(c, "recorded_at"),
        sensitivity=c.sensitivity,
    )


def allergy_view(a: AllergyIntolerance) -> AllergyView:
    return AllergyView(
        id=str(a.pk),
        substance=plain(a, "substance"),
        reaction=plain(a, "reaction"),
        criticality=a.criticality,
        clinical_status=a.clinical_status,
        recorded_at=plain(a, "recorded_at"),
    )


def medication_view(m: MedicationRequest) -> MedicationView:
    return MedicationView(
        id=str(m.pk),
        medication=plain(m, "medication"),
        rxnorm=plain(m, "rxnorm"),
        dosage=plain(m, "dosage"),
        status=m.status,
        authored_at=plain(m, "authored_at"),
        requester=user_label(m.requester),
        sensitivity=m.sensitivity,
        override_reason=plain(m, "override_reason"),
        verification=m.verification,
        verification_note=plain(m, "verification_note"),
    )


def administration_view(a: MedicationAdministration, medication: str = "") -> AdministrationView:
    """A dose as the chart shows it; `medication` is its order's."""
    return AdministrationView(
        id=str(a.pk),
        request_id=str(a.request_id),
        dose=plain(a, "dose"),
        dose_unit=a.dose_unit,
        route=a.route,
        administered_at=plain(a, "administered_at"),
        late_entry_at=plain(a, "late_entry_at"),
        medication=medication,
        recorded_by=user_label(a.recorded_by),
        verified_by=user_label(a.verified_by),
        verified_at=plain(a, "verified_at"),
        sensitivity=a.sensitivity,
    )


def appointment_view(a: Appointment, patient: PatientView | None) -> AppointmentView:
    return AppointmentView(
        id=str(a.pk),
        patient_id=str(a.patient_id),
        patient=patient,
        department=a.department.name,
        department_id=a.department_id,
        clinician=user_label(a.clinician),
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        status=a.status,
        reason=plain(a, "reason"),
        encounter_id=str(a.encounter_id) if a.encounter_id else None,
    )


def document_view(d: Document) -> DocumentView:
    return DocumentView(
        id=str(d.pk),
        title=plain(d, "title"),
        content_type=d.content_type,
        size=d.size,
        created_at=plain(d, "created_at"),
        sensitivity=d.sensitivity,
    )


def immunization_view(i: Immunization) -> ImmunizationView:
    return ImmunizationView(
        id=str(i.pk),
        status=i.status,
        vaccine_code=plain(i, "vaccine_code"),
        vaccine=plain(i, "vaccine"),
        occurred_at=plain(i, "occurred_at"),
        sensitivity=i.sensitivity,
    )


def procedure_view(p: Procedure) -> ProcedureView:
    return ProcedureView(
        id=str(p.pk),
        status=p.status,
        code=plain(p, "code"),
        display=plain(p, "display"),
        performed_at=plain(p, "performed_at"),
        performed_end=plain(p, "performed_end"),
        reason=plain(p, "reason"),
        sensitivity=p.sensitivity,
    )


def report_view(r: DiagnosticReport, result_ids: tuple[str, ...]) -> ReportView:
    return ReportView(
        id=str(r.pk),
        status=r.status,
        category=r.category,
        code=plain(r, "code"),
        display=plain(r, "display"),
        effective_at=plain(r, "effective_at"),
        issued_at=plain(r, "issued_at"),
        conclusion=plain(r, "conclusion"),
        result_ids=result_ids,
        sensitivity=r.sensitivity,
    )


def _reports(reports: list[DiagnosticReport], include_sensitive: bool) -> tuple[list[ReportView], int]:
    """The newest of the patient's `reports` with their results' ids: one
    query for the links, whatever the number of reports."""
    rows = by_time(reports, "effective_at")[: CHART_LIMITS["reports"]]
    rows, hidden = _split(rows, include_sensitive)
    results: dict[Any, list[str]] = {row.pk: [] for row in rows}
    if rows:
        links = DiagnosticReport.results.through.objects.filter(diagnosticreport_id__in=list(results))
        for report_id, observation_id in links.values_list("diagnosticreport_id", "observation_id"):
            results[report_id].append(str(observation_id))
    return [report_view(r, tuple(results[r.pk])) for r in rows], hidden


def _care_team(memberships: list[CareTeamMembership]) -> list[CareTeamView]:
    return [
        CareTeamView(id=str(m.pk), user_id=m.user_id, name=user_label(m.user), role=m.role, ends_at=m.ends_at)
        for m in memberships
    ]


def _section_queries() -> dict[str, Compiled[Any]]:
    """Each chart section's query, by the name `_build_chart` reads it with:
    the same shape for every patient (the patient and the time are its only
    values), so its SQL is compiled once per thread (ADR 1632) and each
    chart only executes it. `newest_years` rows are ordered and cut to the
    section's limit after decryption."""
    queries: dict[str, Callable[..., QuerySet[Any]]] = {
        "encounters": lambda patient: newest_years(
            _with_labels(Encounter.objects.filter(patient=patient), "department", "attending"),
            year="started_year",
            limit=CHART_LIMITS["encounters"],
        ),
        "notes": lambda patient: _with_labels(ClinicalNote.objects.filter(patient=patient), "author"),
        "problems": lambda patient: Condition.objects.filter(patient=patient),
        "medications": lambda patient: _with_labels(
            MedicationRequest.objects.filter(patient=patient), "requester"
        ),
        "administrations": lambda patient: _with_labels(
            MedicationAdministration.objects.filter(patient=patient), "recorded_by", "verified_by"
        ),
        "allergies": lambda patient: AllergyIntolerance.objects.filter(patient=patient),
        "observations": lambda patient: newest_years(
            Observation.objects.filter(patient=patient),
            year="effective_year",
            limit=CHART_LIMITS["observations"],
        ),
        "appointments": lambda patient: _with_labels(
            Appointment.objects.filter(patient=patient), "department", "clinician"
        ).order_by("-starts_at", "-id")[: CHART_LIMITS["appointments"]],
        "care_team": lambda patient, now: _with_labels(
            CareTeamMembership.objects.filter(patient=patient, starts_at__lte=now).filter(
                Q(ends_at__isnull=True) | Q(ends_at__gt=now)
            ),
            "user",
        ).order_by("starts_at", "id"),
        "documents": lambda patient: Document.objects.filter(patient=patient),
        "immunizations": lambda patient: newest_years(
            Immunization.objects.filter(patient=patient),
            year="occurred_year",
            limit=CHART_LIMITS["immunizations"],
        ),
        "procedures": lambda patient: newest_years(
            Procedure.objects.filter(patient=patient), year="performed_year", limit=CHART_LIMITS["procedures"]
        ),
        "reports": lambda patient: newest_years(
            DiagnosticReport.objects.filter(patient=patient),
            year="effective_year",
            limit=CHART_LIMITS["reports"],
        ),
        "corrections": lambda patient: _with_labels(
            ChartVersion.objects.filter(patient=patient), "author"
        ).order_by("-created_at", "-id"),
        "amendment_requests": lambda patient: _with_labels(
            AmendmentRequest.objects.filter(patient=patient), "received_by", "decided_by"
        ).order_by("-received_at", "-id"),
    }
    return {name: Compiled(f"chart.{name}", build) for name, build in queries.items()}


_CHART = _section_queries()


# The Chart attribute each section fills (orders and results share a table).
_SECTION_PARTS: dict[Section, str] = {
    Section.ENCOUNTERS: "encounters",
    Section.NOTES: "notes",
    Section.PROBLEMS: "problems",
    Section.MEDICATIONS: "medications",
    Section.ALLERGIES: "allergies",
    Section.ORDERS: "orders",
    Section.RESULTS: "results",
    Section.APPOINTMENTS: "appointments",
    Section.CARE_TEAM: "care_team",
    Section.DOCUMENTS: "documents",
    Section.IMMUNIZATIONS: "immunizations",
    Section.PROCEDURES: "procedures",
    Section.REPORTS: "reports",
    Section.DEMOGRAPHICS: "amendment_requests",
}


def _grouped(rows: list[Any], status: str) -> list[Any]:
    """Rows (already newest first) grouped by a status column, in the status's
    alphabetical order as the database sorted them before (stable sort)."""
    return sorted(rows, key=lambda row: getattr(row, status))


# The tables whose rows each chart section shows (the corrections and the
# amendment requests are read with every chart and with demographics).
_SECTION_TABLES: dict[Section, type[models.Model]] = {
    Section.ENCOUNTERS: Encounter,
    Section.NOTES: ClinicalNote,
    Section.PROBLEMS: Condition,
    Section.MEDICATIONS: MedicationRequest,
    Section.ALLERGIES: AllergyIntolerance,
    Section.ORDERS: Observation,
    Section.RESULTS: Observation,
    Section.APPOINTMENTS: Appointment,
    Section.CARE_TEAM: CareTeamMembership,
    Section.DOCUMENTS: Document,
    Section.IMMUNIZATIONS: Immunization,
    Section.PROCEDURES: Procedure,
    Section.REPORTS: DiagnosticReport,
    Section.DEMOGRAPHICS: AmendmentRequest,
}


@functools.cache
def _holding_sql(tables: tuple[type[models.Model], ...]) -> str:
    """One statement answering, for each table, whether the patient has a
    row in it (each an index probe on the patient column). Plain SQL,
    portable between PostgreSQL and SQLite; names come from the models."""
    probes = ", ".join(
        f"EXISTS (SELECT 1 FROM {m._meta.db_table} WHERE {m._meta.get_field('patient').column} = %s)"  # type: ignore[union-attr]  # noqa: S608 - names from model metadata; the patient is a parameter
        for m in tables
    )
    return f"SELECT {probes}"


def _holding(patient: Patient, sections: frozenset[Section]) -> set[type[models.Model]]:
    """The tables of the chart's sections (and the corrections) that hold a
    row of the patient: one round trip, so that a section with nothing in it
    costs no query of its own (most charts leave most sections empty)."""
    tables = tuple(
        sorted(
            {_SECTION_TABLES[s] for s in sections if s in _SECTION_TABLES} | {ChartVersion},
            key=lambda m: m._meta.db_table,
        )
    )
    pk = Patient._meta.pk
    assert pk is not None
    value = pk.get_db_prep_value(patient.pk, connection)
    # Prepared (ADR 1634): a dozen probes planned again on every chart cost
    # the server more than running them.
    with prepared_cursor() as cursor:
        cursor.execute(_holding_sql(tables), [value] * len(tables))
        row = cursor.fetchone()
    return {model for model, held in zip(tables, row, strict=True) if held}


# The section queries each chart section reads (orders and results share one).
_SECTION_QUERIES: dict[Section, tuple[str, ...]] = {
    Section.ENCOUNTERS: ("encounters",),
    Section.NOTES: ("notes",),
    Section.PROBLEMS: ("problems",),
    Section.MEDICATIONS: ("medications", "administrations"),
    Section.ALLERGIES: ("allergies",),
    Section.ORDERS: ("observations",),
    Section.RESULTS: ("observations",),
    Section.APPOINTMENTS: ("appointments",),
    Section.CARE_TEAM: ("care_team",),
    Section.DOCUMENTS: ("documents",),
    Section.IMMUNIZATIONS: ("immunizations",),
    Section.PROCEDURES: ("procedures",),
    Section.REPORTS: ("reports",),
    Section.DEMOGRAPHICS: ("amendment_requests",),
}


def _section_rows(
    patient: Patient, sections: frozenset[Section], *, with_corrections: bool
) -> dict[str, list[Any]]:
    """The rows of every section query the chart reads, by name: sent
    together, one round trip for all of them (ADR 1633)."""
    names = {name for section in sections for name in _SECTION_QUERIES.get(section, ())}
    if with_corrections:
        names.add("corrections")
    values = {"patient": patient.pk}
    return rows_together(
        {
            name: (_CHART[name], {**values, "now": clock.now()} if name == "care_team" else values)
            for name in sorted(names)
        }
    )


def _build_chart(patient: Patient, decision: Decision) -> Chart:
    held = _holding(patient, decision.sections)
    # A section whose table holds no row of the patient is shown empty, unread.
    sections = frozenset(s for s in decision.sections if _SECTION_TABLES.get(s, Patient) in held)
    sensitive = decision.include_sensitive
    withheld = 0
    parts: dict[str, Any] = {
        name: []
        for section, name in _SECTION_PARTS.items()
        if section in decision.sections and section not in sections
    }
    if Section.MEDICATIONS in decision.sections and Section.MEDICATIONS not in sections:
        parts["administrations"] = []  # no order, so no dose given against one
    fetched = _section_rows(patient, sections, with_corrections=ChartVersion in held)
    rows: list[Any]
    if Section.ENCOUNTERS in sections:
        rows = by_time(fetched["encounters"], "started_at")[: CHART_LIMITS["encounters"]]
        rows, hidden = _split(rows, sensitive)
        withheld += hidden
        parts["encounters"] = [encounter_view(e) for e in rows]
    if Section.NOTES in sections:
        chains = _note_chains(by_time(fetched["notes"], "created_at"))[: CHART_LIMITS["notes"]]
        kept = [chain for chain in chains if sensitive or not chain[0].sensitivity]
        withheld += len(chains) - len(kept)
        parts["notes"] = [
            dataclasses.replace(note_view(n), previous=tuple(note_view(e) for e in earlier))
            for n, earlier in kept
        ]
    if Section.PROBLEMS in sections:
        rows = _grouped(by_time(fetched["problems"], "recorded_at"), "clinical_status")
        rows, hidden = _split(rows, sensitive)
        withheld += hidden
        parts["problems"] = [condition_view(c) for c in rows]
    if Section.MEDICATIONS in sections:
        rows = _grouped(by_time(fetched["medications"], "authored_at"), "status")
        rows, hidden = _split(rows, sensitive)
        withheld += hidden
        parts["medications"] = [medication_view(m) for m in rows]
        # Doses go with their orders: a dose of an order the mask withholds
        # (sensitive) is withheld with it (a dose's sensitivity is its order's).
        given = by_time(fetched["administrations"], "administered_at")[: CHART_LIMITS["administrations"]]
        given, hidden = _split(given, sensitive)
        withheld += hidden
        names = {m.id: m.medication for m in parts["medications"]}
        parts["administrations"] = [administration_view(a, names.get(str(a.request_id), "")) for a in given]
    if Section.ALLERGIES in sections:
        parts["allergies"] = [
            allergy_view(a) for a in _grouped(by_time(fetched["allergies"], "recorded_at"), "clinical_status")
        ]
    if Section.ORDERS in sections or Section.RESULTS in sections:
        rows = by_time(fetched["observations"], "effective_at")[: CHART_LIMITS["observations"]]
        rows, hidden = _split(rows, sensitive)
        withheld += hidden
        if Section.ORDERS in sections:
            parts["orders"] = [observation_view(o) for o in rows if o.status == Observation.Status.REGISTERED]
        if Section.RESULTS in sections:
            parts["results"] = [
                observation_view(o)
                for o in rows
                if o.status not in (Observation.Status.REGISTERED, Observation.Status.CANCELLED)
            ]
    if Section.APPOINTMENTS in sections:
        rows = fetched["appointments"]
        parts["appointments"] = [appointment_view(a, None) for a in rows]
    if Section.CARE_TEAM in sections:
        parts["care_team"] = _care_team(fetched["care_team"])
    if Section.DOCUMENTS in sections:
        rows = by_time(fetched["documents"], "created_at")[: CHART_LIMITS["documents"]]
        rows, hidden = _split(rows, sensitive)
        withheld += hidden
        parts["documents"] = [document_view(d) for d in rows]
    if Section.IMMUNIZATIONS in sections:
        rows = by_time(fetched["immunizations"], "occurred_at")[: CHART_LIMITS["immunizations"]]
        rows, hidden = _split(rows, sensitive)
        withheld += hidden
        parts["immunizations"] = [immunization_view(i) for i in rows]
    if Section.PROCEDURES in sections:
        rows = by_time(fetched["procedures"], "performed_at")[: CHART_LIMITS["procedures"]]
        rows, hidden = _split(rows, sensitive)
        withheld += hidden
        parts["procedures"] = [procedure_view(p) for p in rows]
    if Section.REPORTS in sections:
        parts["reports"], hidden = _reports(fetched["reports"], sensitive)
        withheld += hidden
    shown = {str(patient.pk)} | {
        row.id
        for name in ("problems", "medications", "allergies", "results")
        for row in parts.get(name) or ()
    }
    corrections = (
        _corrections(fetched["corrections"], decision.sections, shown) if ChartVersion in held else []
    )
    parts["corrections"] = corrections
    if parts.get("results"):
        replaced: dict[str, list[str]] = {}
        for c in corrections:
            if c.resource_type == "Observation" and "value" in c.before:
                replaced.setdefault(c.resource_id, []).append(
                    f"{c.before['value']} {c.before.get('unit', '')}".strip()
                )
        parts["results"] = [
            dataclasses.replace(r, previous_values=tuple(replaced[r.id])) if r.id in replaced else r
            for r in parts["results"]
        ]
    if Section.DEMOGRAPHICS in sections:
        parts["amendment_requests"] = [amendment_request_view(a) for a in fetched["amendment_requests"]]
    return Chart(
        patient=patient_view(patient, decision.sections),
        sections=decision.sections,
        emergency=decision.emergency,
        withheld_sensitive=withheld,
        **parts,
    )


_CHART_AUDIT = {
    Action.READ: AuditAction.READ,
    Action.EXPORT: AuditAction.EXPORT,
    Action.PRINT: AuditAction.PRINT,
}


def _chart(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    action: Action,
    leaving: Callable[[Chart], object] | None = None,
) -> Chart:
    audit_action = _CHART_AUDIT[action]
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=action,
        audit_action=audit_action,
    )
    with transaction.atomic():
        chart = _build_chart(patient, decision)
        count_emergency_access(decision, facts)
        record(
            action=audit_action,
            actor=actor,
            purpose=purpose,
            resource_type="Chart",
            resource_id=str(patient.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=audit_fields(decision.sections),
            detail={"withheld_sensitive": chart.withheld_sensitive} if chart.withheld_sensitive else None,
        )
        if leaving is not None:
            leaving(chart)
    return chart


@entry
def chart_read(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    leaving: Callable[[Chart], object] | None = None,
) -> Chart:
    """The chart as the decision's mask allows; one READ audit event.
    `leaving` is called with the chart inside the READ event's transaction:
    what it writes (the REST chart's export manifest of the bytes that leave,
    ADR 1631) commits with the event or neither does."""
    return _chart(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.READ,
        leaving=leaving,
    )


@entry
def chart_print(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, patient_id: str | uuid.UUID
) -> Chart:
    """The same content for a printable page; audited as PRINT."""
    return _chart(actor=actor, session=session, purpose=purpose, patient_id=patient_id, action=Action.PRINT)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@entry
def chart_export(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, patient_id: str | uuid.UUID
) -> dict[str, Any]:
    """The chart as JSON-able data (masked the same way); audited as EXPORT."""
    chart = _chart(actor=actor, session=session, purpose=purpose, patient_id=patient_id, action=Action.EXPORT)
    return _jsonable(dataclasses.asdict(chart))  # type: ignore[no-any-return]
