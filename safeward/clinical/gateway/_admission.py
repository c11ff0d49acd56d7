"""Admission, transfer and discharge: wards and beds of clinical departments,
the bed a patient lies in, and a ward's census (issue 12).

Admitting and transferring are ADT work (`clinical:appointment:manage`,
administrative writes of the encounters section); the discharge is in
`_writes.encounter_finish` (policy action DISCHARGE: the ADT desk, or a
clinician caring for the patient). The attending physician and the admitting
nurse join the care team with the admission and leave it at discharge.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError as DatabaseIntegrityError
from django.db import transaction
from django.db.models import Count, Q

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import policy
from safeward.clinical.gateway._core import (
    Actor,
    PatientFacts,
    ResourceFacts,
    access_context,
    assign,
    audit_fields,
    facts_for,
    facts_from_rows,
    facts_statement,
    limit,
    parse_id,
    plain,
    record,
    record_denied,
    resource_facts,
    subject_for,
    use_submission,
    user_label,
)
from safeward.clinical.gateway._patients import list_patients, load_patient, patient_view
from safeward.clinical.models import Bed, BedOccupancy, CareTeamMembership, Encounter, Patient, Ward
from safeward.clinical.policy import Action, Decision, Section
from safeward.clinical.types import (
    AdmissionDesk,
    AdmissionView,
    BedChoice,
    BedSetup,
    CensusBed,
    CensusEntry,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatientView,
    SessionContext,
    SystemActor,
    WardCensus,
    WardView,
)
from safeward.crypto.keyring import opened_once
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import department_is_clinical, users_holding
from safeward.one_door import entry
from safeward.prepared import overlapped, prepared_cursor

ATTENDING_ROLE = "Attending physician"
NURSE_ROLE = "Admitting nurse"
ALREADY_ADMITTED = "This patient is already admitted: transfer or discharge the current admission."
BED_OCCUPIED = "That bed is occupied."
MAX_BEDS = 200


def _require(actor: Actor, perm: Perm, session: SessionContext, resource_type: str) -> None:
    """A list across patients needs its permission and a session that may reach patient data."""
    permitted = isinstance(actor, User) and subject_for(actor).has(perm)
    if permitted and session.reachable:
        return
    record_denied(
        action=AuditAction.READ,
        actor=actor,
        purpose=PurposeOfUse.OPERATIONS,
        resource_type=resource_type,
        resource_id="",
        patient=None,
        reason="permission" if not permitted else f"zone_{session.reachable_reason}",
    )
    raise Forbidden


def _ward_views(wards: list[Ward]) -> list[WardView]:
    counts = {
        row["pk"]: (row["beds_total"], row["beds_taken"])
        for row in Ward.objects.filter(pk__in=[w.pk for w in wards])
        .annotate(
            beds_total=Count("beds", distinct=True),
            beds_taken=Count("beds__stays", filter=Q(beds__stays__current=True), distinct=True),
        )
        .values("pk", "beds_total", "beds_taken")
    }
    return [
        WardView(
            id=str(w.pk),
            code=w.code,
            name=w.name,
            department=w.department.name,
            department_id=w.department_id,
            beds=counts[w.pk][0],
            occupied=counts[w.pk][1],
        )
        for w in wards
    ]


@entry
def wards_list(*, department_id: int | None = None) -> list[WardView]:
    """Every ward (or a department's), with its beds and how many are taken. No PHI."""
    wards = Ward.objects.select_related("department").order_by("name")
    if department_id is not None:
        wards = wards.filter(department_id=department_id)
    return _ward_views(list(wards))


@entry
def beds_free() -> list[BedChoice]:
    """The beds no one lies in, ward by ward, for the admission and transfer pickers. No PHI."""
    beds = Bed.objects.select_related("ward").exclude(stays__current=True).order_by("ward__name", "label")
    return [BedChoice(id=str(b.pk), label=f"{b.ward.name} · {b.label}", ward_id=str(b.ward_id)) for b in beds]


def _may_manage_wards(actor: Actor) -> bool:
    """The operators' CLI and the demo seed (system actors), or a person
    holding facility:ward:manage (the IT administrator's wards page)."""
    return isinstance(actor, SystemActor) or (
        isinstance(actor, User) and actor.has_perm(Perm.FACILITY_WARD_MANAGE)
    )


def _refuse_ward_change(actor: Actor, action: AuditAction, ward_id: str) -> None:
    record_denied(
        action=action,
        actor=actor,
        purpose=PurposeOfUse.OPERATIONS,
        resource_type="Ward",
        resource_id=ward_id,
        patient=None,
        reason="permission",
    )
    raise Forbidden


def _clean_labels(beds: list[str], field: str = "beds") -> list[str]:
    labels = list(dict.fromkeys(label.strip() for label in beds if label.strip()))
    if len(labels) > MAX_BEDS or any(len(label) > 16 for label in labels):
        raise InvalidInput({field: f"Give at most {MAX_BEDS} bed labels of at most 16 characters each."})
    return labels


def _clean_ward_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput({"name": "Give the ward's name (up to 120 characters)."})
    return name


@entry
def ward_create(
    *, actor: Actor, department_id: int, code: str, name: str, beds: list[str], new: bool = False
) -> WardView:
    """A ward of a clinical department with its beds. The CLI and the demo
    seed add beds to an existing ward of the same code; with `new` (the
    wards page) an existing code is refused instead. At most MAX_BEDS beds."""
    if not _may_manage_wards(actor):
        _refuse_ward_change(actor, AuditAction.CREATE, "")
    if not department_is_clinical(department_id=department_id):
        raise InvalidInput({"department": "Wards belong to clinical departments only."})
    labels = _clean_labels(beds)
    if not labels:
        raise InvalidInput({"beds": f"Give 1 to {MAX_BEDS} bed labels of at most 16 characters."})
    code, name = code.strip(), name.strip()
    if not code or len(code) > 32 or not name or len(name) > 120:
        raise InvalidInput({"code": "Give a code (up to 32 characters) and a name (up to 120)."})
    with transaction.atomic():
        ward, created = Ward.objects.get_or_create(
            code=code, defaults={"department_id": department_id, "name": name}
        )
        if new and not created:
            raise Conflict(f"A ward with the code {code} exists already: edit it instead.")
        if ward.department_id != department_id:
            raise Conflict("A ward with this code belongs to another department.")
        existing = set(Bed.objects.filter(ward=ward).values_list("label", flat=True))
        added = [Bed(ward=ward, label=label) for label in labels if label not in existing]
        if len(existing) + len(added) > MAX_BEDS:
            raise InvalidInput({"beds": f"A ward has at most {MAX_BEDS} beds."})
        Bed.objects.bulk_create(added)
        if created or added:
            record(
                action=AuditAction.CREATE,
                actor=actor,
                purpose=PurposeOfUse.OPERATIONS,
                resource_type="Ward",
                resource_id=str(ward.pk),
                detail={
                    "ward": ward.code,
                    "created": created,
                    "beds_added": len(added),
                    "name": ward.name,
                    "department": department_id,
                    "beds": len(existing) + len(added),
                },
            )
    return _ward_views([Ward.objects.select_related("department").get(pk=ward.pk)])[0]


@entry
def ward_beds(*, ward_id: str | uuid.UUID) -> list[BedSetup]:
    """A ward's beds for its settings page: taken now, and whether a patient
    ever lay in it (such a bed stays, for the record). No PHI."""
    wid = parse_id(ward_id)
    if not Ward.objects.filter(pk=wid).exists():
        raise NotFound
    beds = (
        Bed.objects.filter(ward_id=wid)
        .annotate(
            taken=Count("stays", filter=Q(stays__current=True)),
            stays_total=Count("stays"),
        )
        .order_by("label")
    )
    return [BedSetup(id=str(b.pk), label=b.label, occupied=b.taken > 0, used=b.stays_total > 0) for b in beds]


@entry
def ward_update(
    *,
    actor: Actor,
    ward_id: str | uuid.UUID,
    name: str,
    add_beds: list[str],
    remove_beds: list[str],
) -> WardView:
    """Rename a ward, add beds, remove beds no patient ever lay in. All or
    nothing; one UPDATE event with the name before and after and the beds
    added and removed. At least one bed stays, at most MAX_BEDS."""
    wid = parse_id(ward_id)
    if not _may_manage_wards(actor):
        _refuse_ward_change(actor, AuditAction.UPDATE, str(wid))
    name = _clean_ward_name(name)
    labels = _clean_labels(add_beds, "add_beds")
    removing = {parse_id(raw) for raw in remove_beds}
    with transaction.atomic():
        try:
            ward = Ward.objects.select_for_update().get(pk=wid)
        except Ward.DoesNotExist:
            raise NotFound from None
        beds = {
            b.pk: b
            for b in Bed.objects.filter(ward=ward).annotate(
                taken=Count("stays", filter=Q(stays__current=True)), stays_total=Count("stays")
            )
        }
        if not removing <= set(beds):
            raise InvalidInput({"remove_beds": "Remove only beds of this ward."})
        kept = {b.label for pk, b in beds.items() if pk not in removing}
        clash = sorted(label for label in labels if label in kept)
        if clash:
            raise InvalidInput({"add_beds": f"The ward has bed {', '.join(clash)} already."})
        if len(kept) + len(labels) > MAX_BEDS:
            raise InvalidInput({"add_beds": f"A ward has at most {MAX_BEDS} beds."})
        if not kept and not labels:
            raise InvalidInput({"remove_beds": "A ward keeps at least one bed."})
        for pk in removing:
            if beds[pk].taken:
                raise Conflict(f"Bed {beds[pk].label} is taken: transfer or discharge the patient first.")
            if beds[pk].stays_total:
                raise Conflict(f"Bed {beds[pk].label} has had patients; it stays, for the record.")
        before: dict[str, str | int] = {"name": ward.name, "beds": len(beds)}
        removed = sorted(beds[pk].label for pk in removing)
        if removing:
            Bed.objects.filter(pk__in=removing).delete()
        Bed.objects.bulk_create([Bed(ward=ward, label=label) for label in labels])
        if name != ward.name:
            ward.name = name
            ward.save(update_fields=["name"])
        after: dict[str, str | int] = {"name": ward.name, "beds": len(kept) + len(labels)}
        if before != after or removed or labels:
            record(
                action=AuditAction.UPDATE,
                actor=actor,
                purpose=PurposeOfUse.OPERATIONS,
                resource_type="Ward",
                resource_id=str(ward.pk),
                detail={
                    "ward": ward.code,
                    "name_before": before["name"],
                    "name_after": after["name"],
                    "beds_before": before["beds"],
                    "beds_after": after["beds"],
                    "beds_added": labels,
                    "beds_removed": removed,
                },
            )
    return _ward_views([Ward.objects.select_related("department").get(pk=ward.pk)])[0]


# --- the census ------------------------------------------------------------------------------------
@dataclass
class Shown:
    """A patient as a list row shows them. `view` decrypts on first use, so
    that a list decides every row, sends its event, and decrypts while the
    server writes it (`prepared.overlapped()`, ADR 0592)."""

    patient: Patient
    search: Decision  # what a search result discloses: a row's demographics
    read: Decision  # what opening the record would disclose (not an emergency access)

    @property
    def restricted(self) -> bool:
        return not self.search.permitted

    @property
    def encounters(self) -> bool:
        return self.read.allows(Section.ENCOUNTERS)

    @functools.cached_property
    def view(self) -> PatientView:
        if self.restricted:
            return PatientView(id=str(self.patient.pk), sections=frozenset(), restricted=True)
        return patient_view(self.patient, self.search.sections)


@contextmanager
def list_event(
    *,
    actor: Actor,
    purpose: PurposeOfUse,
    shown: dict[uuid.UUID, Shown],
    resource_type: str,
    resource_id: str,
    sections: Iterable[Section],
    detail: dict[str, Any],
) -> Iterator[None]:
    """A list's only write: one READ event naming the patients its rows
    disclose, with its index rows, a transaction of its own. The server
    writes it while the block decrypts and builds the rows (ADR 0592), and
    the block ends only once it is committed."""
    disclosed = [str(pid) for pid, who in shown.items() if not who.restricted]
    with overlapped():
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id=resource_id,
            fields=audit_fields(sections) if disclosed else (),
            detail=detail,
            patient_ids=disclosed,
        )
        yield


