"""Breach scope: the medical record numbers of the patients an alert or an
incident names, for the security and privacy officers' export (ADR 0729).

Officers hold no clinical role, so the policy's clinical gate would refuse
them; this door opens for the audit-export permission together with alert
triage or incident management, decrypts the MRN only (the identifier a
notification needs to be looked up, nothing of the chart), and records one
EXPORT event that indexes every patient, so each patient's accounting of
disclosures shows that their record number left in a breach-scope file."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.gateway._core import plain, record, record_denied, subject_for
from safeward.clinical.models import Patient
from safeward.clinical.types import Forbidden, InvalidInput, SessionContext
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.one_door import entry

# Who may take the scope out: an officer who exports audit data and works the
# alert or the incident the scope comes from.
_SCOPE_PERMISSIONS = {
    "alert": Perm.DETECTION_ALERT_TRIAGE,
    "incident": Perm.INCIDENT_RECORD_MANAGE,
}
_CHUNK = 2000


def _uuids(patient_ids: Iterable[str]) -> list[uuid.UUID]:
    wanted: list[uuid.UUID] = []
    for value in patient_ids:
        try:
            wanted.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return wanted


def _mrns(wanted: list[uuid.UUID]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        for patient in Patient.objects.filter(pk__in=wanted[start : start + _CHUNK]).only("id", "mrn"):
            found[str(patient.pk)] = plain(patient, "mrn")
    return found


@entry
def breach_scope_identifiers(
    *, actor: User, session: SessionContext, scope: str, scope_id: int, patient_ids: Iterable[str]
) -> dict[str, str]:
    """{patient id: MRN} for the patients of alert or incident `scope_id`
    (ids that are not a patient are left out). One EXPORT audit event,
    purpose HSYSADMIN, resource `BreachScope` `<scope>:<id>`, field `mrn`."""
    needed = _SCOPE_PERMISSIONS.get(scope)
    if needed is None:
        raise InvalidInput({"scope": "Not one of the allowed values."})
    subject = subject_for(actor)
    if not (subject.has(Perm.AUDIT_REPORT_EXPORT) and subject.has(needed)):
        record_denied(
            action=AuditAction.EXPORT,
            actor=actor,
            purpose=PurposeOfUse.SECURITY,
            resource_type="BreachScope",
            resource_id=f"{scope}:{scope_id}",
            patient=None,
            reason="not_permitted",
        )
        raise Forbidden
    wanted = _uuids(patient_ids)
    with transaction.atomic():
        found = _mrns(wanted)
        record(
            action=AuditAction.EXPORT,
            actor=actor,
            purpose=PurposeOfUse.SECURITY,
            resource_type="BreachScope",
            resource_id=f"{scope}:{scope_id}",
            fields=["mrn"] if found else (),
            detail={"patients_requested": len(wanted), "patients_found": len(found)},
            patient_ids=list(found),
        )
    return found


@entry
def manifest_patient_identifiers(
    *, actor: User, session: SessionContext, manifest_id: int, patient_ids: Iterable[str]
) -> dict[str, str]:
    """{patient id: MRN} for the patients an export manifest names: whose data
    a file found somewhere holds (`safeward assets whence`, the manifest
    page). Needs the manifest-read permission; decrypts the MRN only. One
    READ event, purpose HSYSADMIN, resource `ExportManifest` `<id>`, field
    `mrn`, indexing every patient."""
    if not subject_for(actor).has(Perm.ASSETS_MANIFEST_READ):
        record_denied(
            action=AuditAction.READ,
            actor=actor,
            purpose=PurposeOfUse.SECURITY,
            resource_type="ExportManifest",
            resource_id=str(manifest_id),
            patient=None,
            reason="not_permitted",
        )
        raise Forbidden
    wanted = _uuids(patient_ids)
    with transaction.atomic():
        found = _mrns(wanted)
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=PurposeOfUse.SECURITY,
            resource_type="ExportManifest",
            resource_id=str(manifest_id),
            fields=["mrn"] if found else (),
            detail={"patients_requested": len(wanted), "patients_found": len(found)},
            patient_ids=list(found),
        )
    return found


@dataclass(frozen=True)
class BreachResidence:
    """How many patients live in each state (US postal code, or "unknown"),
    and how many have contact details too incomplete to mail a letter."""

    by_state: dict[str, int]
    stale_contacts: int


@dataclass(frozen=True)
class BreachRecipient:
    """What a breach notification letter needs: the name and postal address."""

    patient_id: str
    mrn: str
    name: str
    address_lines: tuple[str, ...]
    state: str
    deliverable: bool


def _address_state(address: object) -> tuple[str, bool]:
    if not isinstance(address, dict):
        return "unknown", False
    state = str(address.get("state") or "").strip().upper()[:8] or "unknown"
    lines = [str(line) for line in address.get("line") or [] if str(line).strip()]
    deliverable = bool(lines) and bool(str(address.get("postal_code") or "").strip())
    return state, deliverable


def _breach_gate(actor: User, *, action: AuditAction, incident_id: int, needed: tuple[Perm, ...]) -> None:
    subject = subject_for(actor)
    if not any(subject.has(permission) for permission in needed):
        record_denied(
            action=action,
            actor=actor,
            purpose=PurposeOfUse.SECURITY,
            resource_type="BreachScope",
            resource_id=f"incident:{incident_id}",
            patient=None,
            reason="not_permitted",
        )
        raise Forbidden


@entry
def breach_residence(
    *, actor: User, session: SessionContext, incident_id: int, patient_ids: Iterable[str]
) -> BreachResidence:
    """Counts by state of residence for an incident's breach clock (ADR 1402).
    Officers managing incidents or breaches; decrypts the address only and
    returns counts, never an address. One READ event, purpose HSYSADMIN,
    resource `BreachScope` `incident:<id>`, field `address`, indexing every patient."""
    _breach_gate(
        actor,
        action=AuditAction.READ,
        incident_id=incident_id,
        needed=(Perm.INCIDENT_BREACH_MANAGE, Perm.INCIDENT_RECORD_MANAGE),
    )
    wanted = _uuids(patient_ids)
    by_state: dict[str, int] = {}
    stale = 0
    found: list[str] = []
    with transaction.atomic():
        for start in range(0, len(wanted), _CHUNK):
            for patient in Patient.objects.filter(pk__in=wanted[start : start + _CHUNK]).only(
                "id", "address"
            ):
                state, deliverable = _address_state(plain(patient, "address"))
                by_state[state] = by_state.get(state, 0) + 1
                stale += 0 if deliverable else 1
                found.append(str(patient.pk))
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=PurposeOfUse.SECURITY,
            resource_type="BreachScope",
            resource_id=f"incident:{incident_id}",
            fields=["address"] if found else (),
            detail={"patients_requested": len(wanted), "patients_found": len(found)},
            patient_ids=found,
        )
    return BreachResidence(by_state=dict(sorted(by_state.items())), stale_contacts=stale)


@entry
def breach_letter_recipients(
    *, actor: User, session: SessionContext, incident_id: int, patient_ids: Iterable[str]
) -> list[BreachRecipient]:
    """Name and postal address of each affected patient, for the notification
    letters and the mailing list (the privacy officer, INCIDENT_BREACH_MANAGE).
    One EXPORT event, purpose HSYSADMIN, resource `BreachScope`
    `incident:<id>`, fields mrn, name and address, indexing every patient."""
    _breach_gate(
        actor, action=AuditAction.EXPORT, incident_id=incident_id, needed=(Perm.INCIDENT_BREACH_MANAGE,)
    )
    wanted = _uuids(patient_ids)
    recipients: list[BreachRecipient] = []
    with transaction.atomic():
        for start in range(0, len(wanted), _CHUNK):
            rows = Patient.objects.filter(pk__in=wanted[start : start + _CHUNK]).only(
                "id", "mrn", "given_name", "family_name", "address"
            )
            for patient in rows:
                address = plain(patient, "address")
                state, deliverable = _address_state(address)
                lines: list[str] = []
                if isinstance(address, dict):
                    lines = [str(line) for line in address.get("line") or []]
                    city = " ".join(
                        str(address.get(key) or "") for key in ("city", "state", "postal_code")
                    ).strip()
                    if city:
                        lines.append(city)
                recipients.append(
                    BreachRecipient(
                        patient_id=str(patient.pk),
                        mrn=plain(patient, "mrn"),
                        name=f"{plain(patient, 'given_name')} {plain(patient, 'family_name')}",
                        address_lines=tuple(lines),
                        state=state,
                        deliverable=deliverable,
                    )
                )
        record(
            action=AuditAction.EXPORT,
            actor=actor,
            purpose=PurposeOfUse.SECURITY,
            resource_type="BreachScope",
            resource_id=f"incident:{incident_id}",
            fields=["mrn", "given_name", "family_name", "address"] if recipients else (),
            detail={"patients_requested": len(wanted), "patients_found": len(recipients), "use": "letters"},
            patient_ids=[recipient.patient_id for recipient in recipients],
        )
    return sorted(recipients, key=lambda recipient: recipient.patient_id)
