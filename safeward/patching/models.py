"""Software inventories, advisories and the findings they make (issue 17).

An inventory belongs to one target: an asset of the register or a device,
referred to by id (read through `safeward.assets.selectors` and
`safeward.devices.selectors`). Each import replaces the target's current
inventory; the components of the previous one stay for history. Advisories
are OSV records (their affected packages indexed one row each, by a
normalised key, so matching touches only the names it needs), CISA KEV
entries and EPSS scores. A finding is target x component key x vulnerability,
with the CycloneDX VEX vocabulary, a due date and the reasons for it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Target(models.TextChoices):
    ASSET = "asset", "Asset"
    DEVICE = "device", "Device"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class Inventory(models.Model):
    class Format(models.TextChoices):
        CYCLONEDX_JSON = "cyclonedx_json", "CycloneDX JSON"
        CYCLONEDX_XML = "cyclonedx_xml", "CycloneDX XML"
        SPDX_JSON = "spdx_json", "SPDX 2.3 JSON"
        DPKG = "dpkg", "dpkg -l"
        PIP = "pip", "pip freeze"
        FIRMWARE = "firmware", "Firmware version"
        SELF = "self", "SafeWard's own environment"

    target_kind = models.CharField(max_length=8, choices=Target.choices)
    target_id = models.BigIntegerField()
    format = models.CharField(max_length=16, choices=Format.choices)
    spec_version = models.CharField(max_length=10, blank=True)
    sha256 = models.CharField(max_length=64)
    component_count = models.PositiveIntegerField(default=0)
    current = models.BooleanField(default=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-imported_at", "-pk"]
        indexes = [models.Index(fields=["target_kind", "target_id", "current"], name="patching_inv_target")]
        constraints = [
            models.UniqueConstraint(
                fields=["target_kind", "target_id"],
                condition=models.Q(current=True),
                name="patching_one_current_inventory",
            )
        ]

    def __str__(self) -> str:
        return f"inventory {self.pk} of {self.target_kind} {self.target_id}"


class Component(models.Model):
    inventory = models.ForeignKey(Inventory, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=300)
    version = models.CharField(max_length=200, blank=True)
    ecosystem = models.CharField(max_length=40, blank=True)
    purl = models.CharField(max_length=1000, blank=True)
    cpe = models.CharField(max_length=1000, blank=True)
    bom_ref = models.CharField(max_length=300, blank=True)
    # The key advisories are indexed by: "<ecosystem>:<normalised name>" (or "cpe:<vendor>:<product>").
    match_key = models.CharField(max_length=400, db_index=True)

    class Meta:
        ordering = ["name", "version"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Advisory(models.Model):
    """One OSV record (PYSEC-…, GHSA-…, CVE-…), its latest version."""

    osv_id = models.CharField(max_length=100, unique=True)
    aliases = models.JSONField(default=list, blank=True)
    # The vulnerability this record describes: the group of records linked by
    # their ids and aliases (GHSA, PYSEC, CVE…), named by its lowest CVE id, else
    # its lowest id (ADR 1307). A withdrawn record stands alone.
    vuln_id = models.CharField(max_length=100, db_index=True, default="")
    cve_ids = models.JSONField(default=list, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    modified = models.DateTimeField()
    published = models.DateTimeField(null=True, blank=True)
    withdrawn = models.DateTimeField(null=True, blank=True)
    cvss_vector = models.CharField(max_length=200, blank=True)
    cvss_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    severity_source = models.CharField(max_length=40, blank=True)
    references = models.JSONField(default=list, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["osv_id"]

    def __str__(self) -> str:
        return self.osv_id


class AdvisoryAlias(models.Model):
    """One id an advisory is known by (its own and each alias): the links
    that group records of one vulnerability across sources."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="alias_rows")
    alias = models.CharField(max_length=100, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["advisory", "alias"], name="patching_alias_once")]

    def __str__(self) -> str:
        return f"{self.advisory_id}: {self.alias}"


