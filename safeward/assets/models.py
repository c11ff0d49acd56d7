"""The information-asset register: every place patient data (or what
protects it) lives, who owns it, how it is protected and when it was last
looked at. Other apps refer to assets by id and read them through
`safeward.assets.selectors`."""

from __future__ import annotations

from django.db import models


class Classification(models.TextChoices):
    """HHS 405(d) HICP Technical Volume 2, Table 3 (example data classification)."""

    HIGHLY_SENSITIVE = "highly_sensitive", "Highly Sensitive"
    SENSITIVE = "sensitive", "Sensitive"
    INTERNAL = "internal", "Internal"
    PUBLIC = "public", "Public"


class Asset(models.Model):
    class Kind(models.TextChoices):
        APPLICATION = "application", "Application"
        DATABASE = "database", "Database"
        FILE_SHARE = "file_share", "File share"
        OBJECT_STORE = "object_store", "Object store / external storage"
        SERVER = "server", "Server"
        WORKSTATION_POOL = "workstation_pool", "Workstation pool"
        SAAS = "saas", "SaaS"
        INTEGRATION_ENDPOINT = "integration_endpoint", "Integration endpoint"
        BACKUP_SET = "backup_set", "Backup set"
        PAPER_RECORDS = "paper_records", "Paper record store"

    class Hosting(models.TextChoices):
        ON_PREMISES = "on_premises", "On premises"
        CLOUD = "cloud", "Cloud"
        VENDOR = "vendor", "Vendor"

    class Protection(models.TextChoices):
        YES = "yes", "Encrypted"
        NO = "no", "Not encrypted"
        UNKNOWN = "unknown", "Unknown"

    class Criticality(models.TextChoices):
        CRITICAL = "critical", "Critical"
        HIGH = "high", "High"
        MODERATE = "moderate", "Moderate"
        LOW = "low", "Low"

    class ReviewState(models.TextChoices):
        UNREVIEWED = "unreviewed", "Unreviewed"
        REVIEWED = "reviewed", "Reviewed"
        RETIRED = "retired", "Retired"

    class Source(models.TextChoices):
        MANUAL = "manual", "Entered by hand"
        IMPORTED = "imported", "Imported"
        DISCOVERED = "discovered", "Discovered by the PHI scanner"
        SAFEWARD = "safeward", "SafeWard itself"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    description = models.TextField(blank=True)
    # workforce.Person ids (read through workforce's selectors).
    owner_person_id = models.BigIntegerField(null=True, blank=True)
    custodian_person_id = models.BigIntegerField(null=True, blank=True)
    location = models.CharField(max_length=1000, blank=True, help_text="Site and room, cloud region or path.")
    hosting = models.CharField(max_length=16, choices=Hosting.choices, default=Hosting.ON_PREMISES)
    # The vendor register fills vendor_id; until then the name is what the inventory says.
    vendor_id = models.BigIntegerField(null=True, blank=True)
    vendor_name = models.CharField(max_length=200, blank=True)
    network_zone = models.CharField(max_length=80, blank=True)
    # Blank until someone (or, for SafeWard's own stores, the model metadata) classifies it.
    classification = models.CharField(max_length=20, choices=Classification.choices, blank=True)
    phi_categories = models.JSONField(default=list, blank=True)
    record_count_estimate = models.PositiveBigIntegerField(null=True, blank=True)
    encrypted_at_rest = models.CharField(max_length=8, choices=Protection.choices, default=Protection.UNKNOWN)
    encrypted_at_rest_evidence = models.TextField(blank=True)
    encrypted_in_transit = models.CharField(
        max_length=8, choices=Protection.choices, default=Protection.UNKNOWN
    )
    encrypted_in_transit_evidence = models.TextField(blank=True)
    retention = models.CharField(max_length=200, blank=True)
    criticality = models.CharField(max_length=10, choices=Criticality.choices, default=Criticality.MODERATE)
    rto_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Recovery time objective.")
    rpo_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Recovery point objective.")
    clinical_services = models.JSONField(
        default=list, blank=True, help_text="Clinical services relying on it."
    )
    department_ids = models.JSONField(
        default=list, blank=True, help_text="identity.Department ids relying on it."
    )
    last_reviewed_on = models.DateField(null=True, blank=True)
    next_review_due = models.DateField(null=True, blank=True)
    last_assessed_on = models.DateField(null=True, blank=True)
    next_assessment_due = models.DateField(null=True, blank=True)
    review_state = models.CharField(
        max_length=12, choices=ReviewState.choices, default=ReviewState.UNREVIEWED
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    # SafeWard's own stores are registered under a stable key ("safeward.database"...).
    system_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, through="AssetDependency", related_name="dependents", blank=True
    )

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["kind", "location"], name="assets_kind_location"),
            models.Index(fields=["next_review_due"], name="assets_review_due"),
            models.Index(fields=["next_assessment_due"], name="assets_assessment_due"),
        ]

    def __str__(self) -> str:
        return f"asset {self.pk} ({self.kind})"


