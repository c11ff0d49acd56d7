"""The gateway's views as HL7 FHIR R4 resources, each validated with
`fhir.resources.R4B` before it leaves (the package's default models are R5).
And the reverse for Patient create: a FHIR Patient → `PatientInput`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from safeward.clinical.types import (
    AdministrationView,
    AllergyView,
    ConditionView,
    EncounterView,
    ImmunizationView,
    InvalidInput,
    MedicationView,
    ObservationView,
    PatientInput,
    PatientView,
    ProcedureView,
    ReportView,
)

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
MRN_SYSTEM = "urn:safeward:mrn"
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CONDITION_SYSTEMS = {"icd10cm": ICD10CM, "snomed": SNOMED}
ENCOUNTER_CLASS = {
    "emergency": ("EMER", "emergency"),
    "inpatient": ("IMP", "inpatient encounter"),
    "outpatient": ("AMB", "ambulatory"),
}
ENCOUNTER_STATUS = {
    "planned": "planned",
    "arrived": "arrived",
    "in_progress": "in-progress",
    "finished": "finished",
    "cancelled": "cancelled",
}
MEDICATION_STATUS = {
    "active": "active",
    "completed": "completed",
    "stopped": "stopped",
    "cancelled": "cancelled",
}
GENDERS = {"female", "male", "other", "unknown"}
# Patient.address elements and the keys of the stored (encrypted) address: the
# importer's and the forms' keys. A patient created through FHIR before the
# keys were aligned holds `postalCode`, which the read still finds (by the
# element's own name).
ADDRESS_KEYS = (
    ("line", "line"),
    ("city", "city"),
    ("state", "state"),
    ("postalCode", "postal_code"),
    ("country", "country"),
)


def validated(data: dict[str, Any]) -> dict[str, Any]:
    """Validate with the R4B model of its resourceType; return the JSON form."""
    model = get_fhir_model_class(data["resourceType"])
    return model.model_validate(data).model_dump(mode="json", exclude_none=True)


def _instant(value: dt.datetime) -> str:
    return value.isoformat()


def _meta_security(sensitivity: str) -> dict[str, Any] | None:
    if not sensitivity:
        return None
    return {"security": [{"system": "urn:safeward:sensitivity", "code": sensitivity}]}


def patient_resource(view: PatientView) -> dict[str, Any]:
    data: dict[str, Any] = {"resourceType": "Patient", "id": view.id}
    identifiers = []
    if view.mrn:
        identifiers.append(
            {
                "use": "usual",
                "type": {"coding": [{"system": V2_0203, "code": "MR"}]},
                "system": MRN_SYSTEM,
                "value": view.mrn,
            }
        )
    if view.national_id:
        identifiers.append(
            {
                "type": {"coding": [{"system": V2_0203, "code": "SS"}]},
                "system": SSN_SYSTEM,
                "value": view.national_id,
            }
        )
    if identifiers:
        data["identifier"] = identifiers
    if view.family_name is not None:
        data["name"] = [{"use": "official", "family": view.family_name, "given": [view.given_name or ""]}]
    if view.birth_date is not None:
        data["birthDate"] = view.birth_date.isoformat()
    if view.sex in GENDERS:
        data["gender"] = view.sex
    if view.deceased_date is not None:
        data["deceasedDateTime"] = view.deceased_date.isoformat()
    elif view.deceased is not None:
        data["deceasedBoolean"] = view.deceased
    telecom = []
    if view.phone:
        telecom.append({"system": "phone", "value": view.phone})
    if view.email:
        telecom.append({"system": "email", "value": view.email})
    if telecom:
        data["telecom"] = telecom
    if view.address:
        address = {
            element: view.address.get(stored) or view.address.get(element)
            for element, stored in ADDRESS_KEYS
            if view.address.get(stored) or view.address.get(element)
        }
        if isinstance(address.get("line"), str):
            address["line"] = [address["line"]]
        if address:
            data["address"] = [address]
    if view.restricted:
        data["meta"] = {"security": [{"system": "urn:safeward:access", "code": "restricted"}]}
    return validated(data)


def _subject(patient_id: str) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id}"}


def encounter_resource(view: EncounterView, patient_id: str) -> dict[str, Any]:
    code, display = ENCOUNTER_CLASS.get(view.kind, ("AMB", "ambulatory"))
    data: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": view.id,
        "status": ENCOUNTER_STATUS.get(view.status, "unknown"),
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": code,
            "display": display,
        },
        "subject": _subject(patient_id),
        "period": {"start": _instant(view.started_at)},
    }
    if view.ended_at is not None:
        data["period"]["end"] = _instant(view.ended_at)
    if view.department:
        data["serviceProvider"] = {"display": view.department}
    if view.attending:
        data["participant"] = [{"individual": {"display": view.attending}}]
    if view.reason:
        data["reasonCode"] = [{"text": view.reason}]
    if meta := _meta_security(view.sensitivity):
        data["meta"] = meta
    return validated(data)


def condition_resource(view: ConditionView, patient_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Condition",
        "id": view.id,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": view.clinical_status,
                }
            ]
        },
        "code": {
            "coding": [
                {
                    "system": CONDITION_SYSTEMS.get(view.code_system, ICD10CM),
                    "code": view.code,
                    "display": view.display or None,
                }
            ],
            "text": view.display or None,
        },
        "subject": _subject(patient_id),
        "recordedDate": _instant(view.recorded_at),
    }
    if view.onset is not None:
        data["onsetDateTime"] = view.onset.isoformat()
    if meta := _meta_security(view.sensitivity):
        data["meta"] = meta
    return validated(data)


def _quantity(value: str | None, unit: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    quantity: dict[str, Any] = {"value": number}
    if unit:
        quantity.update(unit=unit, system="http://unitsofmeasure.org", code=unit)
    return quantity


def observation_resource(view: ObservationView, patient_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": view.id,
        "status": view.status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": view.category,
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": view.code, "display": view.display or None}]},
        "subject": _subject(patient_id),
        "effectiveDateTime": _instant(view.effective_at),
    }
    if view.late_entry_at is not None:
        # A late entry from paper (ADR 1415): available to providers only when entered.
        data["issued"] = _instant(view.late_entry_at)
    quantity = _quantity(view.value, view.unit)
    if quantity is not None:
        data["valueQuantity"] = quantity
    elif view.value is not None:
        data["valueString"] = view.value
    if meta := _meta_security(view.sensitivity):
        data["meta"] = meta
    return validated(data)


def medication_resource(view: MedicationView, patient_id: str) -> dict[str, Any]:
    coding: dict[str, Any] = {"display": view.medication}
    if view.rxnorm:
        coding.update(system=RXNORM, code=view.rxnorm)
    data: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": view.id,
        "status": MEDICATION_STATUS.get(view.status, "unknown"),
        "intent": "order",
        "medicationCodeableConcept": {"coding": [coding], "text": view.medication},
        "subject": _subject(patient_id),
        "authoredOn": _instant(view.authored_at),
    }
    if view.requester:
        data["requester"] = {"display": view.requester}
    if view.dosage:
        data["dosageInstruction"] = [{"text": view.dosage}]
    if meta := _meta_security(view.sensitivity):
        data["meta"] = meta
    return validated(data)


ROUTE_SYSTEM = "urn:safeward:administration-route"


def administration_resource(view: AdministrationView, patient_id: str) -> dict[str, Any]:
    """A dose given (ADR 1420): completed, against its MedicationRequest, at
    the time it was given (with its zone); a dose entered from the paper MAR
    after a downtime says so in a note, with who entered and who verified it."""
    dosage: dict[str, Any] = {
        "route": {
            "coding": [{"system": ROUTE_SYSTEM, "code": view.route, "display": view.route_display}],
            "text": view.route_display,
        }
    }
    if (dose := _quantity(view.dose, view.dose_unit)) is not None:
        dosage["dose"] = dose
    data: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": view.id,
        "status": "completed",
        "medicationCodeableConcept": {"text": view.medication or "Medication"},
        "subject": _subject(patient_id),
        "effectiveDateTime": _instant(view.administered_at),
        "request": {"reference": f"MedicationRequest/{view.request_id}"},
        "dosage": dosage,
    }
    if view.late_entry_at is not None:
        text = f"Recorded on paper during a downtime; entered {_instant(view.late_entry_at)}"
        if view.recorded_by:
            text += f" by {view.recorded_by}"
        if view.verified_at is not None:
            text += f"; verified {_instant(view.verified_at)} by {view.verified_by or 'a second person'}"
        else:
            text += "; not yet verified by a second person"
        data["note"] = [{"text": text + "."}]
    if meta := _meta_security(view.sensitivity):
        data["meta"] = meta
    return validated(data)


def allergy_resource(view: AllergyView, patient_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": view.id,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": view.clinical_status,
                }
            ]
        },
        "code": {"text": view.substance},
        "patient": _subject(patient_id),
        "recordedDate": _instant(view.recorded_at),
    }
    if view.clinical_status == "entered-in-error":
        # FHIR: an entry made in error has a verification status and no clinical status (ait-1).
        del data["clinicalStatus"]
        data["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": "entered-in-error",
                }
            ]
        }
    if view.criticality in ("low", "high", "unable-to-assess"):
        data["criticality"] = view.criticality
    elif view.criticality == "unable":
        data["criticality"] = "unable-to-assess"
    if view.reaction:
        data["reaction"] = [{"manifestation": [{"text": view.reaction}]}]
    return validated(data)


def immunization_resource(view: ImmunizationView, patient_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": view.id,
        "status": view.status,
        "vaccineCode": {
            "coding": [{"system": CVX, "code": view.vaccine_code, "display": view.vaccine or None}],
            "text": view.vaccine or None,
        },
        "patient": _subject(patient_id),
        "occurrenceDateTime": _instant(view.occurred_at),
    }
    if meta := _meta_security(view.sensitivity):
        data["meta"] = meta
    return validated(data)


def procedure_resource(view: ProcedureView, patient_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": view.id,
        "status": view.status,
        "code": {
            "coding": [{"system": SNOMED, "code": view.code, "display": view.display or None}],
            "text": view.display or None,
        },
        "subject": _subject(patient_id),
    }
    if view.performed_end is not None:
        data["performedPeriod"] = {"start": _instant(view.performed_at), "end": _instant(view.performed_end)}
    else:
        data["performedDateTime"] = _instant(view.performed_at)
    if view.reason:
        data["reasonCode"] = [{"text": view.reason}]
    if meta := _meta_security(view.sensitivity):
        data["meta"] = meta
    return validated(data)


def report_resource(view: ReportView, patient_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": view.id,
        "status": view.status,
        "category": [{"coding": [{"system": V2_0074, "code": view.category}]}],
        "code": {
            "coding": [{"system": LOINC, "code": view.code, "display": view.display or None}],
            "text": view.display or None,
        },
        "subject": _subject(patient_id),
        "effectiveDateTime": _instant(view.effective_at),
    }
    if view.issued_at is not None:
        data["issued"] = _instant(view.issued_at)
    if view.result_ids:
        data["result"] = [{"reference": f"Observation/{rid}"} for rid in view.result_ids]
    if view.conclusion:
        data["conclusion"] = view.conclusion
    if meta := _meta_security(view.sensitivity):
        data["meta"] = meta
    return validated(data)


# --- Patient create --------------------------------------------------------------------------------
def _pydantic_errors(error: ValidationError) -> dict[str, str]:
    """Where the resource is invalid; never the submitted value."""
    errors: dict[str, str] = {}
    for item in error.errors()[:20]:
        location = ".".join(str(part) for part in item.get("loc", ())) or "resource"
        errors[location[:120]] = "Invalid value." if item.get("type") != "missing" else "Required."
    return errors or {"resource": "Invalid resource."}


def patient_input(body: Any) -> PatientInput:
    """A FHIR R4 Patient → the gateway's PatientInput; InvalidInput names the
    offending element (never its value)."""
    if not isinstance(body, dict):
        raise InvalidInput({"resource": "Expected a JSON object."})
    if body.get("resourceType") != "Patient":
        raise InvalidInput({"resourceType": "Expected a Patient resource."})
    try:
        model: Any = get_fhir_model_class("Patient").model_validate(body)
    except ValidationError as error:
        raise InvalidInput(_pydantic_errors(error)) from None
    except (TypeError, ValueError):
        raise InvalidInput({"resource": "Invalid resource."}) from None
    names = [n for n in (model.name or []) if n.family or n.given]
    if not names:
        raise InvalidInput({"name": "A name with family and given parts is required."})
    name = next((n for n in names if n.use == "official"), names[0])
    if not name.family or not name.given:
        raise InvalidInput({"name": "A name with family and given parts is required."})
    if model.gender is not None and model.gender not in GENDERS:
        raise InvalidInput({"gender": "Not one of male, female, other, unknown."})
    if model.birthDate is None:
        raise InvalidInput({"birthDate": "Required."})
    birth = model.birthDate
    if not isinstance(birth, dt.date) or isinstance(birth, dt.datetime):
        raise InvalidInput({"birthDate": "A full date (YYYY-MM-DD) is required."})
    mrn = national_id = None
    for identifier in model.identifier or []:
        if identifier.system == MRN_SYSTEM and identifier.value:
            mrn = identifier.value
        elif identifier.system == SSN_SYSTEM and identifier.value:
            national_id = identifier.value
    phone = email = None
    for telecom in model.telecom or []:
        if telecom.system == "phone" and telecom.value and phone is None:
            phone = telecom.value
        elif telecom.system == "email" and telecom.value and email is None:
            email = telecom.value
    address = None
    if model.address:
        first = model.address[0]
        address = {
            key: value
            for key, value in (
                ("line", list(first.line or [])),
                ("city", first.city),
                ("state", first.state),
                ("postal_code", first.postalCode),
                ("country", first.country),
            )
            if value
        } or None
    return PatientInput(
        given_name=" ".join(str(g) for g in name.given),
        family_name=str(name.family),
        birth_date=birth,
        sex=model.gender if model.gender in GENDERS else "unknown",
        mrn=mrn,
        national_id=national_id,
        phone=phone,
        email=email,
        address=address,
    )