class AffectedPackage(models.Model):
    """One `affected[]` entry of an advisory: its key, ranges and versions."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="affected")
    match_key = models.CharField(max_length=400, db_index=True)
    ecosystem = models.CharField(max_length=40, blank=True)
    name = models.CharField(max_length=300)
    ranges = models.JSONField(default=list, blank=True)
    versions = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.advisory_id}: {self.match_key}"


class KevEntry(models.Model):
    cve_id = models.CharField(max_length=30, unique=True)
    vendor_project = models.CharField(max_length=200, blank=True)
    product = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=300, blank=True)
    date_added = models.DateField()
    due_date = models.DateField()
    ransomware = models.BooleanField(default=False)
    required_action = models.TextField(blank=True)
    catalog_version = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["-date_added", "cve_id"]

    def __str__(self) -> str:
        return self.cve_id


class EpssScore(models.Model):
    cve_id = models.CharField(max_length=30, unique=True)
    epss = models.DecimalField(max_digits=6, decimal_places=5)
    percentile = models.DecimalField(max_digits=6, decimal_places=5)
    model_version = models.CharField(max_length=40, blank=True)
    score_date = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return self.cve_id


class DeadlinePolicy(models.Model):
    """One row of the remediation table: severity x exposure -> days
    (HICP Technical Volume 2, Table 8). Null days: at the owner's discretion."""

    class Exposure(models.TextChoices):
        DMZ = "dmz", "DMZ / internet facing"
        INTERNAL = "internal", "Data centre / internal"

    severity = models.CharField(max_length=10, choices=Severity.choices)
    exposure = models.CharField(max_length=10, choices=Exposure.choices)
    days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["severity", "exposure"]
        constraints = [
            models.UniqueConstraint(fields=["severity", "exposure"], name="patching_policy_once"),
        ]

    def __str__(self) -> str:
        return f"{self.severity}/{self.exposure}: {self.days}"


class DeadlineSettings(models.Model):
    """The tightening rules (one row)."""

    kev_escalates_to_critical = models.BooleanField(default=True)
    # Blank: a KEV listing raises the severity and brings CISA's due date, no fixed cap.
    kev_max_days = models.PositiveIntegerField(null=True, blank=True, default=None)
    ransomware_max_days = models.PositiveIntegerField(default=7)
    epss_percentile = models.DecimalField(max_digits=4, decimal_places=3, default=0.9)
    epss_max_days = models.PositiveIntegerField(default=30)
    patient_impact_factor = models.DecimalField(max_digits=3, decimal_places=2, default=0.5)
    medical_mitigation_days = models.PositiveIntegerField(default=30)
    medical_fix_days = models.PositiveIntegerField(default=60)
    discretion_days = models.PositiveIntegerField(
        default=365, help_text="What 'at discretion' becomes for reporting (low severity, internal)."
    )
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "deadline settings"


