"""Writes to the chart: notes, problems, allergies, medication requests,
orders and results, encounters, the care team, documents."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import models, transaction

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import safety
from safeward.clinical.gateway._admission import ALREADY_ADMITTED, release_admission
from safeward.clinical.gateway._core import (
    Actor,
    PatientFacts,
    assign,
    audit_fields,
    check_choice,
    parse_id,
    plain,
    record,
    record_isolated,
    use_submission,
)
from safeward.clinical.gateway._patients import (
    _decide,
    allergy_view,
    condition_view,
    count_emergency_access,
    document_view,
    encounter_view,
    load_patient,
    medication_view,
    note_view,
    observation_view,
    patient_view,
)
from safeward.clinical.models import (
    AllergyIntolerance,
    CareTeamMembership,
    ClinicalNote,
    Condition,
    Document,
    Encounter,
    MedicationRequest,
    Observation,
    Patient,
    Sensitivity,
)
from safeward.clinical.policy import Action, Section
from safeward.clinical.types import (
    AllergyView,
    AllergyWarning,
    CareTeamView,
    ConditionView,
    Conflict,
    DocumentView,
    EncounterView,
    InvalidInput,
    MedicationView,
    NeedsConfirmation,
    NoteView,
    NotFound,
    ObservationView,
    SessionContext,
)
from safeward.crypto import streams
from safeward.crypto.phi import PhiCategory
from safeward.crypto.stores import FileStreamStore
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import department_is_clinical, users_holding
from safeward.one_door import entry

ICD10CM = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")
SNOMED = re.compile(r"^[0-9]{6,18}$")
LOINC = re.compile(r"^[0-9]{1,7}-[0-9]$")
UCUM = re.compile(r"^[A-Za-z0-9%/.*\[\]{}^'_\-]{0,32}$")
RXNORM = re.compile(r"^[0-9]{1,10}$")
CVX = re.compile(r"^[0-9]{1,3}$")  # CDC vaccine codes
MAX_DOCUMENT_BYTES = 25 * 1024 * 1024
DOCUMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})


def validate_code(system: str, code: str) -> str:
    code = (code or "").strip().upper()
    pattern = {"icd10cm": ICD10CM, "snomed": SNOMED, "loinc": LOINC, "rxnorm": RXNORM, "cvx": CVX}[system]
    if not pattern.match(code):
        raise InvalidInput({"code": f"Not a valid {system.upper()} code."})
    return code


def _text(name: str, value: str | None, *, required: bool = True, max_length: int = 300) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput({name: "Required."})
        return None
    if len(value) > max_length:
        raise InvalidInput({name: "Too long."})
    return value


def _encounter_of(patient: Patient, encounter_id: str | None) -> Encounter | None:
    if not encounter_id:
        return None
    try:
        eid = parse_id(encounter_id)
    except NotFound:
        raise InvalidInput({"encounter": "No such encounter for this patient."}) from None
    encounter = Encounter.objects.filter(pk=eid, patient=patient).first()
    if encounter is None:
        raise InvalidInput({"encounter": "No such encounter for this patient."})
    return encounter


def _sensitivity(value: str) -> str:
    return check_choice("sensitivity", value or "", Sensitivity)


def _write[M: models.Model, V](
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    section: Section,
    resource_type: str,
    build: Callable[[Patient], M],
    view: Callable[[M], V],
    submission: str | None,
    fields: list[str] | None = None,
    detail: Callable[[M], dict[str, Any] | None] | None = None,
    check: Callable[[Patient, PatientFacts], None] | None = None,
) -> V:
    """Decide, build (validating), save and audit one new row, all or nothing.
    `check` runs after the decision and before the transaction: a safety
    check that may refuse (and record its own event, which must commit)."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.CREATE,
        audit_action=AuditAction.CREATE,
        section=section,
        resource_type=resource_type,
    )
    if check is not None:
        check(patient, facts)
    with transaction.atomic():
        use_submission(submission)
        row = build(patient)
        row.save()
        count_emergency_access(decision, facts)
        record(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id=str(row.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=fields if fields is not None else audit_fields([section]),
            detail=detail(row) if detail is not None else None,
        )
        return view(row)


def _user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


def check_plausible(code: str, unit: str, value: str | None, *, confirmed: bool) -> bool:
    """Refuse an impossible value; ask for confirmation of an implausible one.
    Returns whether the value was implausible (and confirmed)."""
    verdict = safety.plausibility(code, unit, value)
    if verdict.plausibility is safety.Plausibility.IMPOSSIBLE:
        raise InvalidInput({"value": verdict.message})
    if verdict.plausibility is safety.Plausibility.IMPLAUSIBLE:
        if not confirmed:
            raise NeedsConfirmation({"value": verdict.message})
        return True
    return False


def allergy_matches(patient: Patient, medication: str, rxnorm: str | None) -> list[safety.AllergyMatch]:
    """The patient's active allergies a medication falls under: by drug class
    (`safety`), by the allergy's substance named in the medication, or by a
    class that may cross-react (with the map's caution).
    Allergies are decrypted only when the medication could match one."""
    classes = safety.drug_classes(medication, rxnorm)
    matches = []
    for allergy in AllergyIntolerance.objects.filter(
        patient=patient, clinical_status=AllergyIntolerance.Status.ACTIVE
    ):
        substance = plain(allergy, "substance")
        allergic_to = safety.allergy_classes(substance)
        shared = sorted(classes & allergic_to)
        caution = ""
        if shared:
            label = safety.class_label(shared[0])
        elif safety.names_substance(medication, substance):
            label = "Same substance"
        elif (cross := safety.cross_reaction(classes, allergic_to)) is not None:
            label, caution = safety.class_label(cross[0]), cross[1]
        else:
            continue
        matches.append(
            safety.AllergyMatch(
                allergy_id=str(allergy.pk),
                substance=substance,
                criticality=allergy.criticality,
                drug_class=label,
                caution=caution,
            )
        )
    return matches


def _orderer(user_id: int | None) -> User | None:
    if user_id is None:
        return None
    orderer = users_holding(permission=Perm.CLINICAL_ORDER_WRITE.value).filter(pk=user_id).first()
    if orderer is None:
        raise InvalidInput({"ordered_by": "Not a clinician who orders tests."})
    return orderer


@entry
def note_create(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    title: str,
    text: str,
    kind: str = "progress",
    encounter_id: str | None = None,
    sensitivity: str = "",
    submission: str | None = None,
) -> NoteView:
    def build(patient: Patient) -> ClinicalNote:
        note = ClinicalNote(
            patient=patient,
            encounter=_encounter_of(patient, encounter_id),
            author=_user(actor),
            kind=check_choice("kind", kind, ClinicalNote.Kind),
            sensitivity=_sensitivity(sensitivity),
            created_at=clock.now(),
        )
        assign(
            note,
            {"title": _text("title", title, max_length=200), "text": _text("text", text, max_length=20_000)},
        )
        return note

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.NOTES,
        resource_type="ClinicalNote",
        build=build,
        view=note_view,
        submission=submission,
    )


