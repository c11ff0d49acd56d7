"""The FHIR import's write path: one patient with their chart, all or
nothing, by a system actor, audited. Parsing and validating the bundle is
`safeward.clinical.importer`'s job; this takes plain dataclasses."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import policy
from safeward.clinical.gateway._copy import insert_rows
from safeward.clinical.gateway._core import (
    access_context,
    assign,
    audit_fields,
    check_choice,
    record,
    subject_for,
)
from safeward.clinical.gateway._patients import _mrn_taken, build_patient, save_new_patient
from safeward.clinical.gateway._writes import validate_code
from safeward.clinical.models import (
    AllergyIntolerance,
    Condition,
    DiagnosticReport,
    Encounter,
    Immunization,
    MedicationRequest,
    Observation,
    Patient,
    Procedure,
)
from safeward.clinical.policy import Action, Section
from safeward.clinical.types import (
    Forbidden,
    ImportedPatient,
    ImportOutcome,
    SessionContext,
    SystemActor,
)
from safeward.identity.selectors import department_ids_by_code
from safeward.identity.services import department_ensure
from safeward.one_door import entry

# Where imported encounters land when the bundle's organisation is not ours.
IMPORT_DEPARTMENTS = {
    "emergency": "emergency",
    "inpatient": "internal-medicine",
    "outpatient": "internal-medicine",
}
EXTERNAL_DEPARTMENT = ("external-records", "External records (imported)")


def _department_ids(kinds: Iterable[str], *, actor: SystemActor) -> dict[str, int]:
    """The department id of each encounter kind, resolved once per bundle or
    batch: the hospital's department for the kind, else "External records",
    which identity creates (and audits) the first time an import needs it.
    Call it inside the import's transaction, so that a failed import leaves
    no department behind either."""
    wanted = {kind: IMPORT_DEPARTMENTS.get(kind, "") for kind in set(kinds)}
    if not wanted:
        return {}
    code, name = EXTERNAL_DEPARTMENT
    # One query, "External records" included: once it exists, that is all an import costs.
    found = department_ids_by_code(codes=[*wanted.values(), code])
    ids = {kind: found[wanted_code] for kind, wanted_code in wanted.items() if wanted_code in found}
    if len(ids) < len(wanted):
        external = found.get(code) or department_ensure(
            actor=None, actor_username=f"system:{actor.name}", code=code, name=name
        )
        ids.update({kind: external for kind in wanted if kind not in ids})
    return ids


def _immunizations(
    patient: Patient, record_in: ImportedPatient, encounters: dict[str, Encounter]
) -> list[Immunization]:
    rows = []
    for item in record_in.immunizations:
        row = Immunization(
            patient=patient,
            encounter=encounters.get(item.encounter_key or ""),
            status=check_choice("status", item.status, Immunization.Status),
            sensitivity=item.sensitivity,
        )
        assign(
            row,
            {
                "vaccine_code": validate_code("cvx", item.vaccine_code),
                "vaccine": item.vaccine[:300],
                "occurred_at": item.occurred_at,
            },
        )
        rows.append(row)
    insert_rows(Immunization, rows)
    return rows


def _procedures(
    patient: Patient, record_in: ImportedPatient, encounters: dict[str, Encounter]
) -> list[Procedure]:
    rows = []
    for item in record_in.procedures:
        row = Procedure(
            patient=patient,
            encounter=encounters.get(item.encounter_key or ""),
            status=check_choice("status", item.status, Procedure.Status),
            sensitivity=item.sensitivity,
        )
        assign(
            row,
            {
                "code": validate_code("snomed", item.code),
                "display": item.display[:300],
                "performed_at": item.performed_at,
                "performed_end": item.performed_end,
                "reason": item.reason[:300] if item.reason else None,
            },
        )
        rows.append(row)
    insert_rows(Procedure, rows)
    return rows


def _reports(
    patient: Patient,
    record_in: ImportedPatient,
    encounters: dict[str, Encounter],
    observations: dict[str, list[Observation]],
) -> list[DiagnosticReport]:
    """The reports, then their links to the observations just written (one
    bulk insert into the link table)."""
    rows = []
    for item in record_in.reports:
        row = DiagnosticReport(
            patient=patient,
            encounter=encounters.get(item.encounter_key or ""),
            status=check_choice("status", item.status, DiagnosticReport.Status),
            category=check_choice("category", item.category, DiagnosticReport.Category),
            sensitivity=item.sensitivity,
        )
        assign(
            row,
            {
                "code": validate_code("loinc", item.code),
                "display": item.display[:300],
                "effective_at": item.effective_at,
                "issued_at": item.issued_at,
                "conclusion": item.conclusion[:2000] if item.conclusion else None,
            },
        )
        rows.append(row)
    insert_rows(DiagnosticReport, rows)
    link = DiagnosticReport.results.through
    links = [
        link(diagnosticreport_id=row.pk, observation_id=observation.pk)
        for row, item in zip(rows, record_in.reports, strict=True)
        for key in dict.fromkeys(item.result_keys)
        for observation in observations.get(key, [])
    ]
    insert_rows(link, links)
    return rows


@entry
def patient_import(
    *, actor: SystemActor, session: SessionContext, record_in: ImportedPatient
) -> ImportOutcome:
    """Create the patient and their chart in one transaction; a patient whose
    MRN already exists is left alone (re-running an import is harmless)."""
    decision = policy.decide(
        subject_for(actor),
        policy.Resource(),
        Action.CREATE,
        access_context(session, PurposeOfUse.OPERATIONS),
        section=Section.DEMOGRAPHICS,
    )
    if not isinstance(actor, SystemActor) or not decision.permitted:
        raise Forbidden
    data = record_in.patient
    if data.mrn and _mrn_taken(data.mrn):
        return ImportOutcome(patient_id=None, created=False, counts={})
    patient = build_patient(data)
    with transaction.atomic():
        departments = _department_ids((item.kind for item in record_in.encounters), actor=actor)
        save_new_patient(patient)
        encounters: dict[str, Encounter] = {}
        for item in record_in.encounters:
            encounter = Encounter(
                patient=patient,
                kind=item.kind,
                department_id=departments[item.kind],
                status=item.status,
                started_at=item.started_at,
                ended_at=item.ended_at,
            )
            assign(encounter, {"reason": item.reason})
            encounters[item.key] = encounter
        insert_rows(Encounter, list(encounters.values()))
        conditions = []
        for c in record_in.conditions:
            condition = Condition(
                patient=patient,
                encounter=encounters.get(c.encounter_key or ""),
                code_system=c.code_system,
                clinical_status=c.clinical_status,
                sensitivity=c.sensitivity,
                recorded_at=c.recorded_at,
            )
            assign(
                condition,
                {"code": validate_code(c.code_system, c.code), "display": c.display[:300], "onset": c.onset},
            )
            conditions.append(condition)
        insert_rows(Condition, conditions)
        observations = []
        for o in record_in.observations:
            observation = Observation(
                patient=patient,
                encounter=encounters.get(o.encounter_key or ""),
                category=o.category,
                status=o.status,
                unit=o.unit,
                effective_at=o.effective_at,
                sensitivity=o.sensitivity,
            )
            assign(
                observation,
                {"code": validate_code("loinc", o.code), "display": o.display[:200], "value": o.value},
            )
            observations.append(observation)
        insert_rows(Observation, observations)
        by_source: dict[str, list[Observation]] = {}
        for mapped, observation in zip(record_in.observations, observations, strict=True):
            if mapped.source_key:
                by_source.setdefault(mapped.source_key, []).append(observation)
        medications = []
        for m in record_in.medications:
            medication = MedicationRequest(
                patient=patient,
                encounter=encounters.get(m.encounter_key or ""),
                status=m.status,
                sensitivity=m.sensitivity,
                authored_at=m.authored_at,
            )
            assign(medication, {"medication": m.medication[:300], "rxnorm": m.rxnorm})
            medications.append(medication)
        insert_rows(MedicationRequest, medications)
        allergies = []
        for a in record_in.allergies:
            allergy = AllergyIntolerance(
                patient=patient,
                criticality=a.criticality,
                clinical_status=a.clinical_status,
                recorded_at=a.recorded_at,
            )
            assign(allergy, {"substance": a.substance[:200]})
            allergies.append(allergy)
        insert_rows(AllergyIntolerance, allergies)
        immunizations = _immunizations(patient, record_in, encounters)
        procedures = _procedures(patient, record_in, encounters)
        reports = _reports(patient, record_in, encounters, by_source)
        counts = {
            "Patient": 1,
            "Encounter": len(encounters),
            "Condition": len(conditions),
            "Observation": len(observations),
            "MedicationRequest": len(medications),
            "AllergyIntolerance": len(allergies),
            "Immunization": len(immunizations),
            "Procedure": len(procedures),
            "DiagnosticReport": len(reports),
        }
        record(
            action=AuditAction.CREATE,
            actor=actor,
            purpose=PurposeOfUse.OPERATIONS,
            resource_type="Patient",
            resource_id=str(patient.pk),
            patient=patient,
            decision=decision,
            fields=audit_fields(
                [
                    Section.DEMOGRAPHICS,
                    Section.CONTACT,
                    Section.NATIONAL_ID,
                    Section.INSURANCE,
                    Section.ENCOUNTERS,
                    Section.PROBLEMS,
                    Section.RESULTS,
                    Section.MEDICATIONS,
                    Section.ALLERGIES,
                    Section.IMMUNIZATIONS,
                    Section.PROCEDURES,
                    Section.REPORTS,
                ]
            ),
            detail={"import": "fhir", "counts": [f"{k}={v}" for k, v in counts.items()]},
        )
    return ImportOutcome(patient_id=str(patient.pk), created=True, counts=counts)
