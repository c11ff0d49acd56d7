"""FHIR R4 transaction bundles (as Synthea writes them) → the clinical record.

Each resource is validated with `fhir.resources.R4B`; Patient, Encounter,
Condition, Observation, MedicationRequest, AllergyIntolerance,
Immunization, Procedure and DiagnosticReport are mapped to
`safeward.clinical.types` dataclasses; everything else is counted as
skipped. The write goes through the gateway (`patient_import`) with a system
actor, one transaction per bundle: a bad bundle raises `BundleError` and
leaves nothing behind. Error messages name the resource type, index and
field — never a value."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from safeward.clinical import gateway
from safeward.clinical.types import (
    Conflict,
    ImportedAllergy,
    ImportedCondition,
    ImportedEncounter,
    ImportedImmunization,
    ImportedMedication,
    ImportedObservation,
    ImportedPatient,
    ImportedProcedure,
    ImportedReport,
    InvalidInput,
    PatientInput,
    SessionContext,
    SystemActor,
)

IMPORT_ACTOR = SystemActor("fhir-import")
MAPPED = frozenset(
    {
        "Patient",
        "Encounter",
        "Condition",
        "Observation",
        "MedicationRequest",
        "AllergyIntolerance",
        "Immunization",
        "Procedure",
        "DiagnosticReport",
    }
)
MAX_BUNDLE_BYTES = 50 * 1024 * 1024

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
CVX = "http://hl7.org/fhir/sid/cvx"

ENCOUNTER_CLASS = {"EMER": "emergency", "IMP": "inpatient", "ACUTE": "inpatient", "NONAC": "inpatient"}
ENCOUNTER_STATUS = {
    "planned": "planned",
    "arrived": "arrived",
    "triaged": "arrived",
    "in-progress": "in_progress",
    "onleave": "in_progress",
    "finished": "finished",
    "cancelled": "cancelled",
}
OBSERVATION_STATUS = {
    "registered": "registered",
    "preliminary": "preliminary",
    "final": "final",
    "amended": "amended",
    "corrected": "amended",
    "cancelled": "cancelled",
}
IMMUNIZATION_STATUS = frozenset({"completed", "not-done", "entered-in-error"})
PROCEDURE_STATUS = frozenset(
    {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    }
)
REPORT_STATUS = frozenset(
    {
        "registered",
        "partial",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "appended",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
REPORT_CATEGORIES = frozenset({"LAB", "RAD", "PAT"})  # v2-0074 sections kept as they are; others: OTH
MEDICATION_STATUS = {
    "active": "active",
    "completed": "completed",
    "stopped": "stopped",
    "cancelled": "cancelled",
}


class BundleError(Exception):
    """The bundle cannot be imported; the message holds no patient data."""


@dataclass
class BundleResult:
    path: str
    imported: bool = False
    already_present: bool = False
    patient_id: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    error: str = ""


def _validate(resource: dict[str, Any], index: int) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        raise BundleError(f"entry {index}: no resourceType")
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):
        raise BundleError(f"entry {index}: unknown resource type {kind[:40]!r}") from None
    try:
        model.model_validate(resource)
    except PydanticValidationError as error:
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors()[:3])
        raise BundleError(f"entry {index} ({kind}): invalid FHIR R4 at {where[:200]}") from None


def _when(value: str | None, what: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BundleError(f"{what}: not a FHIR dateTime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _date(value: str | None, what: str) -> dt.date | None:
    moment = _when(value, what)
    return moment.date() if moment else None


def _coding(concept: dict[str, Any] | None, system: str) -> dict[str, Any] | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == system and coding.get("code"):
            return dict(coding)
    return None


def _status(concept: dict[str, Any] | None, default: str) -> str:
    for coding in (concept or {}).get("coding", []):
        if coding.get("code"):
            return str(coding["code"])
    return default


def _key(entry: dict[str, Any]) -> list[str]:
    resource = entry["resource"]
    keys = [f"{resource['resourceType']}/{resource.get('id', '')}"]
    if entry.get("fullUrl"):
        keys.append(entry["fullUrl"])
    return keys


def _reference(value: dict[str, Any] | None) -> str | None:
    return (value or {}).get("reference")


def _patient(resource: dict[str, Any]) -> PatientInput:
    names = resource.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    family = name.get("family") or ""
    given = " ".join(name.get("given") or [])
    if not family or not given:
        raise BundleError("Patient: no official family and given name")
    birth = _date(resource.get("birthDate"), "Patient.birthDate")
    if birth is None:
        raise BundleError("Patient: no birthDate")
    mrn = national_id = None
    for identifier in resource.get("identifier") or []:
        code = _status(identifier.get("type"), "")
        if code == "MR" and not mrn:
            mrn = str(identifier.get("value") or "")[:40] or None
        elif code == "SS" and not national_id:
            national_id = str(identifier.get("value") or "")[:40] or None
    phone = next((t.get("value") for t in resource.get("telecom") or [] if t.get("system") == "phone"), None)
    email = next((t.get("value") for t in resource.get("telecom") or [] if t.get("system") == "email"), None)
    address = None
    if resource.get("address"):
        a = resource["address"][0]
        address = {
            "line": list(a.get("line") or []),
            "city": a.get("city", ""),
            "state": a.get("state", ""),
            "postal_code": a.get("postalCode", ""),
            "country": a.get("country", ""),
        }
    gender = resource.get("gender") or "unknown"
    return PatientInput(
        given_name=given,
        family_name=family,
        birth_date=birth,
        sex=gender if gender in ("female", "male", "other") else "unknown",
        mrn=mrn,
        national_id=national_id,
        phone=phone[:40] if phone else None,
        email=email[:254] if email else None,
        address=address,
        deceased_date=_date(resource.get("deceasedDateTime"), "Patient.deceasedDateTime"),
    )


def _quantity(value: float | int | str) -> str:
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _observations(
    resource: dict[str, Any], encounter_key: str | None, source_key: str
) -> list[ImportedObservation]:
    category = _status((resource.get("category") or [{}])[0], "other")
    if category not in ("vital-signs", "laboratory", "survey"):
        category = "other"
    status = OBSERVATION_STATUS.get(resource.get("status", ""), "final")
    when = _when(resource.get("effectiveDateTime") or resource.get("issued"), "Observation.effective")
    if when is None:
        raise BundleError("Observation: no effective time")
    parts = [resource, *(resource.get("component") or [])] if resource.get("component") else [resource]
    out = []
    for part in parts:
        coding = _coding(part.get("code"), LOINC)
        if coding is None:
            continue
        value, unit = None, ""
        if "valueQuantity" in part and part["valueQuantity"].get("value") is not None:
            value = _quantity(part["valueQuantity"]["value"])
            unit = str(part["valueQuantity"].get("code") or part["valueQuantity"].get("unit") or "")[:32]
        elif "valueCodeableConcept" in part:
            concept = part["valueCodeableConcept"]
            value = (concept.get("text") or _status(concept, ""))[:200] or None
        elif "valueString" in part:
            value = str(part["valueString"])[:200]
        if value is None:
            continue  # a panel without a value of its own: its components carry them
        out.append(
            ImportedObservation(
                category=category,
                status=status,
                code=coding["code"],
                display=str(coding.get("display") or part["code"].get("text") or coding["code"])[:200],
                value=value,
                unit=unit,
                effective_at=when,
                encounter_key=encounter_key,
                source_key=source_key,
            )
        )
    return out


def _display(concept: dict[str, Any], coding: dict[str, Any]) -> str:
    return str(coding.get("display") or concept.get("text") or coding["code"])[:300]


def _immunization(r: dict[str, Any], encounter_key: str | None) -> ImportedImmunization | str:
    """The immunization, or why it is skipped."""
    coding = _coding(r.get("vaccineCode"), CVX)
    if coding is None:
        return "Immunization (no CVX code)"
    when = _when(r.get("occurrenceDateTime") or r.get("recorded"), "Immunization.occurrence")
    if when is None:
        return "Immunization (no date)"
    status = r.get("status", "")
    return ImportedImmunization(
        status=status if status in IMMUNIZATION_STATUS else "completed",
        vaccine_code=coding["code"],
        vaccine=_display(r["vaccineCode"], coding),
        occurred_at=when,
        encounter_key=encounter_key,
    )


def _reason(r: dict[str, Any]) -> str | None:
    for concept in r.get("reasonCode") or []:
        text = concept.get("text") or next((c.get("display") for c in concept.get("coding", [])), None)
        if text:
            return str(text)[:300]
    for reference in r.get("reasonReference") or []:
        if reference.get("display"):
            return str(reference["display"])[:300]
    return None


def _procedure(r: dict[str, Any], encounter_key: str | None) -> ImportedProcedure | str:
    coding = _coding(r.get("code"), SNOMED)
    if coding is None:
        return "Procedure (no SNOMED CT code)"
    period = r.get("performedPeriod") or {}
    start = _when(r.get("performedDateTime") or period.get("start"), "Procedure.performed")
    if start is None:
        return "Procedure (no performed time)"
    status = r.get("status", "")
    return ImportedProcedure(
        status=status if status in PROCEDURE_STATUS else "unknown",
        code=coding["code"],
        display=_display(r["code"], coding),
        performed_at=start,
        performed_end=_when(period.get("end"), "Procedure.performedPeriod.end"),
        reason=_reason(r),
        encounter_key=encounter_key,
    )


def _report(
    r: dict[str, Any], encounter_key: str | None, observation_keys: dict[str, str]
) -> ImportedReport | str:
    coding = _coding(r.get("code"), LOINC)
    if coding is None:
        return "DiagnosticReport (no LOINC code)"
    period = r.get("effectivePeriod") or {}
    when = _when(
        r.get("effectiveDateTime") or period.get("start") or r.get("issued"), "DiagnosticReport.effective"
    )
    if when is None:
        return "DiagnosticReport (no effective time)"
    category = "OTH"
    for concept in r.get("category") or []:
        section = _coding(concept, V2_0074)
        if section is not None and section["code"] in REPORT_CATEGORIES:
            category = section["code"]
            break
    result_keys = []
    for reference in r.get("result") or []:
        key = observation_keys.get(_reference(reference) or "")
        if key is None:
            raise BundleError("DiagnosticReport: refers to a result that is not in the bundle")
        result_keys.append(key)
    status = r.get("status", "")
    conclusion = r.get("conclusion")
    return ImportedReport(
        status=status if status in REPORT_STATUS else "unknown",
        category=category,
        code=coding["code"],
        display=_display(r["code"], coding),
        effective_at=when,
        issued_at=_when(r.get("issued"), "DiagnosticReport.issued"),
        conclusion=str(conclusion)[:2000] if conclusion else None,
        result_keys=tuple(result_keys),
        encounter_key=encounter_key,
    )


def parse_bundle(data: Any) -> tuple[ImportedPatient | None, Counter[str]]:
    """Validate and map one bundle. Returns (patient record or None when the
    bundle holds no patient, skipped resource counts). Raises BundleError."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise BundleError("not a FHIR Bundle")
    if data.get("type") not in ("transaction", "batch", "collection", "searchset"):
        raise BundleError("unsupported Bundle.type")
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise BundleError("Bundle.entry is not a list")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            raise BundleError(f"entry {index}: no resource")
        _validate(entry["resource"], index)
    skipped: Counter[str] = Counter()
    patients = [e for e in entries if e["resource"]["resourceType"] == "Patient"]
    if len(patients) > 1:
        raise BundleError("more than one Patient in one bundle")
    for entry in entries:
        kind = entry["resource"]["resourceType"]
        if kind not in MAPPED:
            skipped[kind] += 1
    if not patients:
        for entry in entries:
            if entry["resource"]["resourceType"] in MAPPED:
                skipped[entry["resource"]["resourceType"]] += 1
        return None, skipped
    patient_keys = set(_key(patients[0]))
    encounters: list[ImportedEncounter] = []
    encounter_keys: dict[str, str] = {}
    for entry in entries:
        r = entry["resource"]
        if r["resourceType"] != "Encounter":
            continue
        _subject(r, patient_keys)
        key = _key(entry)[0]
        for k in _key(entry):
            encounter_keys[k] = key
        period = r.get("period") or {}
        start = _when(period.get("start"), "Encounter.period.start")
        if start is None:
            raise BundleError("Encounter: no period.start")
        reason_concept = (r.get("reasonCode") or r.get("type") or [{}])[0]
        reason = reason_concept.get("text") or next(
            (c.get("display") for c in reason_concept.get("coding", []) if c.get("display")), None
        )
        encounters.append(
            ImportedEncounter(
                key=key,
                kind=ENCOUNTER_CLASS.get((r.get("class") or {}).get("code", ""), "outpatient"),
                status=ENCOUNTER_STATUS.get(r.get("status", ""), "finished"),
                started_at=start,
                ended_at=_when(period.get("end"), "Encounter.period.end"),
                reason=str(reason)[:500] if reason else None,
            )
        )
    record = ImportedPatient(patient=_patient(patients[0]["resource"]), encounters=encounters)
    observation_keys = {
        k: _key(entry)[0]
        for entry in entries
        if entry["resource"]["resourceType"] == "Observation"
        for k in _key(entry)
    }
    for entry in entries:
        r = entry["resource"]
        kind = r["resourceType"]
        if kind in ("Patient", "Encounter") or kind not in MAPPED:
            continue
        _subject(r, patient_keys)
        ref = _reference(r.get("encounter"))
        encounter_key = None
        if ref is not None:
            encounter_key = encounter_keys.get(ref)
            if encounter_key is None:
                raise BundleError(f"{kind}: refers to an encounter that is not in the bundle")
        if kind == "Condition":
            coding = _coding(r.get("code"), ICD10CM)
            system = "icd10cm"
            if coding is None:
                coding, system = _coding(r.get("code"), SNOMED), "snomed"
            if coding is None:
                skipped["Condition (no ICD-10-CM or SNOMED code)"] += 1
                continue
            status = _status(r.get("clinicalStatus"), "active")
            record.conditions.append(
                ImportedCondition(
                    code_system=system,
                    code=coding["code"],
                    display=str(coding.get("display") or r["code"].get("text") or coding["code"]),
                    clinical_status=status if status in ("active", "resolved") else "inactive",
                    onset=_date(r.get("onsetDateTime"), "Condition.onset"),
                    recorded_at=_when(
                        r.get("recordedDate") or r.get("onsetDateTime"), "Condition.recordedDate"
                    )
                    or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                    encounter_key=encounter_key,
                )
            )
        elif kind == "Observation":
            mapped = _observations(r, encounter_key, _key(entry)[0])
            if not mapped:
                skipped["Observation (no LOINC value)"] += 1
            record.observations.extend(mapped)
        elif kind == "MedicationRequest":
            coding = _coding(r.get("medicationCodeableConcept"), RXNORM)
            if coding is None:
                skipped["MedicationRequest (no RxNorm code)"] += 1
                continue
            authored = _when(r.get("authoredOn"), "MedicationRequest.authoredOn")
            record.medications.append(
                ImportedMedication(
                    medication=str(coding.get("display") or coding["code"]),
                    rxnorm=coding["code"],
                    status=MEDICATION_STATUS.get(r.get("status", ""), "stopped"),
                    authored_at=authored or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                    encounter_key=encounter_key,
                )
            )
        elif kind == "Immunization":
            _keep(_immunization(r, encounter_key), record.immunizations, skipped)
        elif kind == "Procedure":
            _keep(_procedure(r, encounter_key), record.procedures, skipped)
        elif kind == "DiagnosticReport":
            _keep(_report(r, encounter_key, observation_keys), record.reports, skipped)
        elif kind == "AllergyIntolerance":
            concept = r.get("code") or {}
            substance = concept.get("text") or next(
                (c.get("display") for c in concept.get("coding", []) if c.get("display")), None
            )
            if not substance:
                skipped["AllergyIntolerance (no substance)"] += 1
                continue
            criticality = r.get("criticality", "low")
            record.allergies.append(
                ImportedAllergy(
                    substance=str(substance),
                    criticality={"unable-to-assess": "unable"}.get(criticality, criticality)
                    if criticality in ("low", "high", "unable-to-assess")
                    else "low",
                    clinical_status=_status(r.get("clinicalStatus"), "active")
                    if _status(r.get("clinicalStatus"), "active") in ("active", "inactive", "resolved")
                    else "active",
                    recorded_at=_when(r.get("recordedDate"), "AllergyIntolerance.recordedDate")
                    or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                )
            )
    return record, skipped