@entry
def condition_create(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    code: str,
    display: str,
    code_system: str = "icd10cm",
    clinical_status: str = "active",
    onset: dt.date | None = None,
    sensitivity: str = "",
    encounter_id: str | None = None,
    submission: str | None = None,
) -> ConditionView:
    def build(patient: Patient) -> Condition:
        system = check_choice("code_system", code_system, Condition.System)
        if onset is not None and onset > clock.now().date():
            raise InvalidInput({"onset": "The onset cannot be in the future."})
        condition = Condition(
            patient=patient,
            encounter=_encounter_of(patient, encounter_id),
            code_system=system,
            clinical_status=check_choice("clinical_status", clinical_status, Condition.Status),
            sensitivity=_sensitivity(sensitivity),
            recorded_at=clock.now(),
            recorded_by=_user(actor),
        )
        assign(
            condition,
            {"code": validate_code(system, code), "display": _text("display", display), "onset": onset},
        )
        return condition

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.PROBLEMS,
        resource_type="Condition",
        build=build,
        view=condition_view,
        submission=submission,
    )


@entry
def allergy_create(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    substance: str,
    reaction: str | None = None,
    criticality: str = "low",
    submission: str | None = None,
) -> AllergyView:
    def build(patient: Patient) -> AllergyIntolerance:
        allergy = AllergyIntolerance(
            patient=patient,
            criticality=check_choice("criticality", criticality, AllergyIntolerance.Criticality),
            recorded_at=clock.now(),
            recorded_by=_user(actor),
        )
        assign(
            allergy,
            {
                "substance": _text("substance", substance, max_length=200),
                "reaction": _text("reaction", reaction, required=False),
            },
        )
        return allergy

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.ALLERGIES,
        resource_type="AllergyIntolerance",
        build=build,
        view=allergy_view,
        submission=submission,
    )


