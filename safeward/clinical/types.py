"""What goes in and out of the clinical gateway: plain, frozen dataclasses.

Views, the REST/FHIR layers and commands import these (never the models).
Every id is the row's opaque UUID as a string. A field the decision's mask
did not allow is None (and its section is missing from `sections`)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from safeward.clinical.policy import Section

if TYPE_CHECKING:
    from django.http import HttpRequest


class NotFound(Exception):
    """The record does not exist or the caller may not see it (one error for both)."""

    def __init__(self) -> None:
        super().__init__("No such record.")


class InvalidInput(Exception):
    """Bad input; `errors` maps a field name to a message that holds no value."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


class Conflict(Exception):
    """The write collides with existing state (slot taken, form already submitted, MRN in use)."""


class Forbidden(Exception):
    """Not allowed, where the record's existence is not in question (e.g. register a
    patient without the permission). Reads never raise this: they raise NotFound."""


class NeedsConfirmation(InvalidInput):
    """Saved only when the caller confirms (a value outside the usual range);
    `errors` say why, without the value."""


class AllergyWarning(Exception):
    """The medication falls under an active allergy of the patient: ordered only
    with an override reason. `matches` are `safety.AllergyMatch` rows;
    `patient` names whose allergy it is (the demographics a chart read shows)."""

    def __init__(self, matches: list[Any], *, patient: PatientView | None = None) -> None:
        super().__init__("The medication falls under a recorded allergy.")
        self.matches = matches
        self.patient = patient


class PossibleDuplicates(Exception):
    """Registration found patients with the same name and date of birth: saved
    only when the clerk confirms. `candidates` are search-result views."""

    def __init__(self, candidates: list[PatientView]) -> None:
        super().__init__("Possible duplicate patients.")
        self.candidates = candidates


@dataclass(frozen=True)
class SystemActor:
    """A non-human actor, e.g. the FHIR import. Writes only; reads nothing."""

    name: str


@dataclass(frozen=True)
class SessionContext:
    """Where and how the caller is signed in, as the policy needs it.

    `reachable`/`reachable_reason`: `identity.access.patient_data_reachable`
    for this session and network zone. `section_limit` narrows any decision
    further (an OAuth token's scopes; never widens). `patient_limit`: the one
    patient the session may reach (a token with `patient/` scopes only);
    every other patient is denied, as if missing. `step_up_fresh`: a second
    factor passed within the step-up window (break-glass needs it)."""

    session_id: str | None
    reachable: bool
    reachable_reason: str
    step_up_fresh: bool = False
    section_limit: frozenset[Section] | None = None
    patient_limit: str | None = None
    # The device the session comes from (`identity.access.device_posture_for`, a
    # `policy.DevicePosture` value) and whether its network zone is clinical.
    device_posture: str = "unidentified"
    zone_clinical: bool = True

    @classmethod
    def from_request(cls, request: HttpRequest) -> SessionContext:
        from safeward.identity.access import device_posture_for, patient_data_reachable, step_up_satisfied
        from safeward.identity.models import User

        user_session = getattr(request, "safeward_session", None)
        zone = getattr(request, "safeward_zone", None)
        user = request.user
        if not isinstance(user, User):
            return cls(session_id=None, reachable=False, reachable_reason="anonymous")
        decision = patient_data_reachable(
            user=user, user_session=user_session, zone_clinical=bool(zone is not None and zone.clinical)
        )
        return cls(
            session_id=str(user_session.pk) if user_session is not None else None,
            reachable=decision.allowed,
            reachable_reason=decision.reason,
            step_up_fresh=step_up_satisfied(user_session=user_session),
            device_posture=device_posture_for(request),
            zone_clinical=bool(zone is not None and zone.clinical),
        )

    @classmethod
    def system(cls) -> SessionContext:
        return cls(session_id=None, reachable=True, reachable_reason="system", step_up_fresh=False)


# --- outputs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientView:
    id: str
    sections: frozenset[Section]
    restricted: bool = False  # a search row the caller may only break the glass for
    mrn: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None
    gender_identity: str | None = None
    deceased: bool | None = None
    deceased_date: dt.date | None = None
    flags: tuple[str, ...] = ()
    address: dict[str, Any] | None = None
    phone: str | None = None
    email: str | None = None
    national_id: str | None = None
    insurance: dict[str, Any] | None = None

    @property
    def display_name(self) -> str:
        if self.family_name is None:
            return "Restricted record"
        return f"{self.family_name.upper()}, {self.given_name}"


