"""The clinical record. PHI MODELS: only `safeward.clinical.gateway` imports
this module (tests/architecture/test_one_door.py enforces it).

Conventions:

* Every model has a UUID primary key: it is the opaque id that URLs carry and
  the row identifier every ciphertext is bound to (docs/crypto.md).
* Identifying or clinical content is encrypted (`Encrypted*Field`); what the
  database must sort, join or index on stays in plain columns: foreign keys,
  statuses, kinds and the sensitivity category (ADR 0500).
* Service dates are dates of the patient (a newborn's first encounter is its
  birth date): they are encrypted, and a query that needs one server-side
  reads only the coarsest plain form that serves it — the year
  (`PlainYearField`) or a keyed day index (ADR 0550; every plain date column
  and its query are listed in docs/clinical.md).
* Exact search goes through blind indexes (`*_index`), partial name search
  through blind prefix tokens (`*_prefixes`); both are computed at save time.
* Sensitive categories (mental health, substance use under 42 CFR Part 2,
  HIV, reproductive health) are marked on each row that carries them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from safeward.clinical.types import ADMINISTRATION_ROUTES
from safeward.crypto.fields import (
    BlindIndexField,
    BlindPrefixField,
    EncryptedDateField,
    EncryptedDateTimeField,
    EncryptedJSONField,
    EncryptedTextField,
    PlainYearField,
)
from safeward.crypto.phi import PhiCategory


class Sensitivity(models.TextChoices):
    NONE = "", "Not sensitive"
    MENTAL_HEALTH = "mental_health", "Mental health"
    SUD = "sud", "Substance use disorder (42 CFR Part 2)"
    HIV = "hiv", "HIV"
    REPRODUCTIVE = "reproductive", "Reproductive health"


def _sensitivity() -> models.CharField[str, str]:
    return models.CharField(max_length=16, choices=Sensitivity.choices, default="", blank=True)


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    mrn = EncryptedTextField(max_length=40, phi_category=PhiCategory.IDENTIFIER)
    given_name = EncryptedTextField(max_length=200, phi_category=PhiCategory.DEMOGRAPHIC)
    family_name = EncryptedTextField(max_length=200, phi_category=PhiCategory.DEMOGRAPHIC)
    birth_date = EncryptedDateField(phi_category=PhiCategory.DEMOGRAPHIC)
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    gender_identity = EncryptedTextField(max_length=80, null=True, phi_category=PhiCategory.DEMOGRAPHIC)
    national_id = EncryptedTextField(max_length=40, null=True, phi_category=PhiCategory.IDENTIFIER)
    address = EncryptedJSONField(max_length=2000, null=True, phi_category=PhiCategory.CONTACT)
    phone = EncryptedTextField(max_length=40, null=True, phi_category=PhiCategory.CONTACT)
    email = EncryptedTextField(max_length=254, null=True, phi_category=PhiCategory.CONTACT)
    insurance = EncryptedJSONField(max_length=2000, null=True, phi_category=PhiCategory.FINANCIAL)
    is_employee = models.BooleanField(default=False)
    is_vip = models.BooleanField(default=False)
    is_confidential = models.BooleanField(default=False)
    deceased = models.BooleanField(default=False)
    deceased_date = EncryptedDateField(null=True, phi_category=PhiCategory.DEMOGRAPHIC)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    mrn_index = BlindIndexField(of="mrn", normaliser="mrn")
    national_id_index = BlindIndexField(of="national_id", normaliser="national_id")
    birth_date_index = BlindIndexField(of="birth_date", normaliser="date")
    phone_index = BlindIndexField(of="phone", normaliser="phone")
    # Family name + birth date: what a stray file names a patient by when it
    # has no identifier (PHI discovery's exact match, ADR 0813).
    name_dob_index = BlindIndexField(of=("family_name", "birth_date"), normaliser="name_dob")
    family_name_prefixes = BlindPrefixField(of="family_name")
    given_name_prefixes = BlindPrefixField(of="given_name")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mrn_index"], name="clinical_patient_unique_mrn")]

    def __str__(self) -> str:
        return f"patient {self.pk}"


class Encounter(models.Model):
    class Kind(models.TextChoices):
        EMERGENCY = "emergency", "Emergency"
        INPATIENT = "inpatient", "Inpatient"
        OUTPATIENT = "outpatient", "Outpatient"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ARRIVED = "arrived", "Arrived"
        IN_PROGRESS = "in_progress", "In progress"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATUSES = ("arrived", "in_progress")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="encounters")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    department = models.ForeignKey("identity.Department", on_delete=models.PROTECT, related_name="+")
    attending = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices)
    started_at = EncryptedDateTimeField(phi_category=PhiCategory.ENCOUNTER)
    ended_at = EncryptedDateTimeField(null=True, phi_category=PhiCategory.ENCOUNTER)
    reason = EncryptedTextField(max_length=500, null=True, phi_category=PhiCategory.ENCOUNTER)
    sensitivity = _sensitivity()
    # The chart's newest encounters first; the attending's 14 days after discharge.
    started_year = PlainYearField(of="started_at")
    ended_day_index = BlindIndexField(of="ended_at", normaliser="local_day")

    class Meta:
        indexes = [
            models.Index(fields=["patient", "started_year"], name="clin_enc_patient_year"),
            models.Index(fields=["department", "status"], name="clin_enc_dept_status"),
            models.Index(fields=["attending", "status"], name="clin_enc_attending_status"),
        ]

    def __str__(self) -> str:
        return f"encounter {self.pk}"


class CareTeamMembership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=40)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    # Set when the admission put this person on the team (attending, admitting
    # nurse): the discharge ends these memberships.
    admission = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["user", "patient"], name="clin_careteam_user_patient"),
            models.Index(fields=["patient", "ends_at"], name="clin_careteam_patient"),
        ]

    def __str__(self) -> str:
        return f"care team membership {self.pk}"


class Slot(models.Model):
    """One bookable period of a clinic's calendar (a department, optionally one clinician)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    department = models.ForeignKey("identity.Department", on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    blocked = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["department", "starts_at"], name="clin_slot_dept_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "clinician", "starts_at"], name="clinical_slot_unique_start"
            )
        ]

    def __str__(self) -> str:
        return f"slot {self.pk}"


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "noshow", "No show"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    department = models.ForeignKey("identity.Department", on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    reason = EncryptedTextField(max_length=500, null=True, phi_category=PhiCategory.ENCOUNTER)
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    booked_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["patient", "starts_at"], name="clin_appt_patient_time"),
            models.Index(fields=["department", "starts_at"], name="clin_appt_dept_time"),
            models.Index(fields=["clinician", "starts_at"], name="clin_appt_clinician_time"),
        ]
        constraints = [
            # One live booking per slot: a double post or a race books it once.
            models.UniqueConstraint(
                fields=["slot"], condition=~Q(status="cancelled"), name="clinical_appointment_one_per_slot"
            )
        ]

    def __str__(self) -> str:
        return f"appointment {self.pk}"


