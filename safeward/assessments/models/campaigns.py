"""Assessment campaigns (issue 18, ADR 0940): a framework (or a chosen set of
catalog entries) assessed for a year by an assessor, signed by the assessor
and then by a different reviewer. Each catalog entry is a question answered
on the 0-3 maturity scale with notes and evidence files (encrypted, with
their SHA-256); findings carry an owner, a due date and a status."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from safeward.crypto.fields import EncryptedBytesField
from safeward.crypto.phi import PhiCategory

# Evidence files are at most 10 MiB (checked by the form and the service).
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024


class Maturity(models.IntegerChoices):
    """The 0-3 maturity scale (ADR 0940)."""

    NOT_IN_PLACE = 0, "0 — Not in place"
    INITIAL = 1, "1 — Initial (ad hoc, depends on individuals)"
    DEFINED = 2, "2 — Defined (documented, approved, applied)"
    MANAGED = 3, "3 — Measured and managed (monitored, reviewed, improved)"


class Campaign(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUBMITTED = "submitted", "Submitted (signed by the assessor)"
        SIGNED_OFF = "signed_off", "Signed off"

    name = models.CharField(max_length=200)
    framework = models.CharField(max_length=32)  # a key of safeward.compliance.FRAMEWORKS
    year = models.PositiveSmallIntegerField()
    scope_note = models.TextField(blank=True)
    assessor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    assessor_signed_at = models.DateTimeField(null=True, blank=True)
    reviewer_signed_at = models.DateTimeField(null=True, blank=True)
    # The reviewer's reason the last time the campaign went back to the assessor.
    returned_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-year", "name"]
        indexes = [models.Index(fields=["framework", "status", "year"], name="assess_campaign_fw")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(assessor=models.F("reviewer")), name="assess_campaign_two_people"
            ),
        ]

    def __str__(self) -> str:
        return f"campaign {self.pk} ({self.framework} {self.year})"

    @property
    def read_only(self) -> bool:
        return self.status == self.Status.SIGNED_OFF


class Question(models.Model):
    """One catalog entry of a campaign; title and clause are copied from the
    catalog when the campaign opens, so a later catalog edit does not change
    a signed record."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField()
    entry_ref = models.CharField(max_length=120)  # "<framework>:<entry id>"
    entry_title = models.CharField(max_length=500)
    clause_ref = models.CharField(max_length=120)
    clause_title = models.CharField(max_length=500)
    maturity = models.PositiveSmallIntegerField(choices=Maturity.choices, null=True, blank=True)
    notes = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "entry_ref"], name="assess_question_once"),
            models.CheckConstraint(
                condition=models.Q(maturity__isnull=True) | models.Q(maturity__gte=0, maturity__lte=3),
                name="assess_question_maturity_range",
            ),
        ]

    def __str__(self) -> str:
        return f"question {self.pk} ({self.entry_ref})"


class Evidence(models.Model):
    """An evidence file: its bytes encrypted in the row (AES-256-GCM-SIV under
    the keyring, rotated with it), its SHA-256 over the plaintext recorded at
    upload and checked at every download."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="evidence")
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # Security evidence (policies, screenshots, reports), never patient data: the form says so.
    content = EncryptedBytesField(max_length=MAX_EVIDENCE_BYTES, phi_category=PhiCategory.NOT_PHI)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return f"evidence {self.pk}"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Finding(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        CLOSED = "closed", "Closed"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="findings")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="findings")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [models.Index(fields=["status", "due_on"], name="assess_finding_due")]

    def __str__(self) -> str:
        return f"finding {self.pk}"

    @property
    def entry_ref(self) -> str:
        return self.question.entry_ref
