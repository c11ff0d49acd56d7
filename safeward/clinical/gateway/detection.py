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

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical.gateway._core import plain
from safeward.clinical.gateway._relationships import read_relationship_rows
from safeward.clinical.models import ClinicalNote, MedicationRequest, Observation, Patient
from safeward.clinical.policy import Relationship
from safeward.crypto.fields import compute_blind_indexes
from safeward.crypto.normalise import normalise_name
from safeward.identity.models import User
from safeward.one_door import entry

# How long handling an order, result, prescription or note explains later
# accesses to the same patient.
HANDLED_EXPLAINS = dt.timedelta(days=30)
ADDRESS_SCOPE = "detection.staff_address"

# Relationship codes returned (docs/detection.md).
CARE_TEAM = "care_team"
ATTENDING = "attending"
DEPARTMENT = "department"
APPOINTMENT = "appointment"
ORDER_RESULT = "order_result"
MEDICATION = "medication"
NOTE = "note"
# The code of each care relationship (`_relationships`, shared with the policy).
REASONS = {
    Relationship.CARE_TEAM: CARE_TEAM,
    Relationship.ATTENDING: ATTENDING,
    Relationship.DEPARTMENT: DEPARTMENT,
    Relationship.APPOINTMENT_TODAY: APPOINTMENT,
}


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
    """Facts for every (user, patient, time): at most six queries for the
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

    patients = {
        pid: _Flags(vip, employee, confidential, deceased, bytes(nid) if nid is not None else None)
        for pid, vip, employee, confidential, deceased, nid in Patient.objects.filter(
            pk__in=patient_ids
        ).values_list("id", "is_vip", "is_employee", "is_confidential", "deceased", "national_id_index")
    }
    # The care relationships: the same definition the access decision uses, at each access's time.
    related = read_relationship_rows(user_ids, patient_ids, earliest, latest)

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
        facts.relationships.update(REASONS[kind] for kind in related.at(query.user_id, pid, at))
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