@dataclass(frozen=True)
class SearchPage:
    results: list[PatientView]
    page: int
    has_next: bool
    capped: bool  # more matches than the cap: narrow the search
    # The criteria do not single out a person, so only patients with a care
    # relationship were searched (add the date of birth or an identifier).
    narrowed: bool = False


# Readable labels of the plain status codes (the models' choices, which
# views and templates cannot import).
APPOINTMENT_STATUS_LABELS = {
    "booked": "Booked",
    "checked_in": "Checked in",
    "cancelled": "Cancelled",
    "noshow": "No show",
}
ENCOUNTER_STATUS_LABELS = {
    "planned": "Planned",
    "arrived": "Arrived",
    "in_progress": "In progress",
    "finished": "Finished",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True)
class EncounterView:
    id: str
    kind: str
    status: str
    department: str
    attending: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    reason: str | None
    sensitivity: str
    ward_id: str | None = None  # set by a discharge from a bed: the ward the patient left

    @property
    def status_label(self) -> str:
        return ENCOUNTER_STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class NoteView:
    id: str
    kind: str
    title: str
    text: str
    author: str
    created_at: dt.datetime
    encounter_id: str | None
    sensitivity: str
    author_id: int | None = None
    amends: str | None = None  # the version this one replaces (append-only amendment)
    amendment_reason: str | None = None
    previous: tuple[NoteView, ...] = ()  # earlier versions, newest first (in the chart)


@dataclass(frozen=True)
class ConditionView:
    id: str
    code_system: str
    code: str
    display: str
    clinical_status: str
    onset: dt.date | None
    recorded_at: dt.datetime
    sensitivity: str


@dataclass(frozen=True)
class AllergyView:
    id: str
    substance: str
    reaction: str | None
    criticality: str
    clinical_status: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class MedicationView:
    id: str
    medication: str
    rxnorm: str | None
    dosage: str | None
    status: str
    authored_at: dt.datetime
    requester: str
    sensitivity: str
    override_reason: str | None = None  # why it was ordered despite an allergy warning
    verification: str = ""  # pharmacist verification: "", pending, verified, queried
    verification_note: str | None = None  # the pharmacist's query to the prescriber


# How a dose was given (MedicationAdministration.route): the paper MAR's usual routes.
ADMINISTRATION_ROUTES: tuple[tuple[str, str], ...] = (
    ("oral", "By mouth"),
    ("sublingual", "Under the tongue"),
    ("iv", "Intravenous"),
    ("im", "Intramuscular"),
    ("sc", "Subcutaneous"),
    ("inhaled", "Inhaled"),
    ("topical", "On the skin"),
    ("rectal", "Rectal"),
    ("enteral_tube", "Enteral tube"),
)


@dataclass(frozen=True)
class AdministrationView:
    """A dose given against an order (ADR 1419). `late_entry_at` is set when
    it was entered from the paper MAR after a downtime; such a dose is
    verified by a second person (`verified_by`, `verified_at`, ADR 1420)."""

    id: str
    request_id: str
    dose: str
    dose_unit: str
    route: str
    administered_at: dt.datetime
    late_entry_at: dt.datetime | None
    medication: str = ""
    recorded_by: str = ""
    verified_by: str = ""
    verified_at: dt.datetime | None = None
    sensitivity: str = ""

    @property
    def source(self) -> str:
        return "paper (downtime)" if self.late_entry_at is not None else "chart"

    @property
    def route_display(self) -> str:
        return dict(ADMINISTRATION_ROUTES).get(self.route, self.route)


@dataclass(frozen=True)
class ObservationView:
    id: str
    category: str
    status: str
    code: str
    display: str
    value: str | None
    unit: str
    effective_at: dt.datetime
    sensitivity: str
    previous_values: tuple[str, ...] = ()  # values a correction replaced, newest first (in the chart)
    late_entry_at: dt.datetime | None = None  # entered from paper after a downtime, at this time


@dataclass(frozen=True)
class ImmunizationView:
    id: str
    status: str
    vaccine_code: str  # CVX
    vaccine: str
    occurred_at: dt.datetime
    sensitivity: str


