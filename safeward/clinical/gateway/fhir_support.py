"""Gateway functions the FHIR layer needs beyond the chart: read one chart
item (an Observation, a Condition, ...) by its own id. The patient is looked
up by the item's foreign key (no PHI), then the chart is read through
`chart_read` with the same policy, mask and audit as every other read; an
item that does not exist, or is not in what the caller may see, is NotFound
(and audited as a denied read)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import Actor, parse_id, record_denied
from safeward.clinical.gateway._patients import chart_read
from safeward.clinical.models import (
    AllergyIntolerance,
    Condition,
    DiagnosticReport,
    Encounter,
    Immunization,
    MedicationAdministration,
    MedicationRequest,
    Observation,
    Procedure,
)
from safeward.clinical.types import Chart, NotFound, SessionContext
from safeward.one_door import entry

# FHIR resource type -> (model, the Chart attributes that hold its items)
_ITEMS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "Encounter": (Encounter, ("encounters",)),
    "Condition": (Condition, ("problems",)),
    "Observation": (Observation, ("results", "orders")),
    "MedicationRequest": (MedicationRequest, ("medications",)),
    "MedicationAdministration": (MedicationAdministration, ("administrations",)),
    "AllergyIntolerance": (AllergyIntolerance, ("allergies",)),
    "Immunization": (Immunization, ("immunizations",)),
    "Procedure": (Procedure, ("procedures",)),
    "DiagnosticReport": (DiagnosticReport, ("reports",)),
}


@entry
def chart_item_read(
    *,
    actor: Actor,
    session: SessionContext,
    purpose: PurposeOfUse,
    resource_type: str,
    item_id: str | uuid.UUID,
    session_for_patient: Callable[[str], SessionContext] | None = None,
) -> tuple[Chart, Any]:
    """(the chart as the caller may see it, the item) — or NotFound.
    `session_for_patient`, when given, builds the session once the patient is
    known (an OAuth token's `patient/` scopes depend on which patient)."""
    if resource_type not in _ITEMS:
        raise NotFound
    model, attributes = _ITEMS[resource_type]
    pid = parse_id(item_id)
    patient_id = model.objects.filter(pk=pid).values_list("patient_id", flat=True).first()
    if patient_id is None:
        record_denied(
            action=AuditAction.READ,
            actor=actor,
            purpose=purpose,
            resource_type=resource_type,
            resource_id=str(pid),
            patient=None,
            reason="not_found",
        )
        raise NotFound
    if session_for_patient is not None:
        session = session_for_patient(str(patient_id))
    chart = chart_read(actor=actor, session=session, purpose=purpose, patient_id=patient_id)
    for attribute in attributes:
        for item in getattr(chart, attribute) or []:
            if item.id == str(pid):
                return chart, item
    raise NotFound
