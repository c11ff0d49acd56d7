"""The access policy for patient data: a pure function.

`decide(subject, resource, action, context) -> Decision` reads nothing but its
arguments (no database, no clock, no settings), so it can be tested
exhaustively and its decision table (docs/clinical-policy.md) is checked
row by row by tests/clinical/test_policy_table.py.

Inputs, all plain values the gateway gathers before asking:

* `Subject`: the permissions the person holds *now* (roles, already narrowed
  by the workforce permission filter), their workforce access level, or a
  system actor (the FHIR import).
* `Resource`: one patient as the policy sees it: the subject's relationships
  to the patient, the patient's flags, patient-requested restrictions that
  apply to this subject, and whether the subject holds an active
  break-glass grant for this patient.
* `action`: read / search / export / print, or a write: create / update of a
  `Section`.
* `AccessContext`: may this session reach patient data from where it is
  (network zone and MFA recency, `identity.access.patient_data_reachable`),
  whether that zone is a clinical one, the posture of the device the session
  comes from (`DevicePosture`, given by the provider the devices app
  registers with `identity.access`), and the purpose of use.

Outcome: PERMIT with a field mask (the sections to disclose and whether
items marked sensitive are included), DENY, or BREAK_GLASS (denied, but the
subject may break the glass for this patient).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum

from safeward.identity.permissions import Perm


class Effect(StrEnum):
    PERMIT = "permit"
    DENY = "deny"
    BREAK_GLASS = "break_glass"


class Section(StrEnum):
    """The parts of a record a decision can disclose (the field mask)."""

    DEMOGRAPHICS = "demographics"  # MRN, names, birth date, sex, flags, deceased
    CONTACT = "contact"  # address, phone, e-mail
    NATIONAL_ID = "national_id"
    INSURANCE = "insurance"
    APPOINTMENTS = "appointments"
    ENCOUNTERS = "encounters"
    PROBLEMS = "problems"  # conditions: ICD-10-CM / SNOMED codes and display
    NOTES = "notes"
    MEDICATIONS = "medications"
    ALLERGIES = "allergies"
    ORDERS = "orders"  # observations ordered, not yet resulted
    RESULTS = "results"  # vitals and lab results
    DOCUMENTS = "documents"
    CARE_TEAM = "care_team"
    IMMUNIZATIONS = "immunizations"  # vaccines given: CVX code, display, date
    PROCEDURES = "procedures"  # procedures performed: SNOMED CT code, display, dates, reason
    REPORTS = "reports"  # diagnostic reports: LOINC panel, its results, conclusion


class Relationship(StrEnum):
    CARE_TEAM = "care_team"  # a current care-team membership
    ATTENDING = "attending"  # attending of an active (or recently ended) encounter
    DEPARTMENT = "department"  # the patient has an active encounter in the subject's department
    APPOINTMENT_TODAY = "appointment_today"  # booked today with the subject or their department


DIRECT = frozenset({Relationship.CARE_TEAM, Relationship.ATTENDING})


class Action(StrEnum):
    READ = "read"
    SEARCH = "search"
    EXPORT = "export"
    PRINT = "print"
    CREATE = "create"
    UPDATE = "update"
    DISCHARGE = "discharge"  # end an encounter: the ADT desk, or a clinician caring for the patient
    DOWNLOAD = "download"  # a document's file: patient data leaves the screen for the device
    # Record (or verify) a dose given against an existing order: nursing work,
    # apart from prescribing (a create of the medications section), ADR 1420.
    ADMINISTER = "administer"


READ_ACTIONS = frozenset({Action.READ, Action.SEARCH, Action.EXPORT, Action.PRINT, Action.DOWNLOAD})
# Actions by which patient data leaves the screen for the device's disk or a printer.
LEAVING_ACTIONS = frozenset({Action.EXPORT, Action.PRINT, Action.DOWNLOAD})


class DevicePosture(StrEnum):
    """The device a session comes from, as the devices app knows it (ADR 1012)."""

    UNIDENTIFIED = "unidentified"  # no client certificate from a trusted proxy: limited in strict mode only
    COMPLIANT = "compliant"  # in the inventory, its MDM reports it compliant and recent
    UNMANAGED = "unmanaged"  # a certificate the inventory does not know, or no MDM report
    NON_COMPLIANT = "non_compliant"  # its MDM reports it non-compliant, or its report is stale
    LOST = "lost"  # reported lost or stolen


# An accounting of disclosures is made at the patient's request (HIPAA
# 164.528): with this purpose, whoever keeps the accounting may search for the
# patient (demographics only, to tell patients apart) and nothing more. The
# same holds for the privacy office's compliance reviews (break-glass and
# unexplained-access queues name their patients).
ACCOUNTING_PURPOSE = "PATRQT"
COMPLIANCE_PURPOSE = "HCOMPL"
PRIVACY_OFFICE_PURPOSES = frozenset({ACCOUNTING_PURPOSE, COMPLIANCE_PURPOSE})


class WorkforceLevel(StrEnum):
    """Mirrors safeward.workforce.policy.AccessLevel (plus UNMANAGED)."""

    UNMANAGED = "unmanaged"
    FULL = "full"
    TRAINING_DUE = "training_due"
    CLINICAL_READ_ONLY = "clinical_read_only"
    BLOCKED = "blocked"
    ENDED = "ended"


# Which permission discloses which section (any one of them suffices).
SECTION_PERMISSIONS: dict[Section, frozenset[Perm]] = {
    Section.DEMOGRAPHICS: frozenset({Perm.CLINICAL_PATIENT_READ}),
    Section.CONTACT: frozenset(
        {Perm.CLINICAL_PATIENT_REGISTER, Perm.CLINICAL_CHART_READ, Perm.CLINICAL_INSURANCE_READ}
    ),
    Section.NATIONAL_ID: frozenset({Perm.CLINICAL_PATIENT_REGISTER, Perm.CLINICAL_INSURANCE_READ}),
    Section.INSURANCE: frozenset({Perm.CLINICAL_PATIENT_REGISTER, Perm.CLINICAL_INSURANCE_READ}),
    Section.APPOINTMENTS: frozenset({Perm.CLINICAL_APPOINTMENT_READ}),
    Section.ENCOUNTERS: frozenset({Perm.CLINICAL_CHART_READ, Perm.CLINICAL_CODING_READ}),
    Section.PROBLEMS: frozenset({Perm.CLINICAL_CHART_READ, Perm.CLINICAL_CODING_READ}),
    Section.NOTES: frozenset({Perm.CLINICAL_NOTE_READ}),
    Section.MEDICATIONS: frozenset({Perm.CLINICAL_MEDICATION_READ}),
    Section.ALLERGIES: frozenset({Perm.CLINICAL_ALLERGY_READ}),
    Section.ORDERS: frozenset({Perm.CLINICAL_ORDER_READ}),
    Section.RESULTS: frozenset({Perm.CLINICAL_RESULT_READ}),
    Section.DOCUMENTS: frozenset({Perm.CLINICAL_CHART_READ}),
    Section.CARE_TEAM: frozenset({Perm.CLINICAL_CHART_READ}),
    # Vaccines are medications: the pharmacist checks them with the medication list.
    Section.IMMUNIZATIONS: frozenset({Perm.CLINICAL_CHART_READ, Perm.CLINICAL_MEDICATION_READ}),
    # Procedure codes are billed, like diagnoses and encounters.
    Section.PROCEDURES: frozenset({Perm.CLINICAL_CHART_READ, Perm.CLINICAL_CODING_READ}),
    # A report is its results grouped: whoever reads results reads it, nobody else.
    Section.REPORTS: frozenset({Perm.CLINICAL_RESULT_READ}),
}

# Which permissions allow a write of a section (any one of them).
WRITE_PERMISSIONS: dict[Section, frozenset[Perm]] = {
    Section.DEMOGRAPHICS: frozenset({Perm.CLINICAL_PATIENT_REGISTER}),
    Section.CONTACT: frozenset({Perm.CLINICAL_PATIENT_REGISTER}),
    Section.NATIONAL_ID: frozenset({Perm.CLINICAL_PATIENT_REGISTER}),
    Section.INSURANCE: frozenset({Perm.CLINICAL_PATIENT_REGISTER}),
    Section.APPOINTMENTS: frozenset({Perm.CLINICAL_APPOINTMENT_MANAGE}),
    # Admission / check-in is an ADT (registration) function: a clinician
    # cannot make themselves attending to gain a relationship.
    Section.ENCOUNTERS: frozenset({Perm.CLINICAL_APPOINTMENT_MANAGE}),
    Section.PROBLEMS: frozenset({Perm.CLINICAL_CHART_WRITE}),
    Section.NOTES: frozenset({Perm.CLINICAL_NOTE_WRITE}),
    Section.MEDICATIONS: frozenset({Perm.CLINICAL_MEDICATION_PRESCRIBE}),
    Section.ALLERGIES: frozenset({Perm.CLINICAL_CHART_WRITE}),
    Section.ORDERS: frozenset({Perm.CLINICAL_ORDER_WRITE}),
    # Vitals are charted by the care team, lab results by the laboratory.
    Section.RESULTS: frozenset({Perm.CLINICAL_RESULT_WRITE, Perm.CLINICAL_CHART_WRITE}),
    Section.DOCUMENTS: frozenset({Perm.CLINICAL_CHART_WRITE}),
    Section.CARE_TEAM: frozenset({Perm.CLINICAL_CHART_WRITE}),
    Section.IMMUNIZATIONS: frozenset({Perm.CLINICAL_CHART_WRITE}),
    Section.PROCEDURES: frozenset({Perm.CLINICAL_CHART_WRITE}),
    Section.REPORTS: frozenset({Perm.CLINICAL_RESULT_WRITE}),
}

# Who records a dose given against an existing order (ADR 1420): whoever
# gives medication on the ward, and a prescriber, who may give what they order.
# Neither permission lets anyone write an order: that stays `prescribe`.
ADMINISTER_PERMISSIONS = frozenset({Perm.CLINICAL_MEDICATION_ADMINISTER, Perm.CLINICAL_MEDICATION_PRESCRIBE})

# Writes that are administrative (registration, scheduling, admission): they
# need no care relationship. Every other write is clinical and needs one.
ADMINISTRATIVE_WRITES = frozenset(
    {
        Section.DEMOGRAPHICS,
        Section.CONTACT,
        Section.NATIONAL_ID,
        Section.INSURANCE,
        Section.APPOINTMENTS,
        Section.ENCOUNTERS,
    }
)
# Results are written by the laboratory, which serves every ward: a service
# role (one that does not treat) records them without a care relationship.
SERVICE_WRITES = frozenset({Section.RESULTS, Section.REPORTS})
# What a payer restriction keeps from non-treating roles: the codes a claim carries.
PAYER_CODED = frozenset({Section.PROBLEMS, Section.ENCOUNTERS, Section.PROCEDURES})


@dataclass(frozen=True)
class Subject:
    user_id: int | None
    permissions: frozenset[str]
    workforce: WorkforceLevel = WorkforceLevel.UNMANAGED
    system: bool = False  # a system actor (the FHIR import), never a person

    def has(self, perm: Perm) -> bool:
        return perm.value in self.permissions

    @property
    def treats(self) -> bool:
        """A treating role: reads the chart, so it needs a care relationship."""
        return self.has(Perm.CLINICAL_CHART_READ)


@dataclass(frozen=True)
class Resource:
    """One patient as the policy sees it (None id: a patient not yet created)."""

    patient_id: str | None = None
    relationships: frozenset[Relationship] = frozenset()
    confidential: bool = False
    vip: bool = False
    employee: bool = False
    excluded_by_patient: bool = False  # a restriction names this subject or their department
    payer_restricted: bool = False  # the patient asked that codes not go to the payer
    break_glass_active: bool = False


@dataclass(frozen=True)
class AccessContext:
    reachable: bool = True  # network zone and MFA recency allow patient data here
    reachable_reason: str = "clinical_zone"
    purpose: str = "TREAT"
    device: DevicePosture = DevicePosture.UNIDENTIFIED
    zone_clinical: bool = True  # the session is inside a clinical network zone
    # Strict mode (ADR 1015): an unidentified device is limited as an unmanaged one.
    device_strict: bool = False


@dataclass(frozen=True)
class Decision:
    effect: Effect
    reason: str
    sections: frozenset[Section] = field(default_factory=frozenset)
    include_sensitive: bool = False
    emergency: bool = False  # permitted because of an active break-glass grant

    @property
    def permitted(self) -> bool:
        return self.effect is Effect.PERMIT

    def allows(self, section: Section) -> bool:
        return self.permitted and section in self.sections


def deny(reason: str) -> Decision:
    return Decision(Effect.DENY, reason)


def role_sections(subject: Subject) -> frozenset[Section]:
    """Every section the subject's permissions could disclose (before relationship)."""
    return _sections_of(subject.permissions)


