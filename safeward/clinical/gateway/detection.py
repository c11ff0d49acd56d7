"""Facts the detection worker needs about chart accesses, in bulk.

For a batch of (user, patient, time) triples the worker asks once and gets,
per triple, booleans and relationship codes only: which care relationships
held at that time, the patient's flags (VIP, employee, deceased), and
whether the patient shares the user's surname or household or is the user.
No patient data leaves this module: surnames and addresses are decrypted
here, compared, and forgotten. One query per fact kind, whatever the batch
size (no N+1).

The comparison reads patient data on the system's behalf, so each call that
looked at any patient records one audit event (EXECUTE, purpose
HSYSADMIN, the number of patients; never which ones, never values)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical.gateway._core import ATTENDING_AFTER_DISCHARGE, ended_day_indexes, plain
from safeward.clinical.models import (
    Appointment,
    CareTeamMembership,
    ClinicalNote,
    Encounter,
    MedicationRequest,
    Observation,
    Patient,
)
from safeward.crypto.fields import compute_blind_indexes
from safeward.crypto.normalise import normalise_name
from safeward.identity.models import User
from safeward.identity.selectors import staff_departments
from safeward.one_door import entry

# How long handling an order, result, prescription or note explains later
# accesses to the same patient.
HANDLED_EXPLAINS = dt.timedelta(days=30)
# Encounter ends are encrypted: a batch spanning up to this many days narrows
# its encounters by the keyed day index of their end; a longer backlog reads
# every ended encounter of its patients and compares the decrypted times.
DAY_INDEX_SPAN = 62
ADDRESS_SCOPE = "detection.staff_address"

# Relationship codes returned (docs/detection.md).
CARE_TEAM = "care_team"
ATTENDING = "attending"
DEPARTMENT = "department"
APPOINTMENT = "appointment"
ORDER_RESULT = "order_result"
MEDICATION = "medication"
NOTE = "note"


@dataclass(frozen=True)
class AccessQuery:
    user_id: int
    patient_id: str
    at: dt.datetime


@dataclass(frozen=True)
class StaffKeys:
    """What identifies a staff member as a patient or a household (keyed hashes only)."""

    national_id_index: bytes | None = None
    address_index: bytes | None = None
    patient_id: str = ""


@dataclass
class AccessFacts:
    known: bool = False  # the patient exists
    relationships: set[str] = field(default_factory=set)
    vip: bool = False
    employee: bool = False
    deceased: bool = False
    confidential: bool = False
    same_surname: bool = False
    same_address: bool = False
    own_record: bool = False


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


@entry
def detection_patients_known(*, patient_ids: Iterable[str]) -> set[str]:
    """Which of these ids name an existing patient (for canary registration)."""
    ids = [pid for pid in (_uuid(v) for v in patient_ids) if pid is not None]
    return {str(pid) for pid in Patient.objects.filter(pk__in=ids).values_list("pk", flat=True)}


def _address_keys(address: object) -> frozenset[bytes]:
    """The address's keyed hash under every usable blind-index key: a staff
    member's stored key may predate a blind-index rotation."""
    if not isinstance(address, Mapping):
        return frozenset()
    lines = address.get("line") or []
    if isinstance(lines, str):
        lines = [lines]
    parts = [str(line) for line in lines if line] + [str(address.get("postal_code") or "")]
    text = " ".join(part for part in parts if part).strip()
    if not text:
        return frozenset()
    try:
        return frozenset(compute_blind_indexes(text, normaliser="name", scope=ADDRESS_SCOPE))
    except Exception:
        return frozenset()


def _surname(value: object) -> str:
    if not value:
        return ""
    try:
        return normalise_name(value)
    except Exception:
        return ""


def _active_at(started: dt.datetime, ended: dt.datetime | None, at: dt.datetime, grace: dt.timedelta) -> bool:
    return started <= at and (ended is None or at <= ended + grace)


@dataclass(frozen=True)
class _Flags:
    vip: bool
    employee: bool
    confidential: bool
    deceased: bool
    national_id_index: bytes | None