@entry
def medication_request_create(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    medication: str,
    dosage: str | None = None,
    rxnorm: str | None = None,
    sensitivity: str = "",
    encounter_id: str | None = None,
    override_reason: str | None = None,
    submission: str | None = None,
) -> MedicationView:
    """Order a medication. It is checked against the patient's active
    allergies (`safety`): a match raises AllergyWarning (recorded as a read of
    the allergies) unless `override_reason` says why it is ordered anyway; the
    reason is kept with the order and the override is in its audit event.
    The order then waits for a pharmacist's verification."""
    reason = _text("override_reason", override_reason, required=False, max_length=500)
    matched: list[safety.AllergyMatch] = []

    def build(patient: Patient) -> MedicationRequest:
        request = MedicationRequest(
            patient=patient,
            encounter=_encounter_of(patient, encounter_id),
            sensitivity=_sensitivity(sensitivity),
            authored_at=clock.now(),
            requester=_user(actor),
            verification=MedicationRequest.Verification.PENDING,
        )
        assign(
            request,
            {
                "medication": _text("medication", medication),
                "dosage": _text("dosage", dosage, required=False),
                "rxnorm": validate_code("rxnorm", rxnorm) if rxnorm else None,
                "override_reason": reason if matched else None,
            },
        )
        return request

    def check(patient: Patient, facts: PatientFacts) -> None:
        name = _text("medication", medication) or ""
        code = validate_code("rxnorm", rxnorm) if rxnorm else None
        matched.extend(allergy_matches(patient, name, code))
        if matched and reason is None:
            # The warning names the patient (the prescriber must see whose
            # allergy it is) as far as a read of the chart would.
            read = _decide(
                actor=actor,
                session=session,
                purpose=purpose,
                patient=patient,
                facts=facts,
                action=Action.READ,
            )
            named = read.sections & {Section.DEMOGRAPHICS} if read.permitted else frozenset()
            record_isolated(
                action=AuditAction.READ,
                actor=actor,
                purpose=purpose,
                resource_type="AllergyCheck",
                patient=patient,
                fields=sorted({"allergy", *audit_fields(named)}),
                detail={"matches": len(matched)},
            )
            raise AllergyWarning(matched, patient=patient_view(patient, named))

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.MEDICATIONS,
        resource_type="MedicationRequest",
        build=build,
        view=medication_view,
        submission=submission,
        check=check,
        detail=lambda row: {"allergy_override": True} if row.override_reason else None,
    )


@entry
def observation_record(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    category: str,
    code: str,
    display: str,
    value: str,
    unit: str = "",
    effective_at: dt.datetime | None = None,
    sensitivity: str = "",
    encounter_id: str | None = None,
    confirmed: bool = False,
    submission: str | None = None,
) -> ObservationView:
    """A vital sign (care team) or a lab result (laboratory), LOINC-coded with
    a UCUM unit. An impossible value is refused; an implausible one needs
    `confirmed` (and its event says it was confirmed)."""
    implausible: list[bool] = []

    def build(patient: Patient) -> Observation:
        when = effective_at or clock.now()
        if when > clock.now() + dt.timedelta(minutes=5):
            raise InvalidInput({"effective_at": "The time cannot be in the future."})
        if not UCUM.match(unit or ""):
            raise InvalidInput({"unit": "Not a valid UCUM unit."})
        implausible.append(
            check_plausible(
                validate_code("loinc", code), unit or "", (value or "").strip(), confirmed=confirmed
            )
        )
        observation = Observation(
            patient=patient,
            encounter=_encounter_of(patient, encounter_id),
            category=check_choice("category", category, Observation.Category),
            status=Observation.Status.FINAL,
            unit=unit or "",
            effective_at=when,
            sensitivity=_sensitivity(sensitivity),
            recorded_by=_user(actor),
        )
        assign(
            observation,
            {
                "code": validate_code("loinc", code),
                "display": _text("display", display, max_length=200),
                "value": _text("value", value, max_length=200),
            },
        )
        return observation

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.RESULTS,
        resource_type="Observation",
        build=build,
        view=observation_view,
        submission=submission,
        detail=lambda row: {"implausible_confirmed": True} if any(implausible) else None,
    )


