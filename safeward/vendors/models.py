"""The vendor register (ADR 1200): vendors, their agreements, and every
credential a vendor holds, each bound to the agreement that allows it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

HIPAA_BREACH_NOTICE_MAX_DAYS = 60  # 45 CFR 164.410(b): without unreasonable delay, at most 60 days


class Vendor(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        OFFBOARDED = "offboarded", "Offboarded"

    class Volume(models.TextChoices):
        NONE = "none", "No PHI"
        LOW = "low", "Fewer than 500 patients a year"
        MEDIUM = "medium", "500 to 10,000 patients a year"
        HIGH = "high", "More than 10,000 patients a year"

    name = models.CharField(max_length=120, unique=True)
    legal_name = models.CharField(max_length=200)
    identifiers = models.CharField(max_length=200, blank=True, help_text="Tax id, DUNS, registry numbers.")
    services = models.TextField(blank=True)
    contacts = models.TextField(blank=True, help_text="Names, roles, e-mail addresses at the vendor.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    phi_categories = models.JSONField(default=list, blank=True)
    phi_volume = models.CharField(max_length=8, choices=Volume.choices, default=Volume.NONE)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Agreement(models.Model):
    class Kind(models.TextChoices):
        BAA = "baa", "Business associate agreement"
        CONTRACT = "contract", "Contract"
        DUA = "dua", "Data-use agreement"

    class Renewal(models.TextChoices):
        EXPRESS = "express", "Express (ends unless renewed)"
        TACIT = "tacit", "Tacit (renews unless notice is given)"

    class Status(models.TextChoices):
        ACTIVE = "active", "In force"
        LAPSED = "lapsed", "Lapsed"
        TERMINATED = "terminated", "Terminated"

    class EndOfTerm(models.TextChoices):
        RETURN = "return", "Return PHI"
        DESTROY = "destroy", "Destroy PHI"
        RETURN_OR_DESTROY = "either", "Return or destroy PHI"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="agreements")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reference = models.CharField(max_length=80)
    covers_phi = models.BooleanField(default=False)
    start_date = models.DateField()
    end_date = models.DateField(help_text="The last day of the first term.")
    renewal = models.CharField(max_length=8, choices=Renewal.choices, default=Renewal.EXPRESS)
    renewal_months = models.PositiveSmallIntegerField(default=12)
    notice_days = models.PositiveSmallIntegerField(default=60)
    notice_given_on = models.DateField(null=True, blank=True)
    breach_notice_days = models.PositiveSmallIntegerField(default=60)
    subcontractors_allowed = models.BooleanField(default=False)
    end_of_term = models.CharField(
        max_length=8, choices=EndOfTerm.choices, default=EndOfTerm.RETURN_OR_DESTROY
    )
    # The moment the term in force ends (the day after its last day, local
    # time): what the request-path check compares with the clock. Kept by
    # the services from the date arithmetic (dates.py).
    current_end_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_via = models.CharField(max_length=40, blank=True)
    ended_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["vendor__name", "-end_date"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class Credential(models.Model):
    """A way a vendor reaches SafeWard. An account or an OAuth client points
    at the identity or fhir record; a remote-support path or API key SafeWard
    does not issue itself is a record of the path (ADR 1200)."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Vendor staff account"
        OAUTH_CLIENT = "oauth_client", "OAuth/SMART client"
        REMOTE_SUPPORT = "remote_support", "Remote-support path"
        API_KEY = "api_key", "API key (external)"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="credentials")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="credentials")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    label = models.CharField(max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    application_id = models.IntegerField(null=True, blank=True, db_index=True)
    client_registration_id = models.IntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="Never later than the agreement's end.")
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_via = models.CharField(max_length=40, blank=True)
    revoked_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["vendor__name", "kind", "label"]
        indexes = [models.Index(fields=["user"], name="vendors_cred_user")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label}"


class AgreementDocument(models.Model):
    """A signed agreement (a BAA PDF): the file is stream-encrypted by the
    crypto app under `storage_id` (documents.py), with the SHA-256 of its
    plaintext checked on every download (ADR 1211)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="documents")
    title = models.CharField(max_length=200)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_id = models.UUIDField(unique=True)
    uploaded_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["agreement", "-uploaded_at"]

    def __str__(self) -> str:
        return f"document {self.pk} of agreement {self.agreement_id}"


class Reminder(models.Model):
    """A reminder sent to the owner before an agreement's end (once per end and day count)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="reminders")
    end_date = models.DateField()
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "end_date", "days_before"], name="vendors_reminder_once"
            )
        ]

    def __str__(self) -> str:
        return f"reminder {self.days_before} days before {self.end_date}"


class Questionnaire(models.Model):
    """A security questionnaire sent to a vendor contact through a single-use
    link (ADR 1213). Only the SHA-256 of the link's token is kept; the
    answers, their score and the tier computed from them are stored when the
    vendor answers; a second person signs the review off."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent, waiting for the vendor"
        ANSWERED = "answered", "Answered, waiting for review"
        SIGNED_OFF = "signed_off", "Reviewed and signed off"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="questionnaires")
    template = models.CharField(max_length=40)
    contact_name = models.CharField(max_length=120)
    contact_email = models.EmailField(max_length=200)
    token_sha256 = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SENT)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Percent of the points.")
    tier = models.CharField(max_length=10, blank=True)
    next_assessment_on = models.DateField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)
    # The e-mailed one-time code, second factor of the link (ADR 1214): only
    # its keyed hash, its expiry and the wrong attempts against it; and the
    # hash of the pass the browser that entered it holds in its session.
    code_hmac = models.CharField(max_length=64, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    pass_sha256 = models.CharField(max_length=64, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"questionnaire {self.pk} of vendor {self.vendor_id}"


class QuestionnaireEvidence(models.Model):
    """A file the vendor attached to an answer: stream-encrypted as agreement
    documents are, with the SHA-256 of its plaintext."""

    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="evidence")
    question = models.CharField(max_length=20)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_id = models.UUIDField(unique=True)
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["questionnaire", "question", "pk"]

    def __str__(self) -> str:
        return f"evidence {self.pk} of questionnaire {self.questionnaire_id}"
