from __future__ import annotations

from django.db import models

from safeward.audit.vocabulary import Action, Outcome


class AuditEvent(models.Model):
    """One recorded action. The primary key is the sequence number. Rows hold
    identifiers and field names, never the values of patient data or secrets."""

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_roles = models.CharField(max_length=300, blank=True)
    session_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True)
    network_zone = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=32, choices=[(a.value, a.value) for a in Action])
    outcome = models.CharField(max_length=10, choices=[(o.value, o.value) for o in Outcome])
    resource_type = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    patient_id = models.CharField(max_length=64, blank=True, db_index=True)
    purpose_of_use = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    fields = models.JSONField(default=list)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["action", "occurred_at"])]

    def __str__(self) -> str:
        return f"audit event {self.id} ({self.action}, {self.outcome})"