@entry
def order_create(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    code: str,
    display: str,
    sensitivity: str = "",
    encounter_id: str | None = None,
    submission: str | None = None,
    ordering_clinician_id: int | None = None,
) -> ObservationView:
    """A lab order: an observation in status `registered`, resulted later by
    the laboratory. A person's order is their own; an import (system actor)
    names the clinician who ordered (`ordering_clinician_id`), whom the result notifies."""

    def build(patient: Patient) -> Observation:
        order = Observation(
            patient=patient,
            encounter=_encounter_of(patient, encounter_id),
            category=Observation.Category.LABORATORY,
            status=Observation.Status.REGISTERED,
            effective_at=clock.now(),
            sensitivity=_sensitivity(sensitivity),
            recorded_by=_user(actor),
            ordered_by=_user(actor) if isinstance(actor, User) else _orderer(ordering_clinician_id),
        )
        assign(
            order,
            {"code": validate_code("loinc", code), "display": _text("display", display, max_length=200)},
        )
        return order

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.ORDERS,
        resource_type="Observation",
        build=build,
        view=observation_view,
        submission=submission,
    )


@entry
def encounter_start(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    kind: str,
    department_id: int,
    attending_id: int | None = None,
    reason: str | None = None,
    submission: str | None = None,
) -> EncounterView:
    """Admit / register an arrival (an ADT function: registration or nursing)."""

    def build(patient: Patient) -> Encounter:
        if not department_is_clinical(department_id=department_id):
            raise InvalidInput({"department": "Choose a clinical department."})
        attending = None
        if attending_id is not None:
            # Only a physician attends (a nurse or a clerk cannot be made attending).
            physicians = users_holding(permission=Perm.CLINICAL_MEDICATION_PRESCRIBE.value)
            attending = physicians.filter(pk=attending_id).first()
            if attending is None:
                raise InvalidInput({"attending": "The attending must be a physician."})
        if (
            kind == Encounter.Kind.INPATIENT
            and Encounter.objects.filter(
                patient=patient, kind=Encounter.Kind.INPATIENT, status__in=Encounter.ACTIVE_STATUSES
            ).exists()
        ):
            raise Conflict(ALREADY_ADMITTED)
        encounter = Encounter(
            patient=patient,
            kind=check_choice("kind", kind, Encounter.Kind),
            department_id=department_id,
            attending=attending,
            status=Encounter.Status.ARRIVED,
            started_at=clock.now(),
        )
        assign(encounter, {"reason": _text("reason", reason, required=False, max_length=500)})
        return encounter

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.ENCOUNTERS,
        resource_type="Encounter",
        build=build,
        view=encounter_view,
        submission=submission,
    )


