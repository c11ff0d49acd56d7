"""The role catalog: least-privilege permission sets. The data migration seeds
these rows and `safeward check` compares the database against this table, so a
role widened by hand in the database is reported."""

from __future__ import annotations

from dataclasses import dataclass

from safeward.identity.permissions import Perm


@dataclass(frozen=True)
class RoleSpec:
    code: str
    name: str
    description: str
    permissions: frozenset[Perm]
    privileged: bool = False
    remote_access: bool = False


CATALOG: tuple[RoleSpec, ...] = (
    RoleSpec(
        "physician",
        "Physician",
        "Diagnoses, orders and documents care for patients in their care.",
        frozenset(
            {
                Perm.CLINICAL_PATIENT_READ,
                Perm.CLINICAL_CHART_READ,
                Perm.CLINICAL_CHART_WRITE,
                Perm.CLINICAL_NOTE_READ,
                Perm.CLINICAL_NOTE_WRITE,
                Perm.CLINICAL_ORDER_READ,
                Perm.CLINICAL_ORDER_WRITE,
                Perm.CLINICAL_RESULT_READ,
                Perm.CLINICAL_MEDICATION_READ,
                Perm.CLINICAL_MEDICATION_PRESCRIBE,
                Perm.CLINICAL_ALLERGY_READ,
                Perm.CLINICAL_APPOINTMENT_READ,
                Perm.CLINICAL_BREAKGLASS_USE,
                Perm.CLINICAL_AMENDMENT_DECIDE,
                Perm.CLINICAL_CENSUS_READ,
                Perm.CLINICAL_ENCOUNTER_DISCHARGE,
                # Prints the unit's downtime kit when SafeWard is down (issue 19).
                Perm.CONTINUITY_KIT_READ,
            }
        ),
        remote_access=True,
    ),
    RoleSpec(
        "nurse",
        "Nurse",
        "Cares for patients on their unit: observations, notes, medication administration.",
        frozenset(
            {
                Perm.CLINICAL_PATIENT_READ,
                Perm.CLINICAL_CHART_READ,
                Perm.CLINICAL_CHART_WRITE,
                Perm.CLINICAL_NOTE_READ,
                Perm.CLINICAL_NOTE_WRITE,
                Perm.CLINICAL_ORDER_READ,
                Perm.CLINICAL_RESULT_READ,
                Perm.CLINICAL_MEDICATION_READ,
                # Records doses given against existing orders, never an order (ADR 1420).
                Perm.CLINICAL_MEDICATION_ADMINISTER,
                Perm.CLINICAL_ALLERGY_READ,
                Perm.CLINICAL_APPOINTMENT_READ,
                Perm.CLINICAL_APPOINTMENT_MANAGE,
                Perm.CLINICAL_BREAKGLASS_USE,
                Perm.CLINICAL_CENSUS_READ,
                Perm.CLINICAL_ENCOUNTER_DISCHARGE,
                # Prints the unit's downtime kit when SafeWard is down (issue 19).
                Perm.CONTINUITY_KIT_READ,
            }
        ),
    ),
    RoleSpec(
        "registration_clerk",
        "Registration clerk",
        "Registers patients and books appointments; sees demographics, never the chart.",
        frozenset(
            {
                Perm.CLINICAL_PATIENT_READ,
                Perm.CLINICAL_PATIENT_REGISTER,
                Perm.CLINICAL_APPOINTMENT_READ,
                Perm.CLINICAL_APPOINTMENT_MANAGE,
                Perm.CLINICAL_CENSUS_READ,
                Perm.CLINICAL_ENCOUNTER_DISCHARGE,
            }
        ),
    ),
    RoleSpec(
        "billing_clerk",
        "Billing clerk",
        "Bills encounters; sees demographics, insurance and codes, never notes.",
        frozenset({Perm.CLINICAL_PATIENT_READ, Perm.CLINICAL_INSURANCE_READ, Perm.CLINICAL_CODING_READ}),
    ),
    RoleSpec(
        "lab_technician",
        "Lab technician",
        "Processes orders and records results.",
        frozenset(
            {
                Perm.CLINICAL_PATIENT_READ,
                Perm.CLINICAL_ORDER_READ,
                Perm.CLINICAL_RESULT_READ,
                Perm.CLINICAL_RESULT_WRITE,
            }
        ),
    ),
    RoleSpec(
        "pharmacist",
        "Pharmacist",
        "Verifies and dispenses medication; sees allergies and medication orders.",
        frozenset(
            {
                Perm.CLINICAL_PATIENT_READ,
                Perm.CLINICAL_MEDICATION_READ,
                Perm.CLINICAL_MEDICATION_DISPENSE,
                Perm.CLINICAL_ALLERGY_READ,
                Perm.CLINICAL_RESULT_READ,
            }
        ),
    ),
    RoleSpec(
        "hr_officer",
        "HR officer",
        "Keeps workforce records, training and agreements; starts onboarding and termination.",
        frozenset(
            {
                Perm.WORKFORCE_PERSON_READ,
                Perm.WORKFORCE_PERSON_MANAGE,
                Perm.WORKFORCE_TRAINING_MANAGE,
                Perm.IDENTITY_USER_VIEW,
                # A position change requests the new position's roles as the HR
                # officer: privileged ones still wait for a second approver
                # (workforce, issue 7; docs/decisions/0401).
                Perm.IDENTITY_ROLE_REQUEST,
            }
        ),
    ),
    RoleSpec(
        "it_admin",
        "IT administrator",
        "Manages accounts, sessions, network zones, and the wards and beds. Never reads clinical data.",
        frozenset(
            {
                Perm.IDENTITY_USER_VIEW,
                Perm.IDENTITY_USER_MANAGE,
                Perm.IDENTITY_ROLE_REQUEST,
                Perm.IDENTITY_SESSION_REVOKE,
                Perm.IDENTITY_ZONE_MANAGE,
                Perm.CRYPTO_KEY_READ,
                Perm.FHIR_CLIENT_MANAGE,
                # IT keeps the asset register (not the manifests: they name patients).
                Perm.ASSETS_ASSET_READ,
                Perm.ASSETS_ASSET_MANAGE,
                # Wards and beds are hospital structure, not patient data (ADR 0583).
                Perm.FACILITY_WARD_MANAGE,
                # Workstations, laptops, network segments and flows (issue 14).
                Perm.DEVICES_DEVICE_READ,
                Perm.DEVICES_DEVICE_MANAGE,
                Perm.DEVICES_NETWORK_MANAGE,
                # Equipment custody and sanitization before disposal (issue 15).
                Perm.FACILITY_CUSTODY_READ,
                Perm.FACILITY_CUSTODY_MANAGE,
                # Software inventories and patching (issue 17).
                Perm.PATCHING_FINDING_READ,
                Perm.PATCHING_INVENTORY_IMPORT,
                Perm.PATCHING_FINDING_TRIAGE,
                # Backups, restore tests and downtime (issue 19).
                Perm.CONTINUITY_STATUS_READ,
                Perm.CONTINUITY_BACKUP_MANAGE,
                Perm.CONTINUITY_DOWNTIME_DECLARE,
                # Run a periodic job now from the schedule page or API (ADR 1505).
                Perm.CONTINUITY_SCHEDULE_RUN,
            }
        ),
        privileged=True,
    ),
    RoleSpec(
        "security_officer",
        "Security officer",
        "Owns security: approves privileged roles, triages alerts, manages keys and configuration.",
        frozenset(
            {
                Perm.IDENTITY_USER_VIEW,
                Perm.IDENTITY_ROLE_APPROVE,
                Perm.IDENTITY_SESSION_REVOKE,
                Perm.AUDIT_EVENT_READ,
                Perm.AUDIT_REPORT_EXPORT,
                Perm.DETECTION_ALERT_TRIAGE,
                Perm.DETECTION_ALERT_CONTAIN,
                Perm.DETECTION_ALERT_READ,
                Perm.INCIDENT_RECORD_MANAGE,
                Perm.INCIDENT_RECORD_READ,
                Perm.CRYPTO_KEY_READ,
                Perm.CRYPTO_KEY_MANAGE,
                Perm.SECURITY_CONFIG_MANAGE,
                Perm.FHIR_CLIENT_MANAGE,
                Perm.ASSETS_ASSET_READ,
                Perm.ASSETS_ASSET_MANAGE,
                Perm.ASSETS_MANIFEST_READ,
                # Scans shares for stray PHI and works the findings.
                Perm.ASSETS_DISCOVERY_RUN,
                Perm.ASSETS_FINDING_READ,
                Perm.ASSETS_FINDING_TRIAGE,
                # Sees and runs the control tests; a second approver for exceptions.
                Perm.ASSESSMENT_RESULT_READ,
                Perm.ASSESSMENT_CONTROL_RUN,
                Perm.ASSESSMENT_EXCEPTION_APPROVE,
                Perm.ASSESSMENT_RISK_MANAGE,
                # Devices and posture; reports a device lost or stolen (issue 14).
                Perm.DEVICES_DEVICE_READ,
                Perm.DEVICES_DEVICE_MANAGE,
                Perm.DEVICES_NETWORK_MANAGE,
                # Secure areas, their authorisations and the door events (issue 15).
                Perm.FACILITY_AREA_READ,
                Perm.FACILITY_AREA_MANAGE,
                Perm.FACILITY_VISITOR_READ,
                Perm.FACILITY_CUSTODY_READ,
                # Vulnerabilities: imports, triage, and a second approver of exceptions (issue 17).
                Perm.PATCHING_FINDING_READ,
                Perm.PATCHING_INVENTORY_IMPORT,
                Perm.PATCHING_FINDING_TRIAGE,
                Perm.PATCHING_EXCEPTION_APPROVE,
                Perm.VENDOR_VENDOR_READ,
                Perm.CONTINUITY_STATUS_READ,
                Perm.CONTINUITY_DOWNTIME_DECLARE,
            }
        ),
        privileged=True,
    ),
    RoleSpec(
        "privacy_officer",
        "Privacy officer",
        "Owns patient privacy: reviews break-glass use and accountings of disclosures.",
        frozenset(
            {
                Perm.IDENTITY_USER_VIEW,
                Perm.IDENTITY_ROLE_APPROVE,
                Perm.AUDIT_EVENT_READ,
                Perm.AUDIT_REPORT_EXPORT,
                Perm.AUDIT_DISCLOSURE_READ,
                Perm.CLINICAL_BREAKGLASS_REVIEW,
                Perm.DETECTION_ALERT_TRIAGE,
                Perm.DETECTION_ALERT_READ,
                Perm.DETECTION_ACCESS_REVIEW,
                Perm.AUDIT_REVIEW_READ,
                Perm.INCIDENT_RECORD_MANAGE,
                Perm.INCIDENT_RECORD_READ,
                # Knows where patient data lives and where exports went.
                Perm.ASSETS_ASSET_READ,
                Perm.ASSETS_ASSET_MANAGE,
                Perm.ASSETS_MANIFEST_READ,
                Perm.ASSETS_DISCOVERY_RUN,
                Perm.ASSETS_FINDING_READ,
                Perm.ASSETS_FINDING_TRIAGE,
                # Writes privacy policies; the second approver of a revision.
                Perm.ASSESSMENT_RESULT_READ,
                Perm.POLICY_DOCUMENT_MANAGE,
                Perm.POLICY_DOCUMENT_APPROVE,
                # Breach assessment and notification (issue 19).
                Perm.INCIDENT_BREACH_MANAGE,
                # Vendors, their agreements and what they receive (issue 16).
                Perm.VENDOR_VENDOR_READ,
                Perm.VENDOR_VENDOR_MANAGE,
                Perm.VENDOR_ASSESSMENT_REVIEW,
                # Visitors of restricted patients; breach scope of a lost device (issue 15).
                Perm.FACILITY_VISITOR_READ,
                Perm.FACILITY_CUSTODY_READ,
            }
        ),
        privileged=True,
    ),
    RoleSpec(
        "auditor",
        "Auditor",
        "Reads the audit trail and the compliance evidence; changes nothing.",
        frozenset(
            {
                Perm.IDENTITY_USER_VIEW,
                Perm.AUDIT_EVENT_READ,
                Perm.AUDIT_REPORT_EXPORT,
                Perm.CRYPTO_KEY_READ,
                # Read-only: alerts, incidents and the review history, never
                # triage, containment, incident changes or review decisions.
                Perm.DETECTION_ALERT_READ,
                Perm.INCIDENT_RECORD_READ,
                Perm.AUDIT_REVIEW_READ,
                Perm.ASSETS_ASSET_READ,
                Perm.ASSESSMENT_RESULT_READ,
                Perm.DEVICES_DEVICE_READ,
                Perm.FACILITY_AREA_READ,
                Perm.FACILITY_CUSTODY_READ,
                Perm.PATCHING_FINDING_READ,
                Perm.VENDOR_VENDOR_READ,
                Perm.CONTINUITY_STATUS_READ,
            }
        ),
        privileged=True,
    ),
    RoleSpec(
        "compliance_officer",
        "Compliance officer",
        "Runs the control tests and assessments, keeps the risk register and the policy library.",
        frozenset(
            {
                Perm.IDENTITY_USER_VIEW,
                Perm.AUDIT_EVENT_READ,
                Perm.ASSESSMENT_RESULT_READ,
                Perm.ASSESSMENT_CONTROL_RUN,
                Perm.ASSESSMENT_EXCEPTION_APPROVE,
                Perm.ASSESSMENT_CAMPAIGN_MANAGE,
                Perm.ASSESSMENT_RISK_MANAGE,
                Perm.POLICY_DOCUMENT_MANAGE,
                Perm.POLICY_DOCUMENT_APPROVE,
                Perm.WORKFORCE_PERSON_READ,
                Perm.ASSETS_ASSET_READ,
                Perm.INCIDENT_RECORD_READ,
                Perm.DEVICES_DEVICE_READ,
                Perm.FACILITY_AREA_READ,
                Perm.PATCHING_FINDING_READ,
                Perm.PATCHING_EXCEPTION_APPROVE,
                Perm.VENDOR_VENDOR_READ,
                Perm.VENDOR_ASSESSMENT_REVIEW,
                Perm.CONTINUITY_STATUS_READ,
            }
        ),
        privileged=True,
    ),
    RoleSpec(
        "biomedical_engineer",
        "Biomedical engineer",
        "Keeps the medical devices: inventory, MDS2 statements, compensating controls, vendor patches. "
        "Never reads clinical data.",
        frozenset(
            {
                Perm.ASSETS_ASSET_READ,
                Perm.DEVICES_DEVICE_READ,
                Perm.DEVICES_DEVICE_MANAGE,
                Perm.PATCHING_FINDING_READ,
                Perm.PATCHING_INVENTORY_IMPORT,
                Perm.PATCHING_FINDING_TRIAGE,
                Perm.FACILITY_CUSTODY_READ,
                Perm.FACILITY_CUSTODY_MANAGE,
            }
        ),
    ),
    RoleSpec(
        "security_desk",
        "Security desk",
        "Runs the front desk: signs visitors in and out and watches the doors of secure areas. "
        "Never reads clinical data.",
        frozenset(
            {
                Perm.FACILITY_AREA_READ,
                Perm.FACILITY_VISITOR_MANAGE,
            }
        ),
    ),
    RoleSpec(
        "vendor",
        "Vendor",
        "Third-party staff with time-boxed access to their own vendor portal only.",
        frozenset({Perm.VENDOR_PORTAL_ACCESS}),
    ),
)

BY_CODE: dict[str, RoleSpec] = {spec.code: spec for spec in CATALOG}


def sync_roles(role_model: type) -> int:
    """Make the stored roles match CATALOG; returns how many rows changed.
    Takes the model class so migrations can pass their historical model."""
    changed = 0
    for spec in CATALOG:
        values = {
            "name": spec.name,
            "description": spec.description,
            "permissions": sorted(str(p) for p in spec.permissions),
            "privileged": spec.privileged,
            "remote_access": spec.remote_access,
        }
        role, created = role_model.objects.get_or_create(code=spec.code, defaults=values)  # type: ignore[attr-defined]
        if created:
            changed += 1
            continue
        if any(getattr(role, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(role, field, value)
            role.save()
            changed += 1
    return changed
