"""The policy library: documents (policy, procedure, plan), their revisions
through draft -> in review -> approved -> published -> retired, the roles and
positions each document is required for, acknowledgement campaigns and the
acknowledgements themselves. Models hold data only; every change goes through
`services.py`, which audits it in the same transaction (ADR 0930)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models


class PolicyDocument(models.Model):
    class Kind(models.TextChoices):
        POLICY = "policy", "Policy"
        PROCEDURE = "procedure", "Procedure"
        PLAN = "plan", "Plan"

    code = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.POLICY)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    review_period_days = models.PositiveIntegerField(default=365)
    # The revision people read and acknowledge; set only by publishing.
    current_revision = models.ForeignKey(
        "PolicyRevision", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    @property
    def next_review_due(self) -> dt.datetime | None:
        if self.last_reviewed_at is None:
            return None
        return self.last_reviewed_at + dt.timedelta(days=self.review_period_days)


class PolicyRequirement(models.Model):
    """Who must acknowledge a document: the holders of a role, or the people
    in a workforce position."""

    class Kind(models.TextChoices):
        ROLE = "role", "Role"
        POSITION = "position", "Position"

    document = models.ForeignKey(PolicyDocument, on_delete=models.CASCADE, related_name="requirements")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.CharField(max_length=40)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "kind", "code"], name="policies_requirement_unique")
        ]
        indexes = [models.Index(fields=["kind", "code"], name="policies_requirement_code")]

    def __str__(self) -> str:
        return f"{self.kind} {self.code}"


class PolicyRevision(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    document = models.ForeignKey(PolicyDocument, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    body = models.TextField(help_text="Plain text with a few Markdown marks; rendered escaped.")
    change_summary = models.CharField(max_length=500, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=500, blank=True)
    # Set at publication: SHA-256 of the canonical text, and the PDF snapshot with its own hash.
    content_sha256 = models.CharField(max_length=64, blank=True)
    pdf = models.BinaryField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["document", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="policies_revision_number"),
            models.UniqueConstraint(
                fields=["document"],
                condition=models.Q(state__in=["draft", "in_review", "approved"]),
                name="policies_one_open_revision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document.title}, revision {self.number}"


class AcknowledgementCampaign(models.Model):
    """Asks the holders of some roles, or the people in some positions, to
    acknowledge one published revision by a due date."""

    revision = models.ForeignKey(PolicyRevision, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=200)
    roles = models.JSONField(default=list, help_text="Role codes.")
    positions = models.JSONField(default=list, help_text="Workforce position codes.")
    due_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Acknowledgement(models.Model):
    """One person's "I have read and understood" of one revision."""

    revision = models.ForeignKey(PolicyRevision, on_delete=models.PROTECT, related_name="acknowledgements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64, help_text="The hash of the text that was acknowledged.")

    class Meta:
        ordering = ["-acknowledged_at"]
        constraints = [
            models.UniqueConstraint(fields=["revision", "user"], name="policies_acknowledgement_once")
        ]
        indexes = [models.Index(fields=["user", "revision"], name="policies_ack_user")]

    def __str__(self) -> str:
        return f"acknowledgement {self.pk}"