@dataclass(frozen=True)
class ProcedureView:
    id: str
    status: str
    code: str  # SNOMED CT
    display: str
    performed_at: dt.datetime
    performed_end: dt.datetime | None
    reason: str | None
    sensitivity: str


@dataclass(frozen=True)
class ReportView:
    """A diagnostic report; `result_ids` are its observations (ObservationView ids)."""

    id: str
    status: str
    category: str
    code: str  # LOINC
    display: str
    effective_at: dt.datetime
    issued_at: dt.datetime | None
    conclusion: str | None
    result_ids: tuple[str, ...]
    sensitivity: str


@dataclass(frozen=True)
class AppointmentView:
    id: str
    patient_id: str
    patient: PatientView | None
    department: str
    department_id: int
    clinician: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    reason: str | None
    encounter_id: str | None

    @property
    def status_label(self) -> str:
        return APPOINTMENT_STATUS_LABELS.get(self.status, self.status)

    @property
    def local_day(self) -> dt.date:
        """The appointment's day in the hospital's time zone (settings.TIME_ZONE)."""
        from django.utils import timezone

        return timezone.localtime(self.starts_at).date()


@dataclass(frozen=True)
class SlotView:
    id: str
    department_id: int
    clinician: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    appointment: AppointmentView | None
    blocked: bool


@dataclass(frozen=True)
class DocumentView:
    id: str
    title: str
    content_type: str
    size: int
    created_at: dt.datetime
    sensitivity: str


@dataclass(frozen=True)
class CareTeamView:
    id: str
    user_id: int
    name: str
    role: str
    ends_at: dt.datetime | None


@dataclass(frozen=True)
class CorrectionView:
    """One correction of a chart row: the fields it changed and the values
    they had before (only fields of sections the reader may see)."""

    id: str
    resource_type: str
    resource_id: str
    changed: tuple[str, ...]
    before: dict[str, Any]
    reason: str | None
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class AmendmentRequestView:
    """A patient's request to amend the record, and its outcome."""

    id: str
    patient_id: str
    status: str
    request: str
    received_at: dt.datetime
    received_by: str
    decided_at: dt.datetime | None
    decided_by: str
    denial_reason: str | None
    disagreement: str | None
    applied_type: str
    applied_id: str | None


@dataclass(frozen=True)
class Chart:
    patient: PatientView
    sections: frozenset[Section]
    emergency: bool
    encounters: list[EncounterView] | None = None
    notes: list[NoteView] | None = None
    problems: list[ConditionView] | None = None
    medications: list[MedicationView] | None = None
    administrations: list[AdministrationView] | None = None  # doses given: shown with the medications
    allergies: list[AllergyView] | None = None
    orders: list[ObservationView] | None = None
    results: list[ObservationView] | None = None
    appointments: list[AppointmentView] | None = None
    documents: list[DocumentView] | None = None
    care_team: list[CareTeamView] | None = None
    immunizations: list[ImmunizationView] | None = None
    procedures: list[ProcedureView] | None = None
    reports: list[ReportView] | None = None
    corrections: list[CorrectionView] | None = None
    amendment_requests: list[AmendmentRequestView] | None = None
    withheld_sensitive: int = 0  # items not shown: sensitive, and no direct care relationship

    def has(self, section: Section) -> bool:
        return section in self.sections


@dataclass(frozen=True)
class BreakGlassBanner:
    """An active grant as the banner on every page shows it."""

    id: str
    patient_id: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class PageBanners:
    """The clinical banners' facts for one page (`gateway.page_banners`)."""

    break_glass: tuple[BreakGlassBanner, ...]
    critical_results: int
    now: dt.datetime


@dataclass(frozen=True)
class BreakGlassView:
    id: str
    patient_id: str
    user_id: int
    user: str
    reason_kind: str
    justification: str | None
    started_at: dt.datetime
    expires_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str
    review: str
    reviewed_by: str
    reviewed_at: dt.datetime | None
    review_note: str | None
    accesses: int = 0

    def active_at(self, now: dt.datetime) -> bool:
        return self.ended_at is None and self.started_at <= now < self.expires_at


