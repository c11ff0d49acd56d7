"""Incident records. A minimal record for now (opened from a detection alert
or by hand); the incident-response workflow grows it."""

from __future__ import annotations

from django.db import models


class Incident(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONTAINED = "contained", "Contained"
        CLOSED = "closed", "Closed"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    summary = models.TextField(blank=True)
    opened_at = models.DateTimeField()
    opened_by_id = models.BigIntegerField(null=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"incident {self.pk} ({self.status})"


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
