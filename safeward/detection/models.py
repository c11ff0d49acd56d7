"""Detection's tables: rule configuration, the worker's position in the audit
stream, alerts with their evidence, the unexplained-access review queue,
per-user daily access counts for baselines, and canary records.

Rows hold identifiers (user ids, pseudonymous patient ids, audit event ids),
never patient data: an alert's title and detail are built from codes and
usernames only."""

from __future__ import annotations

from django.db import models


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class DetectionRule(models.Model):
    """One rule's configuration. `params` holds its thresholds, validated by
    the rule's own schema before saving (see rules.py); changes are audited
    and need step-up."""

    code = models.CharField(max_length=64, primary_key=True)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    params = models.JSONField(default=dict)
    updated_at = models.DateTimeField(null=True)
    updated_by_id = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"rule {self.code}"


class DetectorCursor(models.Model):
    """How far the worker has processed the audit stream. Ids below
    `watermark` that had not committed when first seen are kept in `pending`
    ([lo, hi, first_seen_iso, xmax]) and processed when they commit, as the
    sealer does. Updated in the same transaction as the alerts it produced,
    so a crash neither loses nor repeats an event."""

    name = models.CharField(max_length=64, primary_key=True)
    watermark = models.BigIntegerField(default=0)
    pending = models.JSONField(default=list)
    processed = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"detector {self.name} at {self.watermark}"


class Alert(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        TRIAGE = "triage", "In triage"
        DISMISSED = "dismissed", "Dismissed"
        CONFIRMED = "confirmed", "Confirmed"

    rule = models.CharField(max_length=64)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    title = models.CharField(max_length=200)
    # Who or what the alert is about: the suspected account, the patient
    # (pseudonymous id), the client address. Any may be empty.
    subject_user_id = models.BigIntegerField(null=True)
    subject_username = models.CharField(max_length=150, blank=True)
    patient_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True)
    # Repeats of the same rule about the same subject while the alert is open
    # add occurrences and evidence to it instead of opening a new alert.
    group_key = models.CharField(max_length=200)
    occurrences = models.IntegerField(default=1)
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    first_event_at = models.DateTimeField()
    last_event_at = models.DateTimeField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    assignee_id = models.BigIntegerField(null=True)
    # When a person first acted on it (triage started, dismissed, confirmed,
    # joined to an incident): the triage SLA control measures created_at to this.
    triaged_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.CharField(max_length=500, blank=True)
    resolved_at = models.DateTimeField(null=True)
    resolved_by_id = models.BigIntegerField(null=True)
    is_drill = models.BooleanField(default=False)
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True, on_delete=models.PROTECT)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "severity", "created_at"], name="detection_alert_queue"),
            models.Index(fields=["group_key", "status"], name="detection_alert_group"),
            models.Index(fields=["rule", "created_at"], name="detection_alert_rule"),
            # The triage SLA control reads the alerts of its look-back window (ADR 0920).
            models.Index(fields=["created_at"], name="detection_alert_created"),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} ({self.rule}, {self.status})"


class AlertEvidence(models.Model):
    """An audit event that supports an alert (FK-less: audit events may be
    archived out of the live table; the id still finds them in the archive)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="evidence")
    event_id = models.BigIntegerField()
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["event_id"]
        constraints = [models.UniqueConstraint(fields=["alert", "event_id"], name="detection_evidence_once")]

    def __str__(self) -> str:
        return f"evidence {self.event_id} for alert {self.alert_id}"


class AccessReview(models.Model):
    """A chart access the worker could not explain by a care relationship,
    queued for a privacy officer's review."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPROPRIATE = "appropriate", "Appropriate"
        INAPPROPRIATE = "inappropriate", "Inappropriate"

    event_id = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    user_id = models.BigIntegerField()
    username = models.CharField(max_length=150)
    patient_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    reviewed_by_id = models.BigIntegerField(null=True)
    reviewed_at = models.DateTimeField(null=True)
    comment = models.CharField(max_length=500, blank=True)
    is_drill = models.BooleanField(default=False)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["status", "occurred_at"], name="detection_review_queue")]

    def __str__(self) -> str:
        return f"access review {self.event_id} ({self.status})"


class DailyAccessCount(models.Model):
    """Distinct patients one user opened on one day: the series the
    baselines are computed from. Distinctness within a day is kept by
    DailyPatientTouch."""

    user_id = models.BigIntegerField()
    day = models.DateField()
    roles = models.CharField(max_length=300, blank=True)
    department_id = models.BigIntegerField(null=True)
    distinct_patients = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "day"], name="detection_daily_once")]
        indexes = [models.Index(fields=["day", "roles"], name="detection_daily_peers")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.day}: {self.distinct_patients}"


class DailyPatientTouch(models.Model):
    user_id = models.BigIntegerField()
    day = models.DateField()
    patient_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "day", "patient_id"], name="detection_touch_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} touched {self.patient_id} on {self.day}"


class CanaryRecord(models.Model):
    """A decoy patient no legitimate workflow touches: any access alerts at
    the highest severity. Created through the clinical gateway; only the
    pseudonymous id is kept here."""

    patient_id = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"canary {self.label}"


class StaffMatchKey(models.Model):
    """What the worker compares a patient against to spot snooping on family,
    neighbours or oneself: keyed hashes (blind indexes) of a staff member's
    national id and home address, and optionally an explicit link to the
    staff member's own patient record. No plaintext is stored; the surname
    comes from the account itself. Set by HR through
    `services.staff_match_keys_set` (audited)."""

    user_id = models.BigIntegerField(unique=True)
    # Same scope and normaliser as the clinical Patient.national_id_index, so
    # the two compare directly.
    national_id_index = models.BinaryField(null=True)
    address_index = models.BinaryField(null=True)
    patient_id = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField()
    updated_by_id = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"staff match keys of user {self.user_id}"