class Finding(models.Model):
    class State(models.TextChoices):
        """CycloneDX VEX analysis states."""

        IN_TRIAGE = "in_triage", "In triage"
        EXPLOITABLE = "exploitable", "Exploitable"
        FALSE_POSITIVE = "false_positive", "False positive"
        NOT_AFFECTED = "not_affected", "Not affected"
        RESOLVED = "resolved", "Resolved"
        RESOLVED_WITH_PEDIGREE = "resolved_with_pedigree", "Resolved with pedigree"

    class Justification(models.TextChoices):
        NONE = "", "—"
        CODE_NOT_PRESENT = "code_not_present", "Code not present"
        CODE_NOT_REACHABLE = "code_not_reachable", "Code not reachable"
        REQUIRES_CONFIGURATION = "requires_configuration", "Requires configuration"
        REQUIRES_DEPENDENCY = "requires_dependency", "Requires dependency"
        REQUIRES_ENVIRONMENT = "requires_environment", "Requires environment"
        PROTECTED_BY_COMPILER = "protected_by_compiler", "Protected by compiler"
        PROTECTED_AT_RUNTIME = "protected_at_runtime", "Protected at runtime"
        PROTECTED_AT_PERIMETER = "protected_at_perimeter", "Protected at perimeter"
        PROTECTED_BY_MITIGATING_CONTROL = "protected_by_mitigating_control", "Protected by mitigating control"

    target_kind = models.CharField(max_length=8, choices=Target.choices)
    target_id = models.BigIntegerField()
    component_key = models.CharField(max_length=400)
    component_name = models.CharField(max_length=300)
    component_version = models.CharField(max_length=200, blank=True)
    purl = models.CharField(max_length=1000, blank=True)
    # The group's best-scored record (its severity decides); `vuln_id` names the
    # vulnerability, `vuln_ids` every id its records carry (ADR 1307).
    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="findings")
    vuln_id = models.CharField(max_length=100, default="")
    vuln_ids = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=24, choices=State.choices, default=State.IN_TRIAGE)
    justification = models.CharField(max_length=40, choices=Justification.choices, blank=True)
    response = models.JSONField(default=list, blank=True)
    detail = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    kev = models.BooleanField(default=False)
    # The clock: first detection, or the last reopening.
    detected_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    mitigation_due_at = models.DateTimeField(null=True, blank=True)
    due_reasons = models.JSONField(default=list, blank=True)
    # What the deadline was computed from, so a change shows (and recomputes).
    due_inputs = models.JSONField(default=dict, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    excepted = models.BooleanField(default=False)
    reopened_count = models.PositiveIntegerField(default=0)
    department_ids = models.JSONField(default=list, blank=True)
    device_class = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField()

    OPEN_STATES = (State.IN_TRIAGE, State.EXPLOITABLE)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["state", "due_at"], name="patching_finding_due"),
            models.Index(fields=["target_kind", "target_id"], name="patching_finding_target"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["target_kind", "target_id", "component_key", "component_version", "vuln_id"],
                name="patching_finding_once",
            )
        ]

    def __str__(self) -> str:
        return f"finding {self.pk}"

    @property
    def cve_ids(self) -> list[str]:
        """The CVE ids among the vulnerability's ids (what KEV and EPSS are keyed by)."""
        return [vuln for vuln in self.vuln_ids if vuln.startswith("CVE-")]

    @property
    def other_ids(self) -> list[str]:
        """Every id of the vulnerability but the one its record shows first."""
        return [vuln for vuln in self.vuln_ids if vuln != self.advisory.osv_id]

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES and not self.excepted


class RiskException(models.Model):
    """A risk decision on one finding, valid while its compensating controls
    pass, until its expiry, once a second person approved it."""

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REDUCE = "reduce", "Reduce (mitigate)"
        TRANSFER = "transfer", "Transfer"
        AVOID = "avoid", "Avoid"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        VOIDED = "voided", "Voided (a control failed)"
        EXPIRED = "expired", "Expired"

    # In force or waiting for a decision: a finding has at most one of these.
    OPEN_STATUSES = (Status.REQUESTED, Status.APPROVED)

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="exceptions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    justification = models.TextField()
    # [{"control_id": "devices.compensating_controls", "resource_id": "compensating-control:3"}, ...]
    controls = models.JSONField(default=list)
    expires_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(approved_by=models.F("requested_by")),
                name="patching_exception_two_people",
            )
        ]

    def __str__(self) -> str:
        return f"exception {self.pk} ({self.status})"


class PatchPlan(models.Model):
    """Remediation of one target's findings in a maintenance window, under a
    change record of the hospital's change process. Verified by evidence,
    not by a tick: the plan closes itself when a later inventory shows all
    its findings resolved."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned (no change record yet)"
        SCHEDULED = "scheduled", "Scheduled (change approved)"
        APPLIED = "applied", "Applied, awaiting verification"
        VERIFIED = "verified", "Verified by inventory"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.PLANNED, Status.SCHEDULED, Status.APPLIED)

    title = models.CharField(max_length=200)
    target_kind = models.CharField(max_length=8, choices=Target.choices)
    target_id = models.BigIntegerField()
    findings = models.ManyToManyField(Finding, related_name="plans")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    # The change process's own reference (e.g. CHG0031234); SafeWard links to it, it does not replace it.
    change_ref = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    notes = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["window_start", "pk"]
        indexes = [
            models.Index(fields=["status", "window_start"], name="patching_plan_window"),
            models.Index(fields=["target_kind", "target_id"], name="patching_plan_target"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_end__gt=models.F("window_start")), name="patching_plan_window_order"
            ),
            models.CheckConstraint(
                condition=models.Q(status="planned")
                | models.Q(status="cancelled")
                | ~models.Q(change_ref=""),
                name="patching_plan_change_record",
            ),
        ]

    def __str__(self) -> str:
        return f"patch plan {self.pk} ({self.status})"
