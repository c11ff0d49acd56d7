"""Bulk writes for scale data (`safeward demo scale`): many patients with a
small chart each, by a system actor, in one transaction per batch.

Rows are built exactly as the one-patient paths build them (`build_patient`,
`assign`, the same encrypted and blind-indexed fields, computed at save time
by the fields themselves), then written with `bulk_create`. Each batch writes
ONE audit event carrying counts only, never values or ids of patients: a
benchmark batch of thousands of synthetic patients is one administrative
act, not thousands of disclosures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError as DatabaseIntegrityError
from django.db import transaction

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import policy
from safeward.clinical.gateway._core import access_context, assign, audit_fields, record, subject_for
from safeward.clinical.gateway._import import _department_ids
from safeward.clinical.gateway._patients import build_patient
from safeward.clinical.gateway._writes import validate_code
from safeward.clinical.models import CareTeamMembership, Condition, Encounter, Observation, Patient
from safeward.clinical.policy import Action, Section
from safeward.clinical.types import Conflict, Forbidden, ImportedPatient, SessionContext, SystemActor
from safeward.crypto.fields import blind_indexes
from safeward.one_door import entry

DEFAULT_BATCH = 1000


@dataclass(frozen=True)
class BulkPatient:
    """One patient of a batch: the chart to write and who cares for them
    (active user ids; a care-team link each, from now on)."""

    record: ImportedPatient
    care_team: tuple[tuple[int, str], ...] = ()


def existing_mrns(mrns: Sequence[str]) -> set[str]:
    """Which of these MRNs are taken already (one query, by blind index)."""
    by_index = {index: mrn for mrn in mrns for index in blind_indexes(Patient, "mrn_index", mrn)}
    found = Patient.objects.filter(mrn_index__in=list(by_index)).values_list("mrn_index", flat=True)
    return {by_index[bytes(index)] for index in found}


@entry
def patients_bulk_create(
    *, actor: SystemActor, session: SessionContext, batch: Sequence[BulkPatient], label: str = "scale"
) -> dict[str, int]:
    """Write `batch` in one transaction; patients whose MRN exists already are
    skipped (re-running is harmless). Returns the counts written per kind."""
    decision = policy.decide(
        subject_for(actor),
        policy.Resource(),
        Action.CREATE,
        access_context(session, PurposeOfUse.OPERATIONS),
        section=Section.DEMOGRAPHICS,
    )
    if not isinstance(actor, SystemActor) or not decision.permitted:
        raise Forbidden
    taken = existing_mrns([item.record.patient.mrn or "" for item in batch])
    todo = [item for item in batch if item.record.patient.mrn not in taken]
    now = clock.now()
    patients: list[Patient] = []
    encounters: list[Encounter] = []
    conditions: list[Condition] = []
    observations: list[Observation] = []
    members: list[CareTeamMembership] = []
    for item in todo:
        data = item.record
        patient = build_patient(data.patient)
        patients.append(patient)
        keyed: dict[str, Encounter] = {}
        for e in data.encounters:
            encounter = Encounter(
                patient=patient,
                kind=e.kind,  # its department is set in the transaction, below
                status=e.status,
                started_at=e.started_at,
                ended_at=e.ended_at,
            )
            assign(encounter, {"reason": e.reason})
            keyed[e.key] = encounter
            encounters.append(encounter)
        for c in data.conditions:
            condition = Condition(
                patient=patient,
                encounter=keyed.get(c.encounter_key or ""),
                code_system=c.code_system,
                clinical_status=c.clinical_status,
                sensitivity=c.sensitivity,
                recorded_at=c.recorded_at,
            )
            code = validate_code(c.code_system, c.code)
            assign(condition, {"code": code, "display": c.display[:300], "onset": c.onset})
            conditions.append(condition)
        for o in data.observations:
            observation = Observation(
                patient=patient,
                encounter=keyed.get(o.encounter_key or ""),
                category=o.category,
                status=o.status,
                unit=o.unit,
                effective_at=o.effective_at,
                sensitivity=o.sensitivity,
            )
            code = validate_code("loinc", o.code)
            assign(observation, {"code": code, "display": o.display[:200], "value": o.value})
            observations.append(observation)
        for user_id, role in item.care_team:
            members.append(
                CareTeamMembership(patient=patient, user_id=user_id, role=role[:40], starts_at=now)
            )
    counts = {
        "Patient": len(patients),
        "Encounter": len(encounters),
        "Condition": len(conditions),
        "Observation": len(observations),
        "CareTeamMembership": len(members),
        "skipped": len(batch) - len(todo),
    }
    try:
        with transaction.atomic():
            departments = _department_ids({e.kind for e in encounters}, actor=actor)
            for encounter in encounters:
                encounter.department_id = departments[encounter.kind]
            Patient.objects.bulk_create(patients, batch_size=DEFAULT_BATCH)
            Encounter.objects.bulk_create(encounters, batch_size=DEFAULT_BATCH)
            Condition.objects.bulk_create(conditions, batch_size=DEFAULT_BATCH)
            Observation.objects.bulk_create(observations, batch_size=DEFAULT_BATCH)
            CareTeamMembership.objects.bulk_create(members, batch_size=DEFAULT_BATCH)
            record(
                action=AuditAction.CREATE,
                actor=actor,
                purpose=PurposeOfUse.OPERATIONS,
                resource_type="Patient",
                decision=decision,
                fields=audit_fields(
                    [
                        Section.DEMOGRAPHICS,
                        Section.CONTACT,
                        Section.ENCOUNTERS,
                        Section.PROBLEMS,
                        Section.RESULTS,
                        Section.CARE_TEAM,
                    ]
                ),
                detail={"bulk": label, "counts": [f"{k}={v}" for k, v in counts.items()]},
            )
    except DatabaseIntegrityError:
        raise Conflict("A medical record number in this batch is already in use.") from None
    return counts
