"""Workforce records: people, positions, agreements, training, terminations
and access reviews. Models hold data only; every change goes through
`services.py`, which audits it in the same transaction."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Position(models.Model):
    """A job position and the roles a person in it gets by default."""

    code = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=120)
    default_roles = models.JSONField(default=list, help_text="Role codes from the role catalog.")

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Person(models.Model):
    class Kind(models.TextChoices):
        EMPLOYEE = "employee", "Employee"
        CONTRACTOR = "contractor", "Contractor"
        STUDENT = "student", "Student"
        VENDOR_STAFF = "vendor_staff", "Vendor staff"

    class Status(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        TERMINATED = "terminated", "Terminated"

    employee_number = models.CharField(max_length=32, unique=True, help_text="The HR system's key.")
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EMPLOYEE)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="workforce_person",
    )
    department = models.ForeignKey(
        "identity.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    position = models.ForeignKey(Position, on_delete=models.PROTECT, null=True, blank=True)
    manager = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Last working day.")
    access_ends_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The moment access ends (a planned or applied termination); checked on every request.",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ONBOARDING)
    activated_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.employee_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class AgreementDocument(models.Model):
    """A version of the confidentiality agreement. The newest published
    version is the current one; its SHA-256 is fixed when it is published."""

    version = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=120)
    body = models.TextField()
    sha256 = models.CharField(max_length=64)
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["-published_at"]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class AgreementSignature(models.Model):
    """An electronic signature: who signed which version (and the hash of the
    exact text they saw), when, and who witnessed or recorded it."""

    class Method(models.TextChoices):
        SELF = "self", "Signed by the person in SafeWard"
        WITNESSED = "witnessed", "Signed in person, recorded by HR"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="signatures")
    document = models.ForeignKey(AgreementDocument, on_delete=models.PROTECT, related_name="signatures")
    document_version = models.CharField(max_length=20)
    document_sha256 = models.CharField(max_length=64)
    signer_name = models.CharField(max_length=160, help_text="The name the signer typed.")
    signed_at = models.DateTimeField()
    method = models.CharField(max_length=10, choices=Method.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-signed_at"]

    def __str__(self) -> str:
        return f"signature of person {self.person_id} on v{self.document_version}"


class TrainingCourse(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    required_for_onboarding = models.BooleanField(
        default=False, help_text="Must be completed before the account can be activated."
    )
    days_to_complete = models.PositiveIntegerField(default=30)
    refresher_months = models.PositiveIntegerField(
        default=12, help_text="A refresher is assigned this many months after completion; 0 for none."
    )

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class TrainingAssignment(models.Model):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="training_assignments")
    course = models.ForeignKey(TrainingCourse, on_delete=models.PROTECT, related_name="assignments")
    assigned_at = models.DateTimeField()
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    refresher = models.BooleanField(default=False)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "course"],
                condition=Q(completed_at__isnull=True),
                name="one_open_training_assignment_per_course",
            )
        ]
        indexes = [models.Index(fields=["person", "completed_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.course.code} for person {self.person_id}"


class TrainingCompletion(models.Model):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="training_completions")
    course = models.ForeignKey(TrainingCourse, on_delete=models.PROTECT, related_name="completions")
    assignment = models.ForeignKey(
        TrainingAssignment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=40, default="hr", help_text="hr, lms or import.")

    class Meta:
        ordering = ["-completed_at"]

    def __str__(self) -> str:
        return f"{self.course.code} completed by person {self.person_id}"


class Termination(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        APPLIED = "applied", "Applied"
        CANCELLED = "cancelled", "Cancelled"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="terminations")
    effective_at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_via = models.CharField(max_length=20, blank=True, help_text="immediate, worker or request.")
    sessions_ended = models.PositiveIntegerField(default=0)
    tokens_revoked = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"], condition=Q(status="scheduled"), name="one_scheduled_termination"
            )
        ]

    def __str__(self) -> str:
        return f"termination of person {self.person_id} ({self.status})"


class IssuedItem(models.Model):
    """A badge, device or key handed to a person; listed for recovery when they leave."""

    class Kind(models.TextChoices):
        BADGE = "badge", "Badge"
        DEVICE = "device", "Device"
        KEY = "key", "Key"
        TOKEN = "token", "Hardware token"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="issued_items")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    identifier = models.CharField(max_length=64, help_text="Badge number, asset tag or serial.")
    description = models.CharField(max_length=160, blank=True)
    issued_at = models.DateTimeField()
    returned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "identifier"]

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier}"


class RecoveryItem(models.Model):
    """Something to get back from a leaver. Facilities and the asset register
    pick these up (open items are listed by `selectors.recovery_items_open`)."""

    class Status(models.TextChoices):
        OPEN = "open", "To recover"
        RECOVERED = "recovered", "Recovered"
        LOST = "lost", "Lost"

    termination = models.ForeignKey(Termination, on_delete=models.PROTECT, related_name="recovery_items")
    issued_item = models.ForeignKey(
        IssuedItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10)
    identifier = models.CharField(max_length=64)
    description = models.CharField(max_length=160, blank=True)
    source = models.CharField(max_length=40, default="workforce")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "identifier"]

    def __str__(self) -> str:
        return f"recover {self.kind} {self.identifier}"


class ReviewCampaign(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    deadline = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class ReviewItem(models.Model):
    """One role of one person, to be attested or revoked by a reviewer: the
    person's manager, after the deadline the manager's manager, then HR."""

    class Decision(models.TextChoices):
        PENDING = "pending", "Pending"
        ATTESTED = "attested", "Attested"
        REVOKED = "revoked", "Revoked"

    campaign = models.ForeignKey(ReviewCampaign, on_delete=models.PROTECT, related_name="items")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    role_assignment = models.ForeignKey("identity.RoleAssignment", on_delete=models.PROTECT, related_name="+")
    role_code = models.CharField(max_length=40)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Null: escalated to HR (anyone holding workforce:person:manage).",
    )
    first_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField()
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["campaign", "person", "role_code"]
        indexes = [models.Index(fields=["decision", "due_at"])]

    def __str__(self) -> str:
        return f"review of {self.role_code} for person {self.person_id}"