def _keep[T](item: T | str, into: list[T], skipped: Counter[str]) -> None:
    """Append a mapped resource, or count why it was skipped."""
    if isinstance(item, str):
        skipped[item] += 1
    else:
        into.append(item)


def _subject(resource: dict[str, Any], patient_keys: set[str]) -> None:
    ref = _reference(resource.get("subject") or resource.get("patient"))
    if ref not in patient_keys:
        raise BundleError(f"{resource['resourceType']}: subject is not the bundle's Patient")


@dataclass
class ParsedBundle:
    """One bundle read, validated and mapped, not yet stored: what a parsing
    worker hands back (plain dataclasses, so it pickles)."""

    path: str
    record: ImportedPatient | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    error: str = ""


def read_bundle(path: Path) -> ParsedBundle:
    """Read, validate and map one bundle; no database. Never raises for bad data."""
    parsed = ParsedBundle(path=path.name)
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise BundleError("the file is larger than 50 MiB")
        try:
            data = json.loads(path.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BundleError("not valid JSON") from None
        parsed.record, parsed.skipped = parse_bundle(data)
    except BundleError as error:
        parsed.error = str(error)
    except OSError as error:
        parsed.error = f"cannot read the file ({error.strerror})"
    return parsed


def store_bundle(parsed: ParsedBundle) -> BundleResult:
    """Write one parsed bundle through the gateway (its own transaction);
    never raises for data the record's rules refuse."""
    result = BundleResult(path=parsed.path, skipped=parsed.skipped, error=parsed.error)
    if parsed.error or parsed.record is None:
        return result
    try:
        outcome = gateway.patient_import(
            actor=IMPORT_ACTOR, session=SessionContext.system(), record_in=parsed.record
        )
    except (InvalidInput, Conflict) as error:
        result.error = f"rejected by the record's rules: {error}"
        return result
    result.patient_id = outcome.patient_id
    result.imported = outcome.created
    result.already_present = not outcome.created
    result.counts = Counter(outcome.counts)
    return result


def import_bundle(path: Path) -> BundleResult:
    """Read, validate, map and store one bundle; never raises for bad data."""
    return store_bundle(read_bundle(path))


def import_bundles(paths: Sequence[Path], *, workers: int = 0) -> Iterator[BundleResult]:
    """Import `paths` in order, one transaction per bundle. With `workers` > 0,
    that many processes read, validate and map the next bundles while this
    one writes (validation is most of an import's CPU, ADR 1620); at most
    two bundles per worker wait parsed, so memory stays bounded."""
    if workers < 1 or len(paths) < 2:
        for path in paths:
            yield import_bundle(path)
        return
    # The workers are forked (they inherit the set-up Django) and never touch
    # the database; they end with os._exit, so the connection they inherited
    # is never closed from their side.
    pending: deque[Future[ParsedBundle]] = deque()
    upcoming = iter(paths)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        for path in itertools.islice(upcoming, 2 * workers):
            pending.append(pool.submit(read_bundle, path))
        while pending:
            parsed = pending.popleft().result()
            if (following := next(upcoming, None)) is not None:
                pending.append(pool.submit(read_bundle, following))
            yield store_bundle(parsed)


def bundle_paths(paths: list[str]) -> list[Path]:
    """Files as given; folders contribute their *.json files, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # "*.json" (and the odd name with characters after ".json", as some archives unpack them)
            found.extend(sorted(p for p in path.iterdir() if ".json" in p.name and p.is_file()))
        else:
            found.append(path)
    return found