# --- inputs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientInput:
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str = "unknown"
    mrn: str | None = None  # None: the gateway assigns the next MRN
    gender_identity: str | None = None
    national_id: str | None = None
    address: dict[str, Any] | None = None
    phone: str | None = None
    email: str | None = None
    insurance: dict[str, Any] | None = None
    is_employee: bool = False
    is_vip: bool = False
    is_confidential: bool = False
    deceased_date: dt.date | None = None


@dataclass(frozen=True)
class ImportedEncounter:
    key: str
    kind: str
    status: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    reason: str | None


@dataclass(frozen=True)
class ImportedCondition:
    code_system: str
    code: str
    display: str
    clinical_status: str
    onset: dt.date | None
    recorded_at: dt.datetime
    encounter_key: str | None
    sensitivity: str = ""


@dataclass(frozen=True)
class ImportedObservation:
    category: str
    status: str
    code: str
    display: str
    value: str | None
    unit: str
    effective_at: dt.datetime
    encounter_key: str | None
    sensitivity: str = ""
    source_key: str | None = None  # the bundle key of its Observation resource (reports refer to it)


@dataclass(frozen=True)
class ImportedImmunization:
    status: str
    vaccine_code: str
    vaccine: str
    occurred_at: dt.datetime
    encounter_key: str | None
    sensitivity: str = ""


@dataclass(frozen=True)
class ImportedProcedure:
    status: str
    code: str
    display: str
    performed_at: dt.datetime
    performed_end: dt.datetime | None
    reason: str | None
    encounter_key: str | None
    sensitivity: str = ""


@dataclass(frozen=True)
class ImportedReport:
    """`result_keys`: the bundle keys of its Observation resources (each may
    have become several observations, one per component)."""

    status: str
    category: str
    code: str
    display: str
    effective_at: dt.datetime
    issued_at: dt.datetime | None
    conclusion: str | None
    result_keys: tuple[str, ...]
    encounter_key: str | None
    sensitivity: str = ""


@dataclass(frozen=True)
class ImportedMedication:
    medication: str
    rxnorm: str | None
    status: str
    authored_at: dt.datetime
    encounter_key: str | None
    sensitivity: str = ""


@dataclass(frozen=True)
class ImportedAllergy:
    substance: str
    criticality: str
    clinical_status: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class ImportedPatient:
    patient: PatientInput
    encounters: list[ImportedEncounter] = field(default_factory=list)
    conditions: list[ImportedCondition] = field(default_factory=list)
    observations: list[ImportedObservation] = field(default_factory=list)
    medications: list[ImportedMedication] = field(default_factory=list)
    allergies: list[ImportedAllergy] = field(default_factory=list)
    immunizations: list[ImportedImmunization] = field(default_factory=list)
    procedures: list[ImportedProcedure] = field(default_factory=list)
    reports: list[ImportedReport] = field(default_factory=list)


@dataclass(frozen=True)
class ImportOutcome:
    patient_id: str | None
    created: bool  # False: a patient with this MRN already exists (nothing written)
    counts: dict[str, int]


def new_submission_token() -> str:
    """A one-time token for a form: posting the same form twice saves once."""
    return uuid.uuid4().hex


# --- laboratory worklist and patient-requested restrictions ---------------------------------
@dataclass(frozen=True)
class WorklistItem:
    """One open lab order on the laboratory's worklist, with its patient as a
    search result would show them (demographics only)."""

    order: ObservationView
    patient: PatientView


@dataclass(frozen=True)
class LabWorklist:
    items: list[WorklistItem]
    withheld: int  # open orders the caller may not see (confidential / restricted / sensitive)
    capped: bool  # more open orders than shown: the oldest come first


@dataclass(frozen=True)
class RestrictionView:
    id: str
    kind: str
    user_id: int | None
    user: str
    department_id: int | None
    department: str
    note: str | None  # the patient's request, as recorded (only those who manage restrictions list them)
    starts_at: dt.datetime
    ends_at: dt.datetime | None

    def active_at(self, now: dt.datetime) -> bool:
        return self.starts_at <= now and (self.ends_at is None or self.ends_at > now)


# --- pharmacist verification -----------------------------------------------------------------------
@dataclass(frozen=True)
class MedicationWorklistItem:
    """One medication order awaiting a pharmacist, with its patient as a
    search result would show them (demographics only)."""

    order: MedicationView
    patient: PatientView


