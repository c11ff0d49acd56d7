"""The visitor desk's view of an inpatient (issue 15, ADR 1111).

A visitor who comes to see a patient gives the patient's given and family
names; the desk (`facility:visitor:manage`, a role that reads no chart)
learns only what it needs to send them to the right bed: a short display
name (given name and family initial), the ward and the bed, whether the
visit needs the ward's say-so, and whether the privacy officer is told.

* Only current inpatients are found (a patient in a bed now), and only by
  both names, matched exactly: a name alone, a prefix or an outpatient
  gives nothing, so the desk cannot browse the census.
* A patient flagged **confidential** (restricted record) is found, but
  without ward or bed: the ward confirms the visit and an escort takes the
  visitor (`visiting_allowed` is False). VIP and confidential visits are
  `flagged` for the privacy officer.
* Deceased patients are never found.

Each call is one audit event: the lookup a SEARCH of `VisitorLookup`
indexing the patients shown (never the names typed); the sign-in a READ of
`PatientVisit` whose resource id is the visitor's id and which indexes the
patient, so the patient's accounting of disclosures lists the visit. A
refusal is a denied event, then `Forbidden`; a patient no longer in a bed
is `NotFound` (a denied event too)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import Actor, parse_id, plain, record, record_denied, subject_for
from safeward.clinical.models import BedOccupancy, Patient
from safeward.clinical.policy import WorkforceLevel
from safeward.clinical.types import Forbidden, InvalidInput, NotFound, SessionContext, VisitorPatient
from safeward.crypto.fields import blind_index_keys
from safeward.crypto.normalise import normalise
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.one_door import entry

MAX_MATCHES = 5
_NAME_LENGTH = 200
_SHORTEST = 3  # the blind prefix tokens' shortest prefix


def _permitted(actor: Actor, session: SessionContext) -> str:
    """'' when the desk may look, else the denial's reason."""
    subject = subject_for(actor)
    if not isinstance(actor, User) or not subject.has(Perm.FACILITY_VISITOR_MANAGE):
        return "permission"
    if subject.workforce in (WorkforceLevel.ENDED, WorkforceLevel.BLOCKED):
        return f"workforce_{subject.workforce}"
    if not session.reachable:
        return f"zone_{session.reachable_reason}"
    return ""


def _deny(actor: Actor, action: AuditAction, resource_type: str, resource_id: str, reason: str) -> None:
    record_denied(
        action=action,
        actor=actor,
        purpose=PurposeOfUse.OPERATIONS,
        resource_type=resource_type,
        resource_id=resource_id,
        patient=None,
        reason=reason,
    )


def _shown(patient: Patient, stay: BedOccupancy) -> VisitorPatient:
    given = plain(patient, "given_name") or ""
    family = plain(patient, "family_name") or ""
    confidential = patient.is_confidential
    return VisitorPatient(
        id=str(patient.pk),
        display_name=f"{given} {family[:1]}.".strip(),
        ward="" if confidential else stay.bed.ward.name,
        bed="" if confidential else stay.bed.label,
        visiting_allowed=not confidential,
        flagged=confidential or patient.is_vip,
    )


def _words(value: str) -> list[str]:
    try:
        text = normalise("name", value[:_NAME_LENGTH])
    except ValidationError:  # nothing but spaces or punctuation
        return []
    return [w for w in text.split(" ") if w]


@entry
def visitor_patient_lookup(
    *, actor: Actor, session: SessionContext, given_name: str, family_name: str
) -> list[VisitorPatient]:
    """Current inpatients whose given and family names are exactly these
    (at most `MAX_MATCHES`; more is an `InvalidInput` asking for the exact
    spelling, so a common name never lists a ward)."""
    reason = _permitted(actor, session)
    if reason:
        _deny(actor, AuditAction.SEARCH, "VisitorLookup", "", reason)
        raise Forbidden
    given, family = _words(given_name), _words(family_name)
    if not given or not family:
        raise InvalidInput({"name": "Type the patient's given name and family name in full."})
    given_field = Patient._meta.get_field("given_name_prefixes")
    family_field = Patient._meta.get_field("family_name_prefixes")
    query = Q()
    for key in blind_index_keys():  # two keys while a blind-index rotation runs
        under_key = Q()
        # Prefix tokens start at three letters: a shorter word ("Li") is left
        # to the exact check below, the other words still narrow.
        for word in (w for w in family if len(w) >= _SHORTEST):
            under_key &= Q(family_name_prefixes__contains=family_field.query_tokens(word, key=key)[0])
        for word in (w for w in given if len(w) >= _SHORTEST):
            under_key &= Q(given_name_prefixes__contains=given_field.query_tokens(word, key=key)[0])
        query |= under_key
    stays = {
        s.patient_id: s
        for s in BedOccupancy.objects.filter(
            current=True, patient__in=Patient.objects.filter(query)
        ).select_related("bed__ward")
    }
    found: list[VisitorPatient] = []
    for patient in Patient.objects.filter(pk__in=list(stays), deceased=False).order_by("id"):
        # Prefix tokens narrow; the decrypted names decide (exact, normalised).
        if _words(plain(patient, "given_name") or "") != given:
            continue
        if _words(plain(patient, "family_name") or "") != family:
            continue
        found.append(_shown(patient, stays[patient.pk]))
    if len(found) > MAX_MATCHES:
        _deny(actor, AuditAction.SEARCH, "VisitorLookup", "", "too_many_matches")
        raise InvalidInput({"name": "Too many patients by that name: ask the ward's nurse station."})
    with transaction.atomic():
        record(
            action=AuditAction.SEARCH,
            actor=actor,
            purpose=PurposeOfUse.OPERATIONS,
            resource_type="VisitorLookup",
            fields=["visitor_desk"] if found else (),
            detail={"results": len(found)},
            patient_ids=[p.id for p in found],
        )
    return found


@entry
def visitor_patient_visit(
    *, actor: Actor, session: SessionContext, patient_id: str | uuid.UUID, visitor_id: int
) -> VisitorPatient:
    """The patient a visitor is signed in to see, checked again at sign-in (still
    in a bed now). Call inside the sign-in's transaction: its READ event names
    the visitor (resource id) and indexes the patient."""
    reason = _permitted(actor, session)
    if reason:
        _deny(actor, AuditAction.READ, "PatientVisit", str(visitor_id), reason)
        raise Forbidden
    pid = parse_id(patient_id)
    stay = (
        BedOccupancy.objects.filter(patient_id=pid, current=True, patient__deceased=False)
        .select_related("bed__ward", "patient")
        .first()
    )
    if stay is None:
        _deny(actor, AuditAction.READ, "PatientVisit", str(visitor_id), "not_an_inpatient")
        raise NotFound
    shown = _shown(stay.patient, stay)
    record(
        action=AuditAction.READ,
        actor=actor,
        purpose=PurposeOfUse.OPERATIONS,
        resource_type="PatientVisit",
        resource_id=str(visitor_id),
        patient=stay.patient,
        fields=["visitor_desk"],
        detail={"flagged": shown.flagged, "visiting_allowed": shown.visiting_allowed},
    )
    return shown
