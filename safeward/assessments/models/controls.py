"""Control-test runs, their results and exceptions (issue 18, ADR 0900).

A `ControlRun` is one execution of some or all registered control tests
(`safeward.compliance`); it holds one `ControlResult` per test and one
`ResourceResult` per resource a test judged, with its evidence. When the
run finishes its rows are written once, serialised as canonical JSON,
hashed (SHA-256) and signed (Ed25519, the audit seal signer): nothing in a
run is edited after that, and `services.verify_run` proves it. Exceptions
accept a failing resource of one control for a reason, approved by a second
person, until an expiry."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ControlRun(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ON_DEMAND = "on_demand", "On demand"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # As signed: a later rename of the account does not change the run.
    actor_username = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Control ids asked for; empty: every registered test.
    only = models.JSONField(default=list, blank=True)
    controls_total = models.PositiveIntegerField(default=0)
    controls_passed = models.PositiveIntegerField(default=0)
    controls_failed = models.PositiveIntegerField(default=0)
    controls_error = models.PositiveIntegerField(default=0)
    controls_not_applicable = models.PositiveIntegerField(default=0)
    resources_total = models.PositiveIntegerField(default=0)
    resources_failed = models.PositiveIntegerField(default=0)
    # The signed snapshot: SHA-256 of the canonical JSON, its signature, the key.
    snapshot_sha256 = models.CharField(max_length=64, blank=True)
    signature = models.BinaryField(blank=True, default=b"")
    key_id = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-started_at"], name="assess_run_started")]

    def __str__(self) -> str:
        return f"Control run {self.pk}"

    @property
    def signed(self) -> bool:
        return bool(self.snapshot_sha256 and self.key_id)


class ControlResult(models.Model):
    class Outcome(models.TextChoices):
        PASS = "pass", "Pass"
        FAIL = "fail", "Fail"
        ERROR = "error", "Error"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    run = models.ForeignKey(ControlRun, on_delete=models.PROTECT, related_name="results")
    control_id = models.CharField(max_length=120)
    title = models.CharField(max_length=300)
    # The catalog entries the test mapped to when it ran ("<framework>:<entry>").
    maps = models.JSONField(default=list)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    resources_total = models.PositiveIntegerField(default=0)
    resources_failed = models.PositiveIntegerField(default=0)
    resources_excepted = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    # For an error: the exception's class name only (the message may carry PHI).
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "control_id"], name="assess_result_once_per_run")
        ]
        indexes = [models.Index(fields=["control_id", "run"], name="assess_result_history")]

    def __str__(self) -> str:
        return f"{self.control_id}: {self.outcome}"


class ResourceResult(models.Model):
    result = models.ForeignKey(ControlResult, on_delete=models.PROTECT, related_name="resources")
    resource_type = models.CharField(max_length=60)
    resource_id = models.CharField(max_length=200)
    label = models.CharField(max_length=300)
    passed = models.BooleanField()
    evidence = models.JSONField(default=dict)
    # A failing resource under a valid exception when the run ran.
    excepted = models.BooleanField(default=False)
    exception = models.ForeignKey(
        "ControlException", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["result", "passed"], name="assess_resource_failing"),
            models.Index(fields=["resource_type", "resource_id"], name="assess_resource_history"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.resource_id}"


class ControlException(models.Model):
    """One failing resource of one control accepted for a reason until an expiry."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REVOKED = "revoked", "Revoked"

    control_id = models.CharField(max_length=120)
    resource_type = models.CharField(max_length=60)
    resource_id = models.CharField(max_length=200)
    label = models.CharField(max_length=300)
    reason = models.TextField()
    expires_on = models.DateField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["control_id", "resource_type", "resource_id"], name="assess_exception_target"
            ),
            models.Index(fields=["state", "expires_on"], name="assess_exception_state"),
        ]

    def __str__(self) -> str:
        return f"Exception {self.pk} for {self.control_id}"