def listed_patients(
    actor: Actor, session: SessionContext, purpose: PurposeOfUse, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Shown]:
    """The patients of a list's rows, each read once (a patient on the care
    team, in a bed and in today's clinic is one row), as the rows show them.
    PostgreSQL: the facts statement is sent, then the patients' query, and
    both answers come back in one round trip (ADR 0592)."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    now = clock.now()
    with overlapped(), prepared_cursor() as cursor:
        cursor.execute(*facts_statement(actor, unique, now))
        patients = list_patients(unique)
        rows = cursor.fetchall()
    return shown_patients(actor, session, purpose, patients, facts_from_rows(actor, unique, rows, now))


def shown_patients(
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patients: dict[uuid.UUID, Patient],
    facts: dict[uuid.UUID, PatientFacts] | None = None,
) -> dict[uuid.UUID, Shown]:
    """Each patient as a list row discloses them: the demographics a search
    result shows (restricted when the policy says no), and whether a read
    would disclose encounters. One facts query for all of them (unless the
    caller read the `facts`); nothing is decrypted until a row's `view` is read."""
    if facts is None:
        facts = facts_for(actor, list(patients))
    subject = subject_for(actor)
    context = access_context(session, purpose)
    # The policy is a pure function of subject, resource, action and context,
    # and a read's or a search's decision never looks at which patient it is,
    # only at the facts about them (tests/clinical/test_policy_table.py): the
    # rows of a list whose facts agree share one evaluation. The session's
    # patient limit is still applied to each patient.
    decided: dict[tuple[ResourceFacts, Action], Decision] = {}
    limited = session.patient_limit is not None or session.section_limit is not None

    def decide(pid: uuid.UUID, seen: ResourceFacts, action: Action) -> Decision:
        key = (seen, action)
        decision = decided.get(key)
        if decision is None:
            resource = policy.Resource(str(pid), *seen)
            decision = decided[key] = policy.decide(subject, resource, action, context)
        return limit(decision, session, str(pid)) if limited else decision

    shown: dict[uuid.UUID, Shown] = {}
    for pid, patient in patients.items():
        seen = resource_facts(patient, facts[pid])
        search = decide(pid, seen, Action.SEARCH)
        if not search.permitted:
            shown[pid] = Shown(patient, search, policy.deny(search.reason))
            continue
        read = decide(pid, seen, Action.READ)
        # A list is no emergency: break-glass access is used by opening the chart.
        shown[pid] = Shown(patient, search, policy.deny("list") if read.emergency else read)
    return shown