class ClinicalNote(models.Model):
    class Kind(models.TextChoices):
        PROGRESS = "progress", "Progress note"
        ADMISSION = "admission", "Admission note"
        DISCHARGE = "discharge", "Discharge summary"
        NURSING = "nursing", "Nursing note"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="notes")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PROGRESS)
    title = EncryptedTextField(max_length=200, phi_category=PhiCategory.CLINICAL)
    text = EncryptedTextField(max_length=20_000, phi_category=PhiCategory.CLINICAL)
    sensitivity = _sensitivity()
    created_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    # Append-only amendment: a new row names the version it replaces; no row is
    # ever changed, so every earlier version stays as it was written (ADR 0576).
    amends = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    amendment_reason = EncryptedTextField(max_length=500, null=True, phi_category=PhiCategory.CLINICAL)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["amends"], name="clinical_note_amended_once")]

    def __str__(self) -> str:
        return f"note {self.pk}"


class Condition(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RESOLVED = "resolved", "Resolved"
        INACTIVE = "inactive", "Inactive"

    class System(models.TextChoices):
        ICD10CM = "icd10cm", "ICD-10-CM"
        SNOMED = "snomed", "SNOMED CT"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="conditions")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    code_system = models.CharField(max_length=8, choices=System.choices, default=System.ICD10CM)
    code = EncryptedTextField(max_length=20, phi_category=PhiCategory.CLINICAL)
    display = EncryptedTextField(max_length=300, phi_category=PhiCategory.CLINICAL)
    clinical_status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    onset = EncryptedDateField(null=True, phi_category=PhiCategory.CLINICAL)
    sensitivity = _sensitivity()
    recorded_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    code_index = BlindIndexField(of="code", normaliser="national_id")

    class Meta:
        indexes = [models.Index(fields=["patient", "clinical_status"], name="clin_cond_patient_status")]

    def __str__(self) -> str:
        return f"condition {self.pk}"