class AssetDependency(models.Model):
    """`asset` needs `depends_on` to work (the EHR needs its database)."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="dependency_links")
    depends_on = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="dependent_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["asset", "depends_on"], name="assets_dependency_once"),
            models.CheckConstraint(
                condition=~models.Q(asset=models.F("depends_on")), name="assets_dependency_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"asset {self.asset_id} needs {self.depends_on_id}"


class ExportManifest(models.Model):
    """One export that left SafeWard: who, when, why, where to, which patients
    (ids) and sections, and the SHA-256 of the bytes (safeward.audit.manifests).
    `manifest_sha256` hashes the manifest itself; the audit event written with
    it carries that hash, so the manifest is sealed into the audit chain."""

    created_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True)
    actor_username = models.CharField(max_length=150, blank=True)
    kind = models.CharField(max_length=16)
    route = models.CharField(max_length=100)
    purpose = models.CharField(max_length=16)
    destination = models.ForeignKey(Asset, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    patient_ids = models.JSONField(default=list)
    patient_count = models.PositiveIntegerField()
    sections = models.JSONField(default=list)
    sha256 = models.CharField(max_length=64, db_index=True)
    byte_count = models.PositiveBigIntegerField()
    complete = models.BooleanField(default=True, help_text="False: the download was cut short.")
    manifest_sha256 = models.CharField(max_length=64, unique=True)
    audit_event_id = models.BigIntegerField(null=True)
    # The OAuth client of an API or FHIR pull (its asset, when linked, is the destination).
    client_id = models.CharField(max_length=100, blank=True, default="")
    # Random, in the sealed hash: two identical pulls in one instant are two manifests (ADR 0811).
    nonce = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export manifest {self.pk} ({self.kind})"


class AssetClient(models.Model):
    """An OAuth client (an application pulling over FHIR or the REST API)
    and the asset it is in the register: the destination of its pulls'
    manifests (ADR 0811). A client is one asset's; an asset may have several."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="clients")
    client_id = models.CharField(max_length=100, unique=True)
    linked_at = models.DateTimeField()

    class Meta:
        ordering = ["client_id"]

    def __str__(self) -> str:
        return f"client of asset {self.asset_id}"


# --- PHI discovery (ADR 0810) ------------------------------------------------------------------------
class DiscoveryScan(models.Model):
    """One run of the PHI discovery scanner over one or more roots."""

    class Trigger(models.TextChoices):
        COMMAND = "command", "Command line"
        SCHEDULE = "schedule", "Scheduled scan of registered shares"
        WEB = "web", "Started from the findings page"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    started_by_id = models.BigIntegerField(null=True, blank=True)  # identity.User id; none for the system
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    roots = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    files_seen = models.PositiveIntegerField(default=0)
    files_read = models.PositiveIntegerField(default=0)
    files_unchanged = models.PositiveIntegerField(default=0)
    files_skipped = models.PositiveIntegerField(default=0)
    files_protected = models.PositiveIntegerField(default=0)
    bytes_read = models.PositiveBigIntegerField(default=0)
    findings_opened = models.PositiveIntegerField(default=0)
    patients_matched = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"discovery scan {self.pk}"


class ScannedFile(models.Model):
    """What the last scan saw of a path: the incremental state, and why a file was not read."""

    path_key = models.CharField(max_length=64, unique=True)  # SHA-256 of the path: paths exceed index limits
    path = models.TextField()
    size = models.PositiveBigIntegerField(default=0)
    mtime_ns = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10)  # engine.Status: scanned, unchanged, skipped
    protection = models.CharField(max_length=24, blank=True)
    reason_code = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    last_scan = models.ForeignKey(DiscoveryScan, on_delete=models.CASCADE, related_name="files")
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"scanned file {self.pk}"


class DiscoveryFinding(models.Model):
    """A file that holds PHI (or is an encrypted container the scanner could not
    look into). Counts and patient ids only: never a matched value."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Confirmed"
        REMEDIATED = "remediated", "Remediated"
        FALSE_POSITIVE = "false_positive", "False positive"
        PROTECTED = "protected", "Encrypted (no action needed)"

    class Remediation(models.TextChoices):
        NONE = "", "None"
        ENCRYPTED = "encrypted", "Encrypted in place"
        DELETED = "deleted", "Deleted"
        MOVED = "moved", "Moved to quarantine"

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="discovery_findings")
    scan = models.ForeignKey(DiscoveryScan, on_delete=models.PROTECT, related_name="findings")
    path = models.TextField()
    path_key = models.CharField(max_length=64)  # SHA-256 of the path
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    encrypted = models.BooleanField()
    protection = models.CharField(max_length=24, blank=True)
    formats = models.JSONField(default=list)
    counts = models.JSONField(default=dict)  # category -> count (detectors.CATEGORIES)
    matched_by = models.JSONField(default=dict)  # identifier kind -> patients matched by it
    patient_ids = models.JSONField(default=list)  # clinical.Patient ids, from the gateway (audited)
    patients_matched = models.PositiveIntegerField(default=0)
    notes = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    remediation = models.CharField(max_length=10, choices=Remediation.choices, blank=True, default="")
    resolution_note = models.CharField(max_length=500, blank=True)
    moved_to = models.TextField(blank=True)
    triaged_by_id = models.BigIntegerField(null=True, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    alert_id = models.BigIntegerField(null=True, blank=True)  # detection.Alert id
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["sha256", "path_key"], name="assets_finding_once_per_content"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="assets_finding_queue")]

    def __str__(self) -> str:
        return f"discovery finding {self.pk}"