@dataclass(frozen=True)
class MedicationWorklist:
    items: list[MedicationWorklistItem]
    withheld: int  # orders the caller may not see (confidential / restricted / sensitive)
    capped: bool  # more orders than shown: the oldest come first


# --- PHI discovery ----------------------------------------------------------------------------------
# The patient blind indexes a stray file's identifiers are checked against:
# kind -> (normaliser, blind-index scope). The scanner keys what it finds with
# `safeward.crypto.fields.compute_blind_indexes(value, normaliser=..., scope=...)`
# and hands only those keyed hashes to `gateway.discovery_match`.
PATIENT_DISCOVERY_INDEXES: dict[str, tuple[str, str]] = {
    "mrn": ("mrn", "clinical.patient.mrn_index"),
    "national_id": ("national_id", "clinical.patient.national_id_index"),
    "birth_date": ("date", "clinical.patient.birth_date_index"),
    "phone": ("phone", "clinical.patient.phone_index"),
    # "Family|YYYY-MM-DD": a name found beside a birth date on one line (ADR 0813).
    "name_dob": ("name_dob", "clinical.patient.name_dob_index"),
}


@dataclass(frozen=True)
class DiscoveryMatch:
    """The patients a file holds: ids only, and how many matched by each identifier."""

    patient_ids: frozenset[str]
    by_kind: dict[str, int]


# --- the visitor desk (issue 15) ----------------------------------------------------------------------
@dataclass(frozen=True)
class VisitorPatient:
    """An inpatient as the visitor desk sees them: a short display name and
    where to go. A confidential patient has no ward or bed here and
    `visiting_allowed` False (the ward confirms, an escort takes the
    visitor); `flagged` (VIP or confidential) tells the privacy officer."""

    id: str
    display_name: str
    ward: str
    bed: str
    visiting_allowed: bool
    flagged: bool


# --- wards, admissions, worklists (issue 12) ---------------------------------------------------------
@dataclass(frozen=True)
class BedSetup:
    """A bed on its ward's settings page (no PHI): removable when no patient ever lay in it."""

    id: str
    label: str
    occupied: bool
    used: bool


@dataclass(frozen=True)
class WardView:
    """A ward and its occupancy (no PHI)."""

    id: str
    code: str
    name: str
    department: str
    department_id: int
    beds: int
    occupied: int

    @property
    def free(self) -> int:
        return self.beds - self.occupied


@dataclass(frozen=True)
class BedChoice:
    id: str
    label: str  # "Ward name · bed label"
    ward_id: str


@dataclass(frozen=True)
class CensusEntry:
    """An occupied bed's patient, as much as the caller may see."""

    patient: PatientView
    encounter_id: str | None  # None: the caller may not see the encounter
    attending: str
    admitted_at: dt.datetime | None


@dataclass(frozen=True)
class CensusBed:
    id: str
    label: str
    occupant: CensusEntry | None


@dataclass(frozen=True)
class WardCensus:
    ward: WardView
    beds: list[CensusBed]


@dataclass(frozen=True)
class AdmissionView:
    """A patient's current admission: where, under whom, since when."""

    encounter_id: str
    patient_id: str
    ward_id: str
    ward: str
    bed_id: str
    bed: str
    department: str
    attending: str
    nurse: str


@dataclass(frozen=True)
class AdmissionDesk:
    """The admission page: the patient (demographics only) and their current admission, if any."""

    patient: PatientView
    current: AdmissionView | None


@dataclass(frozen=True)
class ResultNotificationView:
    id: str
    patient: PatientView
    observation: ObservationView | None  # None: the recipient may no longer read the result
    critical: bool
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None


@dataclass(frozen=True)
class WorklistPatient:
    """One row of a clinician's worklist: a patient and why they are on it."""

    patient: PatientView
    reason: str  # "care team", "attending", "clinic 09:30", ...
    detail: str = ""
    encounter_id: str | None = None
    appointment_id: str | None = None
    status: str = ""

    @property
    def status_label(self) -> str:
        """An appointment row's readable status ("Checked in", not "checked_in")."""
        return APPOINTMENT_STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class PhysicianWorklist:
    my_patients: list[WorklistPatient]
    clinic_today: list[WorklistPatient]
    inpatients: list[WorklistPatient]
    results: list[ResultNotificationView]