class AllergyIntolerance(models.Model):
    class Criticality(models.TextChoices):
        LOW = "low", "Low"
        HIGH = "high", "High"
        UNABLE = "unable", "Unable to assess"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        RESOLVED = "resolved", "Resolved"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    substance = EncryptedTextField(max_length=200, phi_category=PhiCategory.CLINICAL)
    reaction = EncryptedTextField(max_length=300, null=True, phi_category=PhiCategory.CLINICAL)
    criticality = models.CharField(max_length=8, choices=Criticality.choices, default=Criticality.LOW)
    clinical_status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    recorded_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "clinical_status"], name="clin_allergy_patient")]

    def __str__(self) -> str:
        return f"allergy {self.pk}"


class MedicationRequest(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"
        CANCELLED = "cancelled", "Cancelled"

    class Verification(models.TextChoices):
        NOT_REQUIRED = "", "Not required (recorded elsewhere)"
        PENDING = "pending", "Awaiting pharmacist verification"
        VERIFIED = "verified", "Verified by a pharmacist"
        QUERIED = "queried", "Queried back to the prescriber"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    medication = EncryptedTextField(max_length=300, phi_category=PhiCategory.CLINICAL)
    rxnorm = EncryptedTextField(max_length=20, null=True, phi_category=PhiCategory.CLINICAL)
    dosage = EncryptedTextField(max_length=300, null=True, phi_category=PhiCategory.CLINICAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    sensitivity = _sensitivity()
    authored_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Why the prescriber ordered it despite an allergy warning (drug-allergy check).
    override_reason = EncryptedTextField(max_length=500, null=True, phi_category=PhiCategory.CLINICAL)
    verification = models.CharField(
        max_length=10, choices=Verification.choices, default=Verification.NOT_REQUIRED, blank=True
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_note = EncryptedTextField(
        max_length=1000, null=True, phi_category=PhiCategory.CLINICAL
    )  # the pharmacist's query

    class Meta:
        indexes = [
            models.Index(fields=["patient", "status"], name="clin_med_patient_status"),
            models.Index(fields=["verification", "status"], name="clin_med_verification"),
        ]

    def __str__(self) -> str:
        return f"medication request {self.pk}"


class MedicationAdministration(models.Model):
    """A dose of an ordered medication given to the patient. Today only a dose
    recorded on the paper MAR during a downtime and entered afterwards
    (`paper_mar_chart`, ADR 1419): `administered_at` is the time on the paper,
    `late_entry_at` when it was entered."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="administrations")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    request = models.ForeignKey(MedicationRequest, on_delete=models.PROTECT, related_name="administrations")
    dose = EncryptedTextField(max_length=40, phi_category=PhiCategory.CLINICAL)
    dose_unit = models.CharField(max_length=32)
    route = models.CharField(max_length=16, choices=ADMINISTRATION_ROUTES)
    administered_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    late_entry_at = EncryptedDateTimeField(null=True, blank=True, phi_category=PhiCategory.CLINICAL)
    sensitivity = _sensitivity()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A paper dose is checked against the paper by a second person, never the
    # one who entered it (`paper_mar_verify`, ADR 1420).
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = EncryptedDateTimeField(null=True, blank=True, phi_category=PhiCategory.CLINICAL)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(verified_by=None) | ~Q(verified_by=models.F("recorded_by")),
                name="clinical_administration_second_person",
            ),
        ]

    def __str__(self) -> str:
        return f"medication administration {self.pk}"


class Observation(models.Model):
    """Vitals and lab results (LOINC code, UCUM unit). A lab order is an
    observation with status `registered` and no value yet."""

    class Category(models.TextChoices):
        VITAL_SIGNS = "vital-signs", "Vital signs"
        LABORATORY = "laboratory", "Laboratory"
        SURVEY = "survey", "Survey"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        REGISTERED = "registered", "Ordered"
        PRELIMINARY = "preliminary", "Preliminary"
        FINAL = "final", "Final"
        AMENDED = "amended", "Amended"
        CORRECTED = "corrected", "Corrected"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="observations")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.CharField(max_length=12, choices=Category.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.FINAL)
    code = EncryptedTextField(max_length=20, phi_category=PhiCategory.CLINICAL)
    display = EncryptedTextField(max_length=200, phi_category=PhiCategory.CLINICAL)
    value = EncryptedTextField(max_length=200, null=True, phi_category=PhiCategory.CLINICAL)
    unit = models.CharField(max_length=32, blank=True)
    effective_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    sensitivity = _sensitivity()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who ordered a lab test (recorded_by becomes the technician who results
    # it): a critical result notifies this clinician.
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Set only by `paper_vitals_chart` (ADR 1415): when a value written on paper during a
    # downtime was entered into the chart; effective_at stays the time on the paper.
    late_entry_at = EncryptedDateTimeField(null=True, blank=True, phi_category=PhiCategory.CLINICAL)
    code_index = BlindIndexField(of="code", normaliser="national_id")
    effective_year = PlainYearField(of="effective_at")  # the chart's newest results first

    class Meta:
        indexes = [
            models.Index(fields=["patient", "effective_year"], name="clin_obs_patient_year"),
            models.Index(fields=["status", "category"], name="clin_obs_status_category"),
        ]

    def __str__(self) -> str:
        return f"observation {self.pk}"


class Immunization(models.Model):
    """A vaccine given to the patient (CVX code), or recorded as not given."""

    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        NOT_DONE = "not-done", "Not done"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="immunizations")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    vaccine_code = EncryptedTextField(max_length=20, phi_category=PhiCategory.CLINICAL)
    vaccine = EncryptedTextField(max_length=300, phi_category=PhiCategory.CLINICAL)
    occurred_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    sensitivity = _sensitivity()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    occurred_year = PlainYearField(of="occurred_at")  # the chart's newest first (ADR 0557)

    class Meta:
        indexes = [models.Index(fields=["patient", "occurred_year"], name="clin_imm_patient_year")]

    def __str__(self) -> str:
        return f"immunization {self.pk}"


class Procedure(models.Model):
    """A procedure performed on the patient (SNOMED CT code)."""

    class Status(models.TextChoices):
        PREPARATION = "preparation", "Preparation"
        IN_PROGRESS = "in-progress", "In progress"
        NOT_DONE = "not-done", "Not done"
        ON_HOLD = "on-hold", "On hold"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
        UNKNOWN = "unknown", "Unknown"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="procedures")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    code = EncryptedTextField(max_length=20, phi_category=PhiCategory.CLINICAL)
    display = EncryptedTextField(max_length=300, phi_category=PhiCategory.CLINICAL)
    performed_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    performed_end = EncryptedDateTimeField(null=True, phi_category=PhiCategory.CLINICAL)
    reason = EncryptedTextField(max_length=300, null=True, phi_category=PhiCategory.CLINICAL)
    sensitivity = _sensitivity()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    performed_year = PlainYearField(of="performed_at")  # the chart's newest first (ADR 0557)

    class Meta:
        indexes = [models.Index(fields=["patient", "performed_year"], name="clin_proc_patient_year")]

    def __str__(self) -> str:
        return f"procedure {self.pk}"


class DiagnosticReport(models.Model):
    """A report that groups results (a laboratory panel, an imaging study's
    report): LOINC code, its observations, and the conclusion if any."""

    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        PARTIAL = "partial", "Partial"
        PRELIMINARY = "preliminary", "Preliminary"
        FINAL = "final", "Final"
        AMENDED = "amended", "Amended"
        CORRECTED = "corrected", "Corrected"
        APPENDED = "appended", "Appended"
        CANCELLED = "cancelled", "Cancelled"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
        UNKNOWN = "unknown", "Unknown"

    class Category(models.TextChoices):  # HL7 v2 table 0074, diagnostic service sections
        LABORATORY = "LAB", "Laboratory"
        RADIOLOGY = "RAD", "Radiology"
        PATHOLOGY = "PAT", "Pathology"
        OTHER = "OTH", "Other"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnostic_reports")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FINAL)
    category = models.CharField(max_length=3, choices=Category.choices, default=Category.LABORATORY)
    code = EncryptedTextField(max_length=20, phi_category=PhiCategory.CLINICAL)
    display = EncryptedTextField(max_length=300, phi_category=PhiCategory.CLINICAL)
    effective_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    issued_at = EncryptedDateTimeField(null=True, phi_category=PhiCategory.CLINICAL)
    conclusion = EncryptedTextField(max_length=2000, null=True, phi_category=PhiCategory.CLINICAL)
    results = models.ManyToManyField(Observation, blank=True, related_name="+")
    sensitivity = _sensitivity()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    effective_year = PlainYearField(of="effective_at")  # the chart's newest first (ADR 0557)

    class Meta:
        indexes = [models.Index(fields=["patient", "effective_year"], name="clin_report_patient_year")]

    def __str__(self) -> str:
        return f"diagnostic report {self.pk}"


class Document(models.Model):
    """An encrypted file under VAR_DIR/clinical/documents/<id>.swf
    (safeward.crypto.streams, associated data b"clinical.document|" + id)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="documents")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    title = EncryptedTextField(max_length=200, phi_category=PhiCategory.CLINICAL)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sensitivity = _sensitivity()
    created_at = EncryptedDateTimeField(phi_category=PhiCategory.CLINICAL)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"document {self.pk}"


class PatientRestriction(models.Model):
    """A restriction the patient asked for (HIPAA 164.522): keep a named
    person or department out of the record, or keep codes from the payer."""

    class Kind(models.TextChoices):
        EXCLUDE_USER = "exclude_user", "Exclude a person"
        EXCLUDE_DEPARTMENT = "exclude_department", "Exclude a department"
        NO_PAYER_DISCLOSURE = "no_payer", "Do not disclose to the payer (self-pay)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="restrictions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    department = models.ForeignKey(
        "identity.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = EncryptedTextField(max_length=500, null=True, phi_category=PhiCategory.ACCESS_RECORD)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "kind"], name="clin_restriction_patient")]

    def __str__(self) -> str:
        return f"restriction {self.pk}"


class BreakGlassGrant(models.Model):
    """Emergency access by one person to one patient's record, time-boxed."""

    class Review(models.TextChoices):
        PENDING = "pending", "Awaiting review"
        JUSTIFIED = "justified", "Justified"
        UNJUSTIFIED = "unjustified", "Not justified"

    class ReasonKind(models.TextChoices):
        EMERGENCY_CARE = "emergency_care", "Emergency care of a patient not assigned to me"
        COVERING = "covering", "Covering for a colleague (on call)"
        UNCONSCIOUS = "unconscious", "Patient unable to consent, urgent treatment"
        OTHER = "other", "Other urgent clinical need"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    reason_kind = models.CharField(max_length=20, choices=ReasonKind.choices)
    justification = EncryptedTextField(max_length=1000, phi_category=PhiCategory.ACCESS_RECORD)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)
    review = models.CharField(max_length=12, choices=Review.choices, default=Review.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = EncryptedTextField(max_length=1000, null=True, phi_category=PhiCategory.ACCESS_RECORD)
    access_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["user", "patient", "expires_at"], name="clin_bg_user_patient"),
            models.Index(fields=["review", "started_at"], name="clin_bg_review"),
        ]

    def __str__(self) -> str:
        return f"break-glass grant {self.pk}"


class ChartVersion(models.Model):
    """The values a correction replaced, kept encrypted: the audit event of the
    correction names this row and the fields that changed, never the values
    (ADR 0576). `resource_id` is the corrected row's id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    resource_type = models.CharField(max_length=40)
    resource_id = models.UUIDField()
    changed = models.JSONField(default=list)  # field names, never values
    before = EncryptedJSONField(max_length=20_000, phi_category=PhiCategory.CLINICAL)
    reason = EncryptedTextField(max_length=500, null=True, phi_category=PhiCategory.CLINICAL)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["patient", "resource_type"], name="clin_version_patient")]

    def __str__(self) -> str:
        return f"chart version {self.pk}"


class AmendmentRequest(models.Model):
    """A patient's request to amend their record (HIPAA 164.526, ONC
    170.315(d)(4)): accepted with the amendment linked, or denied with the
    reason and the patient's statement of disagreement attached."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting a decision"
        ACCEPTED = "accepted", "Accepted: amendment made"
        DENIED = "denied", "Denied"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    request = EncryptedTextField(
        max_length=2000, phi_category=PhiCategory.CLINICAL
    )  # what the patient asks to change, and why
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    denial_reason = EncryptedTextField(max_length=1000, null=True, phi_category=PhiCategory.CLINICAL)
    disagreement = EncryptedTextField(
        max_length=2000, null=True, phi_category=PhiCategory.CLINICAL
    )  # the patient's statement
    # The amendment made when accepted: an amended note or a chart version.
    applied_type = models.CharField(max_length=40, blank=True)
    applied_id = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "status"], name="clin_amendment_patient")]

    def __str__(self) -> str:
        return f"amendment request {self.pk}"


