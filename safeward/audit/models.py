"""The audit trail's tables.

`AuditEvent`, `AuditEventPatient`, `AuditSeal` and `AuditArchive` are
append-only: the database refuses UPDATE and DELETE on them (migrations 0004
and 0005; see docs/audit.md). Only `AuditExportCursor`, the position of each
SIEM export, changes in place."""

from __future__ import annotations

from django.db import models

from safeward.audit.vocabulary import Action, Outcome


class AuditEvent(models.Model):
    """One recorded action. The primary key is the sequence number. Rows hold
    identifiers and field names, never the values of patient data or secrets."""

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    # Found by (actor_id, occurred_at) and (patient_id, occurred_at): no
    # single-column indexes beside them (ADR 0204).
    actor_id = models.BigIntegerField(null=True)
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
    patient_id = models.CharField(max_length=64, blank=True)
    purpose_of_use = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    fields = models.JSONField(default=list)
    detail = models.JSONField(default=dict)
    # Which part of SafeWard observed the event (FHIR AuditEvent.source.observer):
    # web, api, cli, worker; set from the request context.
    source = models.CharField(max_length=64, blank=True)
    # The OAuth client of a request made with a bearer token (the application
    # that received what the event discloses), and its name at the time: the
    # accounting of disclosures names it even after the app is removed (ADR 0208).
    client_id = models.CharField(max_length=100, blank=True, default="")
    client_name = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["action", "occurred_at"]),
            models.Index(fields=["actor_id", "occurred_at"], name="audit_event_actor_time"),
            models.Index(fields=["patient_id", "occurred_at"], name="audit_event_patient_time"),
            # Only events of a bearer token's client (a small share): a vendor's
            # applications' events without reading every partition (ADR 0204).
            models.Index(
                fields=["client_id", "occurred_at"],
                name="audit_event_client_time",
                condition=~models.Q(client_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"audit event {self.id} ({self.action}, {self.outcome})"


class AuditEventPatient(models.Model):
    """One patient disclosed by an event that names several (a search page, a
    clinic day, a worklist): the index that puts that event in each
    patient's accounting of disclosures (ADR 0208). Written by
    `audit_record` in the event's transaction from the same list it seals in
    the event's `detail["patients"]`, so the sealed event is the proof and
    these rows can be checked against it. FK-less like the evidence of an
    alert: the event table is partitioned and archived by time."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    patient_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["event_id", "patient_id"]
        indexes = [
            models.Index(fields=["patient_id", "occurred_at", "event_id"], name="audit_link_patient_time"),
            models.Index(fields=["event_id"], name="audit_link_event"),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} discloses {self.patient_id}"


class AuditSeal(models.Model):
    """One signed block of the hash chain. It lists the sequence numbers it
    seals as ranges (late commits land in a later block), the ids seen missing
    that may still commit (`pending`) and the ids given up as rolled back
    (`abandoned`). `leaf_tags` holds the first 8 bytes of each event's hash in
    id order so verification can name the event that changed."""

    number = models.BigIntegerField(primary_key=True)
    sealed_at = models.DateTimeField()
    watermark = models.BigIntegerField()
    event_count = models.IntegerField()
    first_event_id = models.BigIntegerField(null=True)
    last_event_id = models.BigIntegerField(null=True)
    ranges = models.JSONField(default=list)
    pending = models.JSONField(default=list)
    abandoned = models.JSONField(default=list)
    events_digest = models.CharField(max_length=64)
    leaf_tags = models.BinaryField()
    prev_hash = models.CharField(max_length=64)
    block_hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=200)
    # The encoding of the events this seal covers (1 or 2, docs/audit.md),
    # part of the signed block header: seals made before format 2 keep 1
    # and verify as they were made (ADR 1610).
    format_version = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"audit seal {self.number} ({self.event_count} events)"


class AuditArchive(models.Model):
    """A period moved out of the live table into a signed, encrypted file.
    The seals it covers stay in the database (they are small), so the chain
    stays whole and the archived events can be verified against it."""

    number = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField()
    first_seal = models.BigIntegerField()
    last_seal = models.BigIntegerField()
    max_event_id = models.BigIntegerField()
    event_count = models.BigIntegerField()
    period_end = models.DateTimeField()
    file_name = models.CharField(max_length=200)
    file_sha256 = models.CharField(max_length=64)
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=200)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"audit archive {self.number} (seals {self.first_seal}-{self.last_seal})"


class AuditExportCursor(models.Model):
    """How far one SIEM sink has acknowledged the sealed trail: every seal up
    to `seal_number` is delivered with its checkpoint, and of the next seal
    the events up to `event_id` (0: none yet). Advanced only after the sink
    acknowledged, so a crash or an outage resends from here."""

    sink = models.CharField(max_length=64, primary_key=True)
    seal_number = models.BigIntegerField(default=0)
    event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"export cursor {self.sink} at seal {self.seal_number}"