@functools.lru_cache(maxsize=256)
def _sections_of(permissions: frozenset[str]) -> frozenset[Section]:
    # Asked once per patient of a list: the answer depends only on the permission set.
    return frozenset(
        section
        for section, perms in SECTION_PERMISSIONS.items()
        if any(perm.value in permissions for perm in perms)
    )


def device_refusal(action: Action, context: AccessContext) -> str | None:
    """Why the device the session comes from refuses this action (None: it does not).
    Views ask it before the gateway to say why a download is refused; the policy
    asks it in its gate, so nothing, not even break-glass, overrides it."""
    device = context.device
    if device is DevicePosture.LOST:
        return "device_lost"
    if device is DevicePosture.NON_COMPLIANT and not context.zone_clinical:
        return "device_non_compliant_remote"
    if action in LEAVING_ACTIONS and device in (DevicePosture.UNMANAGED, DevicePosture.NON_COMPLIANT):
        return f"device_{device.value}"
    if action in LEAVING_ACTIONS and device is DevicePosture.UNIDENTIFIED and context.device_strict:
        return "device_unidentified"
    return None


def _gate(subject: Subject, action: Action, context: AccessContext) -> Decision | None:
    """Denials that nothing, not even break-glass, overrides."""
    if subject.system:
        return None
    if subject.workforce in (WorkforceLevel.ENDED, WorkforceLevel.BLOCKED):
        return deny(f"workforce_{subject.workforce.value}")
    if action not in READ_ACTIONS and subject.workforce is WorkforceLevel.CLINICAL_READ_ONLY:
        return deny("workforce_clinical_read_only")
    if not subject.has(Perm.CLINICAL_PATIENT_READ):
        return deny("no_clinical_role")
    if not context.reachable:
        return deny(f"zone_{context.reachable_reason}")
    refusal = device_refusal(action, context)
    if refusal is not None:
        return deny(refusal)
    return None