@entry
def detection_access_facts(
    *,
    queries: Sequence[AccessQuery],
    staff_keys: Mapping[int, StaffKeys] | None = None,
    compare_explained: bool = True,
) -> dict[AccessQuery, AccessFacts]:
    """Facts for every (user, patient, time): at most nine queries for the
    batch. Surnames and addresses are compared (decrypted) only for accesses
    no relationship explains, unless `compare_explained`."""
    staff_keys = staff_keys or {}
    result: dict[AccessQuery, AccessFacts] = {query: AccessFacts() for query in queries}
    parsed = {query: _uuid(query.patient_id) for query in queries}
    patient_ids = sorted({pid for pid in parsed.values() if pid is not None})
    user_ids = sorted({query.user_id for query in queries})
    if not patient_ids or not user_ids:
        return result
    latest = max(query.at for query in queries)
    earliest = min(query.at for query in queries)

    users = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "last_name"))
    surnames = {user_id: _surname(name) for user_id, name in users.items()}
    departments: dict[int, set[int]] = defaultdict(set)
    for user_id, department_id, _code in staff_departments(user_ids=user_ids):
        departments[user_id].add(department_id)
    all_departments = sorted({d for ids in departments.values() for d in ids})

    patients = {
        pid: _Flags(vip, employee, confidential, deceased, bytes(nid) if nid is not None else None)
        for pid, vip, employee, confidential, deceased, nid in Patient.objects.filter(
            pk__in=patient_ids
        ).values_list("id", "is_vip", "is_employee", "is_confidential", "deceased", "national_id_index")
    }

    care: dict[tuple[int, uuid.UUID], list[tuple[dt.datetime, dt.datetime | None]]] = defaultdict(list)
    for user_id, pid, starts, ends in CareTeamMembership.objects.filter(
        user_id__in=user_ids, patient_id__in=patient_ids, starts_at__lte=latest
    ).values_list("user_id", "patient_id", "starts_at", "ends_at"):
        care[(user_id, pid)].append((starts, ends))

    encounter_filter = Q(attending_id__in=user_ids)
    if all_departments:
        encounter_filter |= Q(department_id__in=all_departments)
    encounters: dict[uuid.UUID, list[tuple[int | None, int, str, dt.datetime, dt.datetime | None]]] = (
        defaultdict(list)
    )
    ended_since = earliest - ATTENDING_AFTER_DISCHARGE
    span = (timezone.localtime(latest).date() - timezone.localtime(ended_since).date()).days + 1
    recent = Q(ended_at__isnull=False)
    if span <= DAY_INDEX_SPAN:
        recent = Q(ended_day_index__in=ended_day_indexes(latest, span))
    for encounter in (
        Encounter.objects.filter(
            encounter_filter, patient_id__in=patient_ids, started_year__lte=latest.astimezone(dt.UTC).year
        )
        .exclude(status__in=[Encounter.Status.CANCELLED, Encounter.Status.PLANNED])
        .filter(Q(ended_at__isnull=True) | recent)
        .only("patient_id", "attending_id", "department_id", "status", "started_at", "ended_at")
    ):
        # The service times are decrypted here, compared and forgotten.
        started, ended = plain(encounter, "started_at"), plain(encounter, "ended_at")
        if started <= latest and (ended is None or ended >= ended_since):
            encounters[encounter.patient_id].append(
                (encounter.attending_id, encounter.department_id, encounter.status, started, ended)
            )

    appointment_filter = Q(clinician_id__in=user_ids)
    if all_departments:
        appointment_filter |= Q(department_id__in=all_departments)
    day_start = timezone.localtime(earliest).replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = timezone.localtime(latest).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(
        days=1
    )
    appointments: dict[uuid.UUID, list[tuple[int | None, int, dt.date]]] = defaultdict(list)
    for pid, clinician, department, starts in Appointment.objects.filter(
        appointment_filter,
        patient_id__in=patient_ids,
        starts_at__gte=day_start,
        starts_at__lt=day_end,
        status__in=[Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN],
    ).values_list("patient_id", "clinician_id", "department_id", "starts_at"):
        appointments[pid].append((clinician, department, timezone.localtime(starts).date()))

    handled: dict[tuple[int, uuid.UUID], dict[str, list[dt.datetime]]] = defaultdict(
        lambda: defaultdict(list)
    )
    since = earliest - HANDLED_EXPLAINS
    for code, model, user_field, time_field in (
        (ORDER_RESULT, Observation, "recorded_by_id", "effective_at"),
        (MEDICATION, MedicationRequest, "requester_id", "authored_at"),
        (NOTE, ClinicalNote, "author_id", "created_at"),
    ):
        # Rows a user wrote for a patient are few: their encrypted times are compared here.
        rows = (
            model.objects.filter(**{f"{user_field}__in": user_ids, "patient_id__in": patient_ids})
            .only(user_field, "patient_id", time_field)
            .order_by()
        )
        for row in rows:
            moment = plain(row, time_field)
            if moment >= since:
                handled[(getattr(row, user_field), row.patient_id)][code].append(moment)

    for query in queries:
        key = parsed[query]
        facts = result[query]
        found = patients.get(key) if key is not None else None
        if found is None or key is None:
            continue
        patient, pid = found, key
        facts.known = True
        facts.vip, facts.employee = patient.vip, patient.employee
        facts.deceased, facts.confidential = patient.deceased, patient.confidential
        at = query.at
        user_departments = departments.get(query.user_id, set())
        for starts, ends in care.get((query.user_id, pid), ()):
            if starts <= at and (ends is None or ends > at):
                facts.relationships.add(CARE_TEAM)
        for doctor, unit, _status, started, ended in encounters.get(pid, ()):
            if doctor == query.user_id and _active_at(started, ended, at, ATTENDING_AFTER_DISCHARGE):
                facts.relationships.add(ATTENDING)
            if unit in user_departments and _active_at(started, ended, at, dt.timedelta(0)):
                facts.relationships.add(DEPARTMENT)
        local_day = timezone.localtime(at).date()
        for booked_with, clinic, day in appointments.get(pid, ()):
            if day == local_day and (booked_with == query.user_id or clinic in user_departments):
                facts.relationships.add(APPOINTMENT)
        for code, moments in handled.get((query.user_id, pid), {}).items():
            if any(at - HANDLED_EXPLAINS <= moment <= at + dt.timedelta(minutes=5) for moment in moments):
                facts.relationships.add(code)
        keys = staff_keys.get(query.user_id)
        if keys is not None:
            facts.own_record = (keys.patient_id == str(pid)) or (
                keys.national_id_index is not None and patient.national_id_index == keys.national_id_index
            )
    _compare_households(result, parsed, surnames, staff_keys, compare_explained=compare_explained)
    return result


