"""PHI discovery: which of our patients a stray file holds (issue 13, ADR 0810).

The scanner sends keyed hashes (blind indexes) of the identifiers it found
in a file, never the values; this door looks them up in the patient index
in batches and returns patient ids only. A patient counts as held when the
file has their MRN or national id, their family name beside their birth
date on one line (the pair registration treats as a possible duplicate,
ADR 0813), or their phone number together with their birth date (a birth
date alone is shared by too many people to name anyone, so it is only
checked against the rows the other identifiers found).

Each call that looked is one audit event (SEARCH, purpose HSYSADMIN,
resource `PhiDiscovery` and the scan's reference, never the file's path or
values) that indexes every matched patient, so their accounting of
disclosures shows that their record was found in a file."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping

from django.db import transaction

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import Outcome, PurposeOfUse
from safeward.clinical.gateway._core import Actor, subject_for
from safeward.clinical.models import Patient
from safeward.clinical.types import (
    PATIENT_DISCOVERY_INDEXES,
    DiscoveryMatch,
    Forbidden,
    InvalidInput,
    SessionContext,
    SystemActor,
)
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.one_door import entry

_CHUNK = 500
_STRONG = ("mrn", "national_id", "name_dob")
_MAX_PROBES = 5_000_000
_REF_LENGTH = 120


def _record(
    actor: Actor, scan_ref: str, outcome: Outcome, detail: dict[str, object], patient_ids: list[str]
) -> None:
    audit_record(
        action=AuditAction.SEARCH,
        outcome=outcome,
        actor=actor if isinstance(actor, User) else None,
        actor_username=f"system:{actor.name}" if isinstance(actor, SystemActor) else "",
        resource_type="PhiDiscovery",
        resource_id=scan_ref,
        purpose=PurposeOfUse.SECURITY,
        reason="" if outcome == Outcome.SUCCESS else "not_permitted",
        detail=detail,
        patient_ids=patient_ids,
    )


@entry
def discovery_match(
    *, actor: Actor, session: SessionContext, scan_ref: str, probes: Mapping[str, Collection[bytes]]
) -> DiscoveryMatch:
    """The patients whose blind indexes are among `probes` ({kind: keyed hashes},
    kinds of `PATIENT_DISCOVERY_INDEXES`). Users need `assets:discovery:run`;
    the scheduled and command-line scans run as a `SystemActor`."""
    if not isinstance(actor, SystemActor) and not subject_for(actor).has(Perm.ASSETS_DISCOVERY_RUN):
        with transaction.atomic():
            _record(actor, scan_ref[:_REF_LENGTH], Outcome.DENIED, {}, [])
        raise Forbidden
    unknown = set(probes) - set(PATIENT_DISCOVERY_INDEXES)
    if unknown:
        raise InvalidInput({"probes": f"Unknown identifier kinds: {', '.join(sorted(unknown))}."})
    if not scan_ref or len(scan_ref) > _REF_LENGTH:
        raise InvalidInput({"scan_ref": f"Give a reference of 1 to {_REF_LENGTH} characters."})
    if sum(len(values) for values in probes.values()) > _MAX_PROBES:
        raise InvalidInput({"probes": f"At most {_MAX_PROBES:,} keyed values in one call."})
    births = {bytes(value) for value in probes.get("birth_date", ())}
    matched_by: dict[uuid.UUID, set[str]] = defaultdict(set)
    with transaction.atomic():
        for kind in ("mrn", "national_id", "phone", "name_dob"):
            values = sorted({bytes(value) for value in probes.get(kind, ())})
            column = f"{kind}_index"
            for start in range(0, len(values), _CHUNK):
                rows = Patient.objects.filter(**{f"{column}__in": values[start : start + _CHUNK]})
                for patient_id, birth_index in rows.values_list("id", "birth_date_index"):
                    matched_by[patient_id].add(kind)
                    if birth_index is not None and bytes(birth_index) in births:
                        matched_by[patient_id].add("birth_date")
        held_by = {
            str(pid): kinds
            for pid, kinds in matched_by.items()
            if kinds & set(_STRONG) or {"phone", "birth_date"} <= kinds
        }
        held = sorted(held_by)
        by_kind = Counter(kind for kinds in held_by.values() for kind in kinds)
        _record(
            actor,
            scan_ref,
            Outcome.SUCCESS,
            {
                **{f"probes_{kind}": len(values) for kind, values in probes.items()},
                "patients_matched": len(held),
            },
            held,
        )
    return DiscoveryMatch(patient_ids=frozenset(held), by_kind=dict(by_kind))