def _accounting_search(subject: Subject, context: AccessContext) -> Decision:
    """The privacy office finds the patient whose accounting it prepares, or
    names the patients of its review queues: any patient (a confidential or
    restricted one too: they are owed an accounting like anybody),
    demographics only, never the chart."""
    if subject.system:
        return deny("system_actor_reads_nothing")
    if subject.workforce in (WorkforceLevel.ENDED, WorkforceLevel.BLOCKED):
        return deny(f"workforce_{subject.workforce.value}")
    if not subject.has(Perm.AUDIT_DISCLOSURE_READ):
        return deny("permission")
    if not context.reachable:
        return deny(f"zone_{context.reachable_reason}")
    refusal = device_refusal(Action.SEARCH, context)
    if refusal is not None:
        return deny(refusal)
    return Decision(Effect.PERMIT, "accounting_of_disclosures", frozenset({Section.DEMOGRAPHICS}))


def _no_access(subject: Subject, reason: str) -> Decision:
    if subject.has(Perm.CLINICAL_BREAKGLASS_USE):
        return Decision(Effect.BREAK_GLASS, reason)
    return deny(reason)


def _read(subject: Subject, resource: Resource, action: Action) -> Decision:
    sections = role_sections(subject)
    if resource.break_glass_active and subject.has(Perm.CLINICAL_BREAKGLASS_USE):
        return Decision(Effect.PERMIT, "break_glass", sections, include_sensitive=True, emergency=True)
    if resource.excluded_by_patient:
        return _no_access(subject, "patient_restriction")
    rels = resource.relationships
    direct = bool(rels & DIRECT)
    if resource.confidential and not (direct or (not subject.treats and rels)):
        return _no_access(subject, "confidential_patient")
    if resource.payer_restricted and not subject.treats:
        sections = sections - PAYER_CODED
    if action is Action.SEARCH:
        # A search result discloses demographics only; opening the record decides again.
        return Decision(Effect.PERMIT, "search", frozenset({Section.DEMOGRAPHICS}))
    if subject.treats:
        if not rels:
            return _no_access(subject, "no_relationship")
        reason = sorted(r.value for r in rels)[0]
        return Decision(Effect.PERMIT, reason, sections, include_sensitive=direct)
    # Hospital-wide service roles (registration, billing, laboratory,
    # pharmacy): their masks are narrow and need no care relationship;
    # sensitive items only with a direct relationship.
    return Decision(Effect.PERMIT, "service_role", sections, include_sensitive=direct)


