"""Incident cases (issue 19, ADR 1400): opened from alerts or by hand, with
a category, owner and reviewer, a status moved through a transition table
(`safeward.incidents.workflow`), playbook tasks, a timeline, evidence under
a chain of custody, and a breach assessment computed from the audit trail."""

from __future__ import annotations

from django.db import models


class Incident(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        TRIAGE = "triage", "Triage"
        CONTAINED = "contained", "Contained"
        ERADICATED = "eradicated", "Eradicated"
        RECOVERED = "recovered", "Recovered"
        CLOSED = "closed", "Closed"

    class Category(models.TextChoices):
        RANSOMWARE = "ransomware", "Ransomware"
        LOST_DEVICE = "lost_device", "Lost or stolen device"
        SNOOPING = "snooping", "Snooping"
        CREDENTIAL = "credential", "Credential compromise"
        VENDOR = "vendor", "Vendor breach"
        MISDIRECTED = "misdirected", "Misdirected disclosure"
        PHYSICAL = "physical", "Physical"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.OTHER)
    summary = models.TextField(blank=True)
    opened_at = models.DateTimeField()
    opened_by_id = models.BigIntegerField(null=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    owner_id = models.BigIntegerField(null=True, blank=True)
    reviewer_id = models.BigIntegerField(null=True, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)
    lessons_learned = models.TextField(blank=True)
    # An exercise (tabletop or technical) is a case marked as one: its scenario,
    # participants, injects, measured times and findings in `exercise`.
    is_exercise = models.BooleanField(default=False)
    exercise = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"incident {self.pk} ({self.status})"


class Task(models.Model):
    """A task of the case: from the category's playbook, or a follow-up action
    (lessons learned) added by hand."""

    class Kind(models.TextChoices):
        PLAYBOOK = "playbook", "Playbook"
        FOLLOW_UP = "follow_up", "Follow-up action"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PLAYBOOK)
    code = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300)
    position = models.IntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by_id = models.BigIntegerField(null=True, blank=True)
    # When the task must be done: set from the playbook's hours when the case
    # opens, or by hand; `safeward incidents check-deadlines` alerts as it nears.
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "position", "id"]

    def __str__(self) -> str:
        return f"task {self.pk} of incident {self.incident_id}"


class TimelineEntry(models.Model):
    """One moment of the case, in UTC with the time zone it was observed in.
    Automatic entries come from linked alerts, audit events, status changes,
    containment actions and evidence; people add their own."""

    class Kind(models.TextChoices):
        ALERT = "alert", "Alert"
        AUDIT = "audit", "Audit event"
        STATUS = "status", "Status"
        CONTAINMENT = "containment", "Containment"
        EVIDENCE = "evidence", "Evidence"
        BREACH = "breach", "Breach assessment"
        MANUAL = "manual", "Note"
        EXERCISE = "exercise", "Exercise"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    text = models.CharField(max_length=1000)
    ref = models.CharField(max_length=64, blank=True)
    for_report = models.BooleanField(default=False)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["incident", "occurred_at"], name="incidents_timeline_time")]

    def __str__(self) -> str:
        return f"timeline entry {self.pk} ({self.kind})"


class Evidence(models.Model):
    """A file kept for the case, stream-encrypted under VAR_DIR
    (`safeward.crypto.streams`), with the SHA-256 and size of its plaintext."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="evidence")
    title = models.CharField(max_length=200)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_id = models.UUIDField(unique=True)
    acquired_at = models.DateTimeField()
    acquired_by_id = models.BigIntegerField(null=True)
    holder_id = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["acquired_at", "id"]

    def __str__(self) -> str:
        return f"evidence {self.pk} of incident {self.incident_id}"


class CustodyEvent(models.Model):
    """The chain of custody: append-only (no service updates or deletes a row,
    and a database trigger refuses UPDATE and DELETE, migration 0004)."""

    class Action(models.TextChoices):
        ACQUIRED = "acquired", "Acquired"
        TRANSFERRED = "transferred", "Transferred"
        VIEWED = "viewed", "Viewed"
        DOWNLOADED = "downloaded", "Downloaded"
        VERIFIED = "verified", "Verified"
        MISMATCH = "mismatch", "Hash mismatch"

    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="custody")
    action = models.CharField(max_length=12, choices=Action.choices)
    actor_id = models.BigIntegerField(null=True)
    to_user_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"custody {self.action} of evidence {self.evidence_id}"


class BreachAssessment(models.Model):
    """The breach clock of a case (ADR 1402): what was compromised and when,
    the affected patients computed from the audit trail and the export
    manifests (never typed in), their counts by state, the discovery moment,
    and the 164.402(2) four-factor risk assessment."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="breach")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    actor_ids = models.JSONField(default=list)
    client_ids = models.JSONField(default=list)
    session_ids = models.JSONField(default=list)
    file_hashes = models.JSONField(default=list)
    patient_ids = models.JSONField(default=list)
    affected = models.IntegerField(default=0)
    by_state = models.JSONField(default=dict)
    stale_contacts = models.IntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    discovered_at = models.DateTimeField(null=True, blank=True)
    discovery_source = models.CharField(max_length=200, blank=True)
    discovery_override_at = models.DateTimeField(null=True, blank=True)
    discovery_override_reason = models.CharField(max_length=500, blank=True)
    gdpr_applies = models.BooleanField(default=False)
    # 164.402(2): nature and extent of PHI, unauthorized person, acquired or viewed, mitigation.
    risk_assessment = models.JSONField(default=dict, blank=True)
    individuals_notified_at = models.DateTimeField(null=True, blank=True)
    hhs_notified_at = models.DateTimeField(null=True, blank=True)
    media_notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"breach assessment of incident {self.incident_id}"

    @property
    def discovery(self) -> object:
        return self.discovery_override_at or self.discovered_at


class NotificationDelivery(models.Model):
    """The notification outbox (ADR 0710): one row per alert and channel,
    written when the alert is raised and delivered by `safeward notify`
    with retries and backoff, so a slow or failing receiver never blocks the
    detection worker and never loses an alert. `payload` is frozen when the
    row is written (ids, rule, severity, usernames, a link; never patient
    data), so every retry sends the same bytes."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"
        SYSLOG = "syslog", "Syslog"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert_id = models.BigIntegerField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    payload = models.JSONField()
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["alert_id", "channel"], name="incidents_delivery_once"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="incidents_delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel} notification for alert {self.alert_id} ({self.status})"
