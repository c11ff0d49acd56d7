"""Backups, restore tests and declared downtime.

A `Backup` row describes one encrypted backup file and its signed manifest
(the file and the manifest live in the backup folder; the row is the index the
dashboard and the controls read). A `RestoreTest` is the evidence that a
backup restores: row counts, audit chain and PHI decryption checked on a
scratch copy, with the time it took (RTO evidence). A `Downtime` is a declared
period during which the interfaces are read-only."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Backup(models.Model):
    class State(models.TextChoices):
        VERIFIED = "verified", "Written and verified"
        FAILED = "failed", "Failed"
        ROTATED = "rotated", "Rotated out (file deleted)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    engine = models.CharField(max_length=16, help_text="postgresql or sqlite")
    state = models.CharField(max_length=8, choices=State.choices)
    file_name = models.CharField(max_length=200, blank=True)
    location = models.CharField(
        max_length=300,
        blank=True,
        help_text="Empty: the backup folder; else the s3://bucket/prefix holding it.",
    )
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    duration_seconds = models.FloatField(default=0)
    tables = models.PositiveIntegerField(default=0)
    rows = models.PositiveBigIntegerField(default=0)
    documents = models.PositiveIntegerField(default=0)
    audit_seal = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Audit chain head at backup."
    )
    signature_key_id = models.CharField(max_length=80, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"backup {self.created_at:%Y-%m-%d %H:%M} ({self.state})"


class RestoreTest(models.Model):
    backup = models.ForeignKey(Backup, on_delete=models.PROTECT, related_name="restore_tests")
    started_at = models.DateTimeField()
    duration_seconds = models.FloatField(help_text="Decrypt + restore + checks: the measured RTO.")
    passed = models.BooleanField()
    tables_checked = models.PositiveIntegerField(default=0)
    rows_checked = models.PositiveBigIntegerField(default=0)
    audit_events_verified = models.PositiveBigIntegerField(default=0)
    phi_fields_checked = models.PositiveIntegerField(default=0)
    phi_values_decrypted = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="What failed; never a value.")
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The exercise (an incident case) the result was attached to as drill evidence (ADR 1413).
    exercise_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"restore test {self.started_at:%Y-%m-%d %H:%M} ({'passed' if self.passed else 'failed'})"


class Downtime(models.Model):
    class Kind(models.TextChoices):
        PLANNED = "planned", "Planned"
        UNPLANNED = "unplanned", "Unplanned"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a second person"
        ACTIVE = "active", "Active (read-only)"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices)
    reason = models.CharField(max_length=300)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    declared_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-declared_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"],
                condition=Q(state__in=["pending", "active"]),
                name="continuity_one_open_downtime",
            ),
            models.CheckConstraint(
                condition=~Q(state="active", kind="planned", confirmed_by=None),
                name="continuity_planned_downtime_confirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} downtime ({self.state})"


class KitUnit(models.Model):
    """A ward that gets downtime kits: where they go and the public half of the
    key its downtime workstation holds (a Tink hybrid keyset: only the
    workstation can open a kit; the server keeps no private key)."""

    ward_id = models.CharField(
        max_length=36, unique=True, help_text="The clinical ward's id (no foreign key)."
    )
    ward_code = models.CharField(max_length=40, unique=True)
    ward_name = models.CharField(max_length=200)
    department_id = models.PositiveIntegerField(
        help_text="The ward's department: its staff may download kits."
    )
    folder = models.CharField(max_length=500, help_text="The downtime folder the kits are written to.")
    public_keyset = models.TextField(help_text="Tink public keyset (JSON) of the workstation's key.")
    key_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["ward_code"]

    def __str__(self) -> str:
        return f"downtime unit {self.ward_code}"


class Kit(models.Model):
    unit = models.ForeignKey(KitUnit, on_delete=models.CASCADE, related_name="kits")
    generated_at = models.DateTimeField()
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64, help_text="Of the encrypted file.")
    size_bytes = models.PositiveIntegerField()
    patients = models.PositiveIntegerField()

    class Meta:
        ordering = ["-generated_at"]
        indexes = [models.Index(fields=["unit", "-generated_at"], name="continuity_kit_unit_newest")]

    def __str__(self) -> str:
        return f"kit {self.unit.ward_code} {self.generated_at:%Y-%m-%d %H:%M}"


class DowntimeNumberRange(models.Model):
    """Downtime encounter numbers pre-assigned to a unit (printed on its paper
    forms), so paper records can be matched to the back-entered ones."""

    unit = models.ForeignKey(KitUnit, on_delete=models.CASCADE, related_name="number_ranges")
    prefix = models.CharField(max_length=12)
    first = models.PositiveIntegerField()
    last = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["prefix", "first"]
        constraints = [
            models.CheckConstraint(condition=Q(last__gte=models.F("first")), name="continuity_range_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}{self.first}-{self.prefix}{self.last}"


class PaperEntry(models.Model):
    """One thing recorded on paper during a downtime, queued to be entered in
    SafeWard and verified by a second person. The entry names the patient by
    the downtime encounter number on the paper form, never by PHI; the
    clinical content stays on the paper until it is entered through the
    chart pages (the gateway's write functions)."""

    class Kind(models.TextChoices):
        MEDICATION_GIVEN = "medication_given", "Medication given"
        VITAL_SIGNS = "vital_signs", "Vital signs"
        NOTE = "note", "Clinical note"
        ORDER = "order", "Order"
        ADMISSION = "admission", "Admission, transfer or discharge"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        VERIFIED = "verified", "Entered and verified"

    downtime = models.ForeignKey(Downtime, on_delete=models.PROTECT, related_name="paper_entries")
    encounter_number = models.CharField(max_length=40, help_text="The downtime encounter number on the form.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(help_text="The original time written on the paper.")
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", help_text="Who did it on paper."
    )
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    # The chart note it became, entered through the gateway as a late entry (ADR 1412).
    chart_note_id = models.CharField(max_length=36, blank=True)
    # Or, for vital signs, the structured observations it became (ADR 1415).
    chart_observation_ids = models.JSONField(default=list, blank=True)
    # Or, for medication given, the administrations it became (ADR 1419).
    chart_administration_ids = models.JSONField(default=list, blank=True)
    charted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    charted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(verified_by=None) | ~Q(verified_by=models.F("entered_by")),
                name="continuity_paper_second_person",
            ),
        ]

    def __str__(self) -> str:
        return f"paper entry {self.encounter_number} {self.kind}"