def _census_rows(
    actor: Actor,
    purpose: PurposeOfUse,
    ward: Ward,
    beds: list[Bed],
    stays: dict[uuid.UUID, BedOccupancy],
    shown: dict[uuid.UUID, Shown],
) -> list[CensusBed]:
    """The census's beds as rows, inside the list's one READ event."""
    with list_event(
        actor=actor,
        purpose=purpose,
        shown=shown,
        resource_type="WardCensus",
        resource_id=str(ward.pk),
        sections=[Section.DEMOGRAPHICS, Section.ENCOUNTERS],
        detail={"beds": len(beds), "occupied": len(stays)},
    ):
        rows: list[CensusBed] = []
        for bed in beds:
            stay = stays.get(bed.pk)
            occupant = None
            if stay is not None:
                who = shown[stay.patient_id]
                occupant = CensusEntry(
                    patient=who.view,
                    encounter_id=str(stay.encounter_id) if who.encounters else None,
                    attending=user_label(stay.encounter.attending) if who.encounters else "",
                    admitted_at=plain(stay.encounter, "started_at") if who.encounters else None,
                )
            rows.append(CensusBed(id=str(bed.pk), label=bed.label, occupant=occupant))
    return rows


@entry
def ward_census(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, ward_id: str | uuid.UUID
) -> WardCensus:
    """Every bed of a ward with the patient in it. Names as a search result
    shows them; the attending and the admission time only to those who may
    read the encounter. One READ event names the patients shown."""
    _require(actor, Perm.CLINICAL_CENSUS_READ, session, "WardCensus")
    wid = parse_id(ward_id)
    ward = Ward.objects.select_related("department").filter(pk=wid).first()
    if ward is None:
        raise NotFound
    beds = list(Bed.objects.filter(ward=ward).order_by("label"))
    stays = {
        s.bed_id: s
        for s in BedOccupancy.objects.filter(bed__ward=ward, current=True).select_related(
            "encounter", "encounter__attending"
        )
    }
    # The facts decrypt each encounter's start to relate the reader; its row shows it again.
    with opened_once():
        shown = listed_patients(actor, session, purpose, (s.patient_id for s in stays.values()))
        rows = _census_rows(actor, purpose, ward, beds, stays, shown)
    view = WardView(
        id=str(ward.pk),
        code=ward.code,
        name=ward.name,
        department=ward.department.name,
        department_id=ward.department_id,
        beds=len(beds),
        occupied=len(stays),
    )
    return WardCensus(ward=view, beds=rows)