def _write(subject: Subject, resource: Resource, section: Section) -> Decision:
    if subject.system:
        return Decision(Effect.PERMIT, "system_import", frozenset({section}), include_sensitive=True)
    if not any(subject.has(perm) for perm in WRITE_PERMISSIONS[section]):
        return deny("permission")
    if resource.patient_id is None or section in ADMINISTRATIVE_WRITES:
        if resource.confidential and resource.patient_id is not None and not resource.relationships:
            return _no_access(subject, "confidential_patient")
        return Decision(Effect.PERMIT, "administrative", frozenset({section}))
    if resource.break_glass_active and subject.has(Perm.CLINICAL_BREAKGLASS_USE):
        return Decision(
            Effect.PERMIT, "break_glass", frozenset({section}), include_sensitive=True, emergency=True
        )
    if resource.excluded_by_patient:
        return _no_access(subject, "patient_restriction")
    if section in SERVICE_WRITES and not subject.treats and not resource.confidential:
        return Decision(Effect.PERMIT, "service_role", frozenset({section}))
    if not resource.relationships:
        return _no_access(subject, "no_relationship")
    if resource.confidential and not resource.relationships & DIRECT:
        return _no_access(subject, "confidential_patient")
    direct = bool(resource.relationships & DIRECT)
    return Decision(Effect.PERMIT, "relationship", frozenset({section}), include_sensitive=direct)