class ScheduledRun(models.Model):
    """One run of a periodic job (`safeward/continuity/schedule.py`) by
    `safeward schedule run-due`: when, how long, how it ended, and what a
    successful job had to say (`note`). Never the command's output (a job
    may print what it found)."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # A prerequisite is missing (no backup to verify yet); `error` holds the reason code.
        WAITING = "waiting", "Waiting"

    job = models.CharField(max_length=40, help_text="A code from continuity.schedule.JOBS.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    exit_code = models.SmallIntegerField(null=True, blank=True)
    error = models.CharField(
        max_length=100,
        blank=True,
        help_text="The exception class only, or a reason code of schedule.WAITING_REASONS when waiting.",
    )
    note = models.TextField(
        blank=True,
        default="",
        help_text="What the job had to say about a success (schedule.Note): nothing to do, part of its "
        "work not done. Reason texts and asset names, never patient data.",
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["job", "-started_at"], name="continuity_run_job_newest")]
        constraints = [
            # Two overlapping `run-due` invocations never run one job twice at once.
            models.UniqueConstraint(
                fields=["job"], condition=Q(outcome="running"), name="continuity_one_running_per_job"
            ),
        ]

    def __str__(self) -> str:
        return f"scheduled {self.job} {self.started_at:%Y-%m-%d %H:%M} ({self.outcome})"