# --- admission and transfer ------------------------------------------------------------------------
def _admission_view(stay: BedOccupancy) -> AdmissionView:
    nurse = (
        CareTeamMembership.objects.filter(admission_id=stay.encounter_id, role=NURSE_ROLE)
        .select_related("user")
        .first()
    )
    return AdmissionView(
        encounter_id=str(stay.encounter_id),
        patient_id=str(stay.patient_id),
        ward_id=str(stay.bed.ward_id),
        ward=stay.bed.ward.name,
        bed_id=str(stay.bed_id),
        bed=stay.bed.label,
        department=stay.bed.ward.department.name,
        attending=user_label(stay.encounter.attending),
        nurse=user_label(nurse.user) if nurse is not None else "",
    )


def _current_stay(patient_id: uuid.UUID) -> BedOccupancy | None:
    return (
        BedOccupancy.objects.filter(patient_id=patient_id, current=True)
        .select_related("bed__ward__department", "encounter__attending")
        .first()
    )


def _admission_read(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    with_patient: bool,
) -> tuple[PatientView | None, AdmissionView | None]:
    subject = subject_for(actor)
    allowed = subject.has(Perm.CLINICAL_APPOINTMENT_MANAGE) or subject.has(Perm.CLINICAL_CENSUS_READ)
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.SEARCH if allowed else Action.READ,
        audit_action=AuditAction.READ,
        resource_type="Admission",
    )
    if not allowed:
        record_denied(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="Admission",
            resource_id=str(patient.pk),
            patient=patient,
            reason="permission",
        )
        raise NotFound
    stay = _current_stay(patient.pk)
    who = patient_view(patient, decision.sections & {Section.DEMOGRAPHICS}) if with_patient else None
    with transaction.atomic():
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type="Admission",
            resource_id=str(stay.encounter_id) if stay is not None else "",
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["admission", *(audit_fields(who.sections) if who is not None else [])],
        )
    return who, (_admission_view(stay) if stay is not None else None)


