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