def _compare_households(
    result: dict[AccessQuery, AccessFacts],
    parsed: Mapping[AccessQuery, uuid.UUID | None],
    surnames: Mapping[int, str],
    staff_keys: Mapping[int, StaffKeys],
    *,
    compare_explained: bool,
) -> None:
    """Same surname / same address: decrypt the patients' surnames and
    addresses in here, compare, keep only the booleans. One query, one
    audit event (counts only) when any patient was looked at."""
    wanted = [
        query
        for query, facts in result.items()
        if facts.known
        and (compare_explained or not facts.relationships)
        and (surnames.get(query.user_id) or _has_address(staff_keys.get(query.user_id)))
    ]
    if not wanted:
        return
    ids = sorted({pid for query in wanted if (pid := parsed[query]) is not None})
    want_surname = any(surnames.get(query.user_id) for query in wanted)
    want_address = any(_has_address(staff_keys.get(query.user_id)) for query in wanted)
    fields = ["id", *(["family_name"] if want_surname else []), *(["address"] if want_address else [])]
    surname_of: dict[uuid.UUID, str] = {}
    home_of: dict[uuid.UUID, frozenset[bytes]] = {}
    for patient in Patient.objects.filter(pk__in=ids).only(*fields):
        if want_surname:
            surname_of[patient.pk] = _surname(plain(patient, "family_name"))
        if want_address:
            home_of[patient.pk] = _address_keys(plain(patient, "address"))
    for query in wanted:
        pid = parsed[query]
        if pid is None:
            continue
        facts = result[query]
        surname = surnames.get(query.user_id, "")
        facts.same_surname = bool(surname) and surname_of.get(pid) == surname
        keys = staff_keys.get(query.user_id)
        if keys is not None and keys.address_index is not None:
            facts.same_address = keys.address_index in home_of.get(pid, frozenset())
    with transaction.atomic():
        audit_record(
            action=Action.EXECUTE,
            actor_username="system:detection",
            resource_type="DetectionFacts",
            purpose=PurposeOfUse.SECURITY,
            detail={"patients": len(ids), "compared": "surname,address"},
            source="worker",
        )


def _has_address(keys: StaffKeys | None) -> bool:
    return keys is not None and keys.address_index is not None