@entry
def admission_current(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, patient_id: str | uuid.UUID
) -> AdmissionView | None:
    """Where the patient lies now, or None: the ADT desk checks it before
    admitting. Audited as a READ of the admission."""
    _, current = _admission_read(
        actor=actor, session=session, purpose=purpose, patient_id=patient_id, with_patient=False
    )
    return current


@entry
def admission_desk(
    *, actor: Actor, session: SessionContext, purpose: PurposeOfUse, patient_id: str | uuid.UUID
) -> AdmissionDesk:
    """The admission page: who the patient is (name, MRN and birth date, so
    the desk admits the right person) and where they lie now. One READ event
    naming the admission and the demographics shown."""
    who, current = _admission_read(
        actor=actor, session=session, purpose=purpose, patient_id=patient_id, with_patient=True
    )
    assert who is not None
    return AdmissionDesk(patient=who, current=current)


def _clinician(user_id: int | None, perm: Perm, field: str, message: str) -> User | None:
    if user_id is None:
        return None
    if not users_holding(permission=perm.value).filter(pk=user_id).exists():
        raise InvalidInput({field: message})
    return User.objects.get(pk=user_id)


def _bed(bed_id: str | uuid.UUID) -> Bed:
    try:
        bid = parse_id(bed_id)
    except NotFound:
        raise InvalidInput({"bed": "No such bed."}) from None
    bed = (
        Bed.objects.select_related("ward__department").select_for_update(of=("self",)).filter(pk=bid).first()
    )
    if bed is None:
        raise InvalidInput({"bed": "No such bed."})
    return bed


