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

from safeward.crypto.fields import (
    BlindIndexField,
    BlindPrefixField,
    EncryptedDateField,
    EncryptedDateTimeField,
    EncryptedJSONField,
    EncryptedTextField,
    PlainYearField,
)


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
    mrn = EncryptedTextField(max_length=40)
    given_name = EncryptedTextField(max_length=200)
    family_name = EncryptedTextField(max_length=200)
    birth_date = EncryptedDateField()
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    gender_identity = EncryptedTextField(max_length=80, null=True)
    national_id = EncryptedTextField(max_length=40, null=True)
    address = EncryptedJSONField(max_length=2000, null=True)
    phone = EncryptedTextField(max_length=40, null=True)
    email = EncryptedTextField(max_length=254, null=True)
    insurance = EncryptedJSONField(max_length=2000, null=True)
    is_employee = models.BooleanField(default=False)
    is_vip = models.BooleanField(default=False)
    is_confidential = models.BooleanField(default=False)
    deceased = models.BooleanField(default=False)
    deceased_date = EncryptedDateField(null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    mrn_index = BlindIndexField(of="mrn", normaliser="mrn")
    national_id_index = BlindIndexField(of="national_id", normaliser="national_id")
    birth_date_index = BlindIndexField(of="birth_date", normaliser="date")
    phone_index = BlindIndexField(of="phone", normaliser="phone")
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
    started_at = EncryptedDateTimeField()
    ended_at = EncryptedDateTimeField(null=True)
    reason = EncryptedTextField(max_length=500, null=True)
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
    reason = EncryptedTextField(max_length=500, null=True)
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
    title = EncryptedTextField(max_length=200)
    text = EncryptedTextField(max_length=20_000)
    sensitivity = _sensitivity()
    created_at = EncryptedDateTimeField()

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
    code = EncryptedTextField(max_length=20)
    display = EncryptedTextField(max_length=300)
    clinical_status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    onset = EncryptedDateField(null=True)
    sensitivity = _sensitivity()
    recorded_at = EncryptedDateTimeField()
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

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    substance = EncryptedTextField(max_length=200)
    reaction = EncryptedTextField(max_length=300, null=True)
    criticality = models.CharField(max_length=8, choices=Criticality.choices, default=Criticality.LOW)
    clinical_status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    recorded_at = EncryptedDateTimeField()
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

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    medication = EncryptedTextField(max_length=300)
    rxnorm = EncryptedTextField(max_length=20, null=True)
    dosage = EncryptedTextField(max_length=300, null=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    sensitivity = _sensitivity()
    authored_at = EncryptedDateTimeField()
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "status"], name="clin_med_patient_status")]

    def __str__(self) -> str:
        return f"medication request {self.pk}"


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
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="observations")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.CharField(max_length=12, choices=Category.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.FINAL)
    code = EncryptedTextField(max_length=20)
    display = EncryptedTextField(max_length=200)
    value = EncryptedTextField(max_length=200, null=True)
    unit = models.CharField(max_length=32, blank=True)
    effective_at = EncryptedDateTimeField()
    sensitivity = _sensitivity()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who ordered a lab test (recorded_by becomes the technician who results
    # it): a critical result notifies this clinician.
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    code_index = BlindIndexField(of="code", normaliser="national_id")
    effective_year = PlainYearField(of="effective_at")  # the chart's newest results first

    class Meta:
        indexes = [
            models.Index(fields=["patient", "effective_year"], name="clin_obs_patient_year"),
            models.Index(fields=["status", "category"], name="clin_obs_status_category"),
        ]

    def __str__(self) -> str:
        return f"observation {self.pk}"


class Document(models.Model):
    """An encrypted file under VAR_DIR/clinical/documents/<id>.swf
    (safeward.crypto.streams, associated data b"clinical.document|" + id)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="documents")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    title = EncryptedTextField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sensitivity = _sensitivity()
    created_at = EncryptedDateTimeField()
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
    note = EncryptedTextField(max_length=500, null=True)
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
    justification = EncryptedTextField(max_length=1000)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)
    review = models.CharField(max_length=12, choices=Review.choices, default=Review.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = EncryptedTextField(max_length=1000, null=True)
    access_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["user", "patient", "expires_at"], name="clin_bg_user_patient"),
            models.Index(fields=["review", "started_at"], name="clin_bg_review"),
        ]

    def __str__(self) -> str:
        return f"break-glass grant {self.pk}"


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