class SubmissionToken(models.Model):
    """A form's one-time token, stored in the same transaction as the write it
    guards: the second post of the same form collides here and saves nothing."""

    token = models.CharField(max_length=64, primary_key=True)
    used_at = models.DateTimeField()

    def __str__(self) -> str:
        return "submission token"


class Ward(models.Model):
    """An inpatient unit of a clinical department. No PHI: its name and code."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    department = models.ForeignKey("identity.Department", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"ward {self.code}"


class Bed(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="beds")
    label = models.CharField(max_length=16)

    class Meta:
        ordering = ["ward", "label"]
        constraints = [models.UniqueConstraint(fields=["ward", "label"], name="clinical_bed_unique_label")]

    def __str__(self) -> str:
        return f"bed {self.pk}"


class BedOccupancy(models.Model):
    """An inpatient encounter in a bed. A row per stay in a bed: a transfer
    ends one and starts the next, a discharge ends the last. One open row
    per bed and per encounter (the database refuses a second: an occupied
    bed or a double admission races to the same constraint)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="bed_stays")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, related_name="stays")
    # No time here: service times are encrypted (ADR 0550); the encounter
    # keeps the admission and discharge times, the audit trail each move.
    sequence = models.PositiveSmallIntegerField(default=1)  # 1 = admitted here, 2 = first transfer, ...
    current = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["bed", "current"], name="clin_bedocc_bed_current")]
        constraints = [
            models.UniqueConstraint(
                fields=["bed"], condition=Q(current=True), name="clinical_bed_one_occupant"
            ),
            models.UniqueConstraint(
                fields=["patient"], condition=Q(current=True), name="clinical_patient_one_bed"
            ),
        ]

    def __str__(self) -> str:
        return f"bed stay {self.pk}"


class ResultNotification(models.Model):
    """A lab result for the clinician who ordered it, to review and
    acknowledge; a critical one is shown in the app at once, on every page,
    until acknowledged. The result itself stays on the
    Observation; this row holds only who, which result, and when seen."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    observation = models.ForeignKey(Observation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Critical results alert at once and sort first; the others wait for review.
    critical = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "acknowledged_at", "critical"], name="clin_resnotif_recipient")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["observation", "recipient"], name="clinical_result_notification_once"
            )
        ]

    def __str__(self) -> str:
        return f"result notification {self.pk}"