def _occupy(encounter: Encounter, patient: Patient, bed: Bed, sequence: int) -> BedOccupancy:
    try:
        with transaction.atomic():
            return BedOccupancy.objects.create(
                encounter=encounter, patient=patient, bed=bed, sequence=sequence
            )
    except DatabaseIntegrityError:
        # The two constraints: the bed is taken, or the patient lies elsewhere.
        if BedOccupancy.objects.filter(bed=bed, current=True).exists():
            raise Conflict(BED_OCCUPIED) from None
        raise Conflict(ALREADY_ADMITTED) from None


@entry
def admission_admit(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    bed_id: str | uuid.UUID,
    attending_id: int,
    nurse_id: int | None = None,
    reason: str | None = None,
    submission: str | None = None,
) -> AdmissionView:
    """Admit to a bed: an inpatient encounter in the ward's department, the
    bed taken, the attending physician and the admitting nurse on the care
    team. Refused (Conflict) when the patient is already admitted or the bed
    is taken. `nurse_id` None: the admitting person, if a nurse."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.CREATE,
        audit_action=AuditAction.CREATE,
        section=Section.ENCOUNTERS,
        resource_type="Encounter",
    )
    attending = _clinician(
        attending_id, Perm.CLINICAL_MEDICATION_PRESCRIBE, "attending", "The attending must be a physician."
    )
    if nurse_id is None and isinstance(actor, User) and _is_nurse(actor):
        nurse_id = actor.pk
    nurse = _clinician(nurse_id, Perm.CLINICAL_CHART_WRITE, "nurse", "The admitting nurse must be a nurse.")
    text = (reason or "").strip() or None
    now = clock.now()
    with transaction.atomic():
        use_submission(submission)
        # The patient row is the lock two admissions of one patient meet on.
        Patient.objects.select_for_update(of=("self",)).filter(pk=patient.pk).values_list("pk").first()
        if Encounter.objects.filter(
            patient=patient, kind=Encounter.Kind.INPATIENT, status__in=Encounter.ACTIVE_STATUSES
        ).exists():
            raise Conflict(ALREADY_ADMITTED)
        bed = _bed(bed_id)
        if not bed.ward.department.clinical:
            raise InvalidInput({"bed": "This ward's department is not a clinical department."})
        encounter = Encounter(
            patient=patient,
            kind=Encounter.Kind.INPATIENT,
            department=bed.ward.department,
            attending=attending,
            status=Encounter.Status.IN_PROGRESS,
            started_at=now,
        )
        assign(encounter, {"reason": text})
        if text is not None and len(text) > 500:
            raise InvalidInput({"reason": "Too long."})
        encounter.save()
        stay = _occupy(encounter, patient, bed, 1)
        team = [(attending, ATTENDING_ROLE), (nurse, NURSE_ROLE)]
        CareTeamMembership.objects.bulk_create(
            CareTeamMembership(patient=patient, user=user, role=role, starts_at=now, admission=encounter)
            for user, role in team
            if user is not None
        )
        record(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=purpose,
            resource_type="Encounter",
            resource_id=str(encounter.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["admission", *audit_fields([Section.ENCOUNTERS, Section.CARE_TEAM])],
            detail={
                "admission": "admit",
                "ward": str(bed.ward_id),
                "bed": str(bed.pk),
                "care_team_added": [u.pk for u, _ in team if u is not None],
            },
        )
        return _admission_view(
            BedOccupancy.objects.select_related("bed__ward__department", "encounter__attending").get(
                pk=stay.pk
            )
        )


def _is_nurse(user: User) -> bool:
    subject = subject_for(user)
    return subject.has(Perm.CLINICAL_CHART_WRITE) and not subject.has(Perm.CLINICAL_MEDICATION_PRESCRIBE)


@entry
def admission_transfer(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    patient_id: str | uuid.UUID,
    bed_id: str | uuid.UUID,
    submission: str | None = None,
) -> AdmissionView:
    """Move an admitted patient to another free bed (on another ward, the
    encounter moves to that ward's department). Conflict when the patient is
    not admitted or the bed is taken."""
    patient, decision, facts = load_patient(
        actor=actor,
        session=session,
        purpose=purpose,
        patient_id=patient_id,
        action=Action.UPDATE,
        audit_action=AuditAction.UPDATE,
        section=Section.ENCOUNTERS,
        resource_type="Encounter",
    )
    with transaction.atomic():
        use_submission(submission)
        stay = (
            BedOccupancy.objects.select_for_update(of=("self",)).filter(patient=patient, current=True).first()
        )
        if stay is None:
            raise Conflict("This patient is not admitted.")
        bed = _bed(bed_id)
        if bed.pk == stay.bed_id:
            raise InvalidInput({"bed": "The patient already lies in this bed."})
        if not bed.ward.department.clinical:
            raise InvalidInput({"bed": "This ward's department is not a clinical department."})
        from_bed = stay.bed_id
        stay.current = False
        stay.save(update_fields=["current"])
        encounter = Encounter.objects.get(pk=stay.encounter_id)
        moved = _occupy(encounter, patient, bed, stay.sequence + 1)
        if encounter.department_id != bed.ward.department_id:
            encounter.department = bed.ward.department
            encounter.save(update_fields=["department"])
        record(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=purpose,
            resource_type="Encounter",
            resource_id=str(encounter.pk),
            patient=patient,
            decision=decision,
            facts=facts,
            fields=["admission"],
            detail={"admission": "transfer", "from_bed": str(from_bed), "bed": str(bed.pk)},
        )
        return _admission_view(
            BedOccupancy.objects.select_related("bed__ward__department", "encounter__attending").get(
                pk=moved.pk
            )
        )


def release_admission(encounter: Encounter, *, at: dt.datetime) -> str | None:
    """At discharge: the bed is free and the admission's care team leaves.
    Returns the ward the patient left (None: the encounter had no bed)."""
    stay = BedOccupancy.objects.filter(encounter=encounter, current=True).select_related("bed").first()
    BedOccupancy.objects.filter(encounter=encounter, current=True).update(current=False)
    CareTeamMembership.objects.filter(admission=encounter).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=at)
    ).update(ends_at=at)
    return str(stay.bed.ward_id) if stay is not None else None


@entry
def admission_clinicians() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(physicians, nurses) for the admission form: the attending must be a
    physician (prescribes), the admitting nurse charts but does not prescribe. No PHI."""
    physicians = users_holding(permission=Perm.CLINICAL_MEDICATION_PRESCRIBE.value)
    nurses = users_holding(permission=Perm.CLINICAL_CHART_WRITE.value).exclude(pk__in=physicians.values("pk"))
    order = ("last_name", "first_name")
    return (
        [(u.pk, user_label(u)) for u in physicians.order_by(*order)],
        [(u.pk, user_label(u)) for u in nurses.order_by(*order)],
    )
