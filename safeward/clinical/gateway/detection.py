"""Facts the detection worker needs about chart accesses, in bulk.

For a batch of (user, patient, time) triples the worker asks once and gets,
per triple, booleans and relationship codes only: which care relationships
held at that time, the patient's flags (VIP, employee, deceased), and
whether the patient shares the user's surname or household or is the user.
No patient data leaves this module: surnames and addresses are decrypted
here, compared, and forgotten. The relationships are the gateway's own
(`_relationships`, one statement per 500 accesses); the flags and surnames
one query each, whatever the batch size (no N+1).

The comparison reads patient data on the system's behalf, so each call that
looked at any patient records one audit event (EXECUTE, purpose
HSYSADMIN, the number of patients; never which ones, never values)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical.gateway._core import plain
from safeward.clinical.gateway._relationships import RELATIONSHIP_KINDS, Probe, relationships
from safeward.clinical.models import Patient
from safeward.crypto.fields import compute_blind_index
from safeward.crypto.normalise import normalise_name
from safeward.identity.models import User
from safeward.one_door import entry

ADDRESS_SCOPE = "detection.staff_address"


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


def _address_key(address: object) -> bytes | None:
    if not isinstance(address, Mapping):
        return None
    lines = address.get("line") or []
    if isinstance(lines, str):
        lines = [lines]
    parts = [str(line) for line in lines if line] + [str(address.get("postal_code") or "")]
    text = " ".join(part for part in parts if part).strip()
    if not text:
        return None
    try:
        return compute_blind_index(text, normaliser="name", scope=ADDRESS_SCOPE)
    except Exception:
        return None


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
    """Facts for every (user, patient, time): the relationships as
    `_relationships` defines them (one statement per 500 accesses), the
    patients' flags, the users' surnames. Surnames and addresses are compared (decrypted) only for accesses
    no relationship explains, unless `compare_explained`."""
    staff_keys = staff_keys or {}
    result: dict[AccessQuery, AccessFacts] = {query: AccessFacts() for query in queries}
    parsed = {query: _uuid(query.patient_id) for query in queries}
    patient_ids = sorted({pid for pid in parsed.values() if pid is not None})
    user_ids = sorted({query.user_id for query in queries})
    if not patient_ids or not user_ids:
        return result

    users = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "last_name"))
    surnames = {user_id: _surname(name) for user_id, name in users.items()}
    patients = {
        pid: _Flags(vip, employee, confidential, deceased, bytes(nid) if nid is not None else None)
        for pid, vip, employee, confidential, deceased, nid in Patient.objects.filter(
            pk__in=patient_ids
        ).values_list("id", "is_vip", "is_employee", "is_confidential", "deceased", "national_id_index")
    }

    known = [(query, pid) for query, pid in parsed.items() if pid is not None and pid in patients]
    probes = [Probe(user_id=query.user_id, patient_id=pid, at=query.at) for query, pid in known]
    for (query, _pid), held in zip(known, relationships(probes, RELATIONSHIP_KINDS), strict=True):
        result[query].relationships = {kind.code for kind in held}

    for query, pid in known:
        patient = patients[pid]
        facts = result[query]
        facts.known = True
        facts.vip, facts.employee = patient.vip, patient.employee
        facts.deceased, facts.confidential = patient.deceased, patient.confidential
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
    home_of: dict[uuid.UUID, bytes | None] = {}
    for patient in Patient.objects.filter(pk__in=ids).only(*fields):
        if want_surname:
            surname_of[patient.pk] = _surname(plain(patient, "family_name"))
        if want_address:
            home_of[patient.pk] = _address_key(plain(patient, "address"))
    for query in wanted:
        pid = parsed[query]
        if pid is None:
            continue
        facts = result[query]
        surname = surnames.get(query.user_id, "")
        facts.same_surname = bool(surname) and surname_of.get(pid) == surname
        keys = staff_keys.get(query.user_id)
        if keys is not None and keys.address_index is not None:
            facts.same_address = home_of.get(pid) == keys.address_index
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