def _discharge(subject: Subject, resource: Resource) -> Decision:
    """The ADT desk discharges as it admits (administrative); a clinician
    holding `clinical:encounter:discharge` only a patient in their care."""
    if subject.has(Perm.CLINICAL_APPOINTMENT_MANAGE):
        return _write(subject, resource, Section.ENCOUNTERS)
    if not subject.has(Perm.CLINICAL_ENCOUNTER_DISCHARGE):
        return deny("permission")
    if resource.break_glass_active and subject.has(Perm.CLINICAL_BREAKGLASS_USE):
        return Decision(Effect.PERMIT, "break_glass", frozenset({Section.ENCOUNTERS}), emergency=True)
    if resource.excluded_by_patient:
        return _no_access(subject, "patient_restriction")
    if not resource.relationships:
        return _no_access(subject, "no_relationship")
    if resource.confidential and not resource.relationships & DIRECT:
        return _no_access(subject, "confidential_patient")
    return Decision(Effect.PERMIT, "relationship", frozenset({Section.ENCOUNTERS}))


def _administer(subject: Subject, resource: Resource) -> Decision:
    """A dose given against one of the patient's orders (ADR 1420): a clinical
    write of the medications section, decided like one, but with
    ADMINISTER_PERMISSIONS instead of prescribing. Every relationship counts:
    the nurse on the care team, and the ward's nurses through `department`
    (the patient's active encounter is in their department)."""
    if subject.system:
        return deny("system_actor_administers_nothing")
    if not any(subject.has(perm) for perm in ADMINISTER_PERMISSIONS):
        return deny("permission")
    if resource.patient_id is None:
        return deny("no_patient")
    if resource.break_glass_active and subject.has(Perm.CLINICAL_BREAKGLASS_USE):
        return Decision(
            Effect.PERMIT,
            "break_glass",
            frozenset({Section.MEDICATIONS}),
            include_sensitive=True,
            emergency=True,
        )
    if resource.excluded_by_patient:
        return _no_access(subject, "patient_restriction")
    if not resource.relationships:
        return _no_access(subject, "no_relationship")
    direct = bool(resource.relationships & DIRECT)
    if resource.confidential and not direct:
        return _no_access(subject, "confidential_patient")
    return Decision(Effect.PERMIT, "relationship", frozenset({Section.MEDICATIONS}), include_sensitive=direct)


def decide(
    subject: Subject,
    resource: Resource,
    action: Action,
    context: AccessContext,
    *,
    section: Section | None = None,
) -> Decision:
    """The one access decision. `section` names what a create/update writes."""
    if action is Action.SEARCH and context.purpose in PRIVACY_OFFICE_PURPOSES:
        return _accounting_search(subject, context)
    gate = _gate(subject, action, context)
    if gate is not None:
        return gate
    if action in READ_ACTIONS:
        if subject.system:
            return deny("system_actor_reads_nothing")
        return _read(subject, resource, action)
    if action is Action.DISCHARGE:
        return _discharge(subject, resource)
    if action is Action.ADMINISTER:
        return _administer(subject, resource)
    if section is None:
        raise ValueError("a write decision needs the section it writes")
    return _write(subject, resource, section)