@entry
def encounter_finish(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    encounter_id: str,
) -> EncounterView:
    """Discharge: the encounter ends now; an admission's bed is freed and its
    care team (attending, admitting nurse) leaves. The ADT desk, or a
    clinician caring for the patient (policy action DISCHARGE)."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.DISCHARGE,
        audit_action=AuditAction.UPDATE,
        section=Section.ENCOUNTERS,
        resource_type="Encounter",
    )
    with transaction.atomic():
        encounter = _encounter_of(patient, encounter_id)
        assert encounter is not None
        if encounter.status not in Encounter.ACTIVE_STATUSES:
            raise Conflict("This encounter is not active: it was already finished.")
        ended = clock.now()
        encounter.status = Encounter.Status.FINISHED
        encounter.ended_at = ended
        encounter.save(update_fields=["status", "ended_at", "ended_day_index"])
        ward_id = release_admission(encounter, at=ended)
        record(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="Encounter",
            resource_id=str(encounter.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["encounter.status"],
            detail={"admission": "discharge", "ward": ward_id} if ward_id else None,
        )
        view = encounter_view(
            Encounter.objects.select_related("department", "attending").get(pk=encounter.pk)
        )
        return dataclasses.replace(view, ward_id=ward_id)


@entry
def care_team_add(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    user_id: int,
    role: str,
    ends_at: dt.datetime | None = None,
    submission: str | None = None,
) -> CareTeamView:
    """Add a colleague to the care team (by someone already caring for the patient)."""

    def build(patient: Patient) -> CareTeamMembership:
        member = User.objects.filter(pk=user_id, is_active=True).first()
        if member is None:
            raise InvalidInput({"user": "No such colleague."})
        now = clock.now()
        if ends_at is not None and ends_at <= now:
            raise InvalidInput({"ends_at": "The end must be in the future."})
        return CareTeamMembership(
            patient=patient,
            user=member,
            role=_text("role", role, max_length=40) or "",
            starts_at=now,
            ends_at=ends_at,
        )

    def view(m: CareTeamMembership) -> CareTeamView:
        return CareTeamView(
            id=str(m.pk), user_id=m.user_id, name=m.user.get_full_name(), role=m.role, ends_at=m.ends_at
        )

    return _write(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        section=Section.CARE_TEAM,
        resource_type="CareTeamMembership",
        build=build,
        view=view,
        submission=submission,
    )


# --- documents -------------------------------------------------------------------------------------
DOCUMENT_AD_PREFIX = b"clinical.document|"


def _documents_path() -> Path:
    return Path(settings.VAR_DIR) / "clinical" / "documents"


def documents_dir() -> Path:
    path = _documents_path()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _document_ad(document_id: uuid.UUID) -> bytes:
    return DOCUMENT_AD_PREFIX + document_id.bytes


def document_files_store() -> FileStreamStore:
    """The encrypted document files, registered with the crypto app (clinical's
    AppConfig.ready) so key rotation moves them and retirement counts them."""
    return FileStreamStore(
        label="clinical.document files",
        directory=_documents_path,
        pattern="*.swf",
        associated_data=lambda path: _document_ad(uuid.UUID(path.stem)),
        stream_prefixes=(DOCUMENT_AD_PREFIX,),
        writers=(__name__,),
        phi_categories=(PhiCategory.CLINICAL,),
    )


@entry
def document_upload(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    title: str,
    content_type: str,
    source: IO[bytes],
    size: int,
    sensitivity: str = "",
    submission: str | None = None,
) -> DocumentView:
    """Store a file encrypted (safeward.crypto.streams) under VAR_DIR; the row
    and the file commit together (the file is removed if the row fails)."""
    if content_type not in DOCUMENT_TYPES:
        raise InvalidInput({"file": "Only PDF, PNG, JPEG and plain text files are accepted."})
    if size <= 0 or size > MAX_DOCUMENT_BYTES:
        raise InvalidInput({"file": "The file is empty or larger than 25 MiB."})
    written: list[Path] = []

    def build(patient: Patient) -> Document:
        document = Document(
            patient=patient,
            content_type=content_type,
            size=size,
            sensitivity=_sensitivity(sensitivity),
            created_at=clock.now(),
            author=_user(actor),
        )
        assign(document, {"title": _text("title", title, max_length=200)})
        target = documents_dir() / f"{document.pk}.swf"
        with target.open("xb") as handle:
            written.append(target)
            streams.encrypt_stream(source, handle, associated_data=_document_ad(document.pk))
        return document

    try:
        return _write(
            actor=actor,
            session=session,
            purpose=purpose,
            patient_id=patient_id,
            section=Section.DOCUMENTS,
            resource_type="Document",
            build=build,
            view=document_view,
            submission=submission,
        )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


@entry
def document_open(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    document_id: str,
) -> tuple[DocumentView, Iterator[bytes]]:
    """The document's metadata and its decrypted bytes (verified before any is returned)."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.DOWNLOAD,
        audit_action=AuditAction.READ,
        resource_type="Document",
    )
    did = parse_id(document_id)
    document = Document.objects.filter(pk=did, patient=patient).first()
    allowed = (
        document is not None
        and Section.DOCUMENTS in decision.sections
        and (decision.include_sensitive or not document.sensitivity)
    )
    if not allowed:
        raise NotFound
    assert document is not None
    with transaction.atomic():
        view = document_view(document)
        count_emergency_access(decision, facts)
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="Document",
            resource_id=str(document.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["document"],
        )
    # In memory (documents are at most 25 MiB): decrypted bytes never touch the disk.
    handle = io.BytesIO()
    with (documents_dir() / f"{document.pk}.swf").open("rb") as source:
        streams.decrypt_stream(source, handle, associated_data=_document_ad(document.pk))
    handle.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while block := handle.read(64 * 1024):
                yield block
        finally:
            handle.close()

    return view, chunks()
