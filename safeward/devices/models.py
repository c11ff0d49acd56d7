"""Devices and the networks they sit on (issue 14): workstations, laptops, phones,
servers, network gear and medical devices. A device is an asset (DESIGN: assets are
the spine); it may point at its register entry. Other apps read devices through
`safeward.devices.selectors` and change them through `safeward.devices.services`."""

from __future__ import annotations

from django.db import models


class NetworkSegment(models.Model):
    class Zone(models.TextChoices):
        CLINICAL_DEVICES = "clinical_devices", "Clinical devices"
        WORKSTATIONS = "workstations", "Workstations"
        DMZ = "dmz", "DMZ"
        DATA_CENTRE = "data_centre", "Data centre"
        GUEST = "guest", "Guest"

    name = models.CharField(max_length=100, unique=True)
    vlan = models.PositiveIntegerField(null=True, blank=True)
    cidr = models.CharField(max_length=64, blank=True, help_text="IPv4 or IPv6 network, e.g. 10.21.0.0/24.")
    zone = models.CharField(max_length=20, choices=Zone.choices)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    class Kind(models.TextChoices):
        WORKSTATION = "workstation", "Workstation"
        LAPTOP = "laptop", "Laptop"
        PHONE = "phone", "Phone"
        TABLET = "tablet", "Tablet"
        SERVER = "server", "Server"
        NETWORK = "network", "Network equipment"
        MEDICAL = "medical", "Medical device"
        MEDIA = "media", "Removable media"

    class Lifecycle(models.TextChoices):
        ORDERED = "ordered", "Ordered"
        IN_SERVICE = "in_service", "In service"
        LOST = "lost", "Lost"
        STOLEN = "stolen", "Stolen"
        RETIRED = "retired", "Retired"
        SANITIZED = "sanitized", "Sanitized"
        DISPOSED = "disposed", "Disposed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    asset_tag = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True, help_text="Host name or a label people use.")
    manufacturer = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    serial = models.CharField(max_length=200, blank=True, db_index=True)
    os_name = models.CharField(max_length=100, blank=True, help_text="Operating system or firmware.")
    os_version = models.CharField(max_length=100, blank=True)
    # workforce.Person id, identity.Department id: referred to by id across apps.
    assigned_person_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    department_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    location = models.CharField(max_length=300, blank=True, help_text="Site, building, floor and room.")
    segment = models.ForeignKey(
        NetworkSegment, null=True, blank=True, on_delete=models.PROTECT, related_name="devices"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    mac_address = models.CharField(max_length=17, blank=True)
    lifecycle = models.CharField(max_length=12, choices=Lifecycle.choices, default=Lifecycle.IN_SERVICE)
    lifecycle_changed_at = models.DateTimeField(null=True, blank=True)
    end_of_support = models.DateField(
        null=True, blank=True, help_text="The manufacturer's end of support; past it the device is legacy."
    )
    # SHA-256 of the device's client certificate, as a trusted reverse proxy forwards it.
    certificate_fingerprint = models.CharField(max_length=64, unique=True, null=True, blank=True)
    asset_id = models.BigIntegerField(null=True, blank=True, help_text="Its entry in the asset register.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["asset_tag"]
        indexes = [models.Index(fields=["lifecycle", "kind"], name="devices_lifecycle_kind")]

    def __str__(self) -> str:
        return self.asset_tag


class SegmentFlow(models.Model):
    """An allowed flow from one segment to another, or to the internet."""

    class Protocol(models.TextChoices):
        TCP = "tcp", "TCP"
        UDP = "udp", "UDP"
        ICMP = "icmp", "ICMP"
        ANY = "any", "Any"

    source = models.ForeignKey(NetworkSegment, on_delete=models.CASCADE, related_name="flows_out")
    # None: the internet (anything outside the hospital's segments).
    destination = models.ForeignKey(
        NetworkSegment, null=True, blank=True, on_delete=models.CASCADE, related_name="flows_in"
    )
    port = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: every port.")
    protocol = models.CharField(max_length=4, choices=Protocol.choices, default=Protocol.TCP)
    purpose = models.CharField(max_length=300)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["source__name", "destination__name", "port"]

    def __str__(self) -> str:
        return f"{self.source} -> {self.destination_label} {self.service}"

    @property
    def to_internet(self) -> bool:
        return self.destination_id is None

    @property
    def destination_label(self) -> str:
        return self.destination.name if self.destination is not None else "internet"

    def covers(self, source: int | None, destination: int | None, port: int | None, protocol: str) -> bool:
        """Whether this declared flow allows a connection (segment ids; None: outside / internet)."""
        return (
            self.source_id == source
            and self.destination_id == destination
            and self.protocol in (self.Protocol.ANY, protocol)
            and (self.port is None or self.port == port)
        )

    @property
    def service(self) -> str:
        if self.protocol == self.Protocol.ANY:
            return "any"
        return f"{self.port if self.port is not None else '*'}/{self.protocol}"


class Mds2Statement(models.Model):
    """A Manufacturer Disclosure Statement for Medical Device Security
    (ANSI/NEMA HN 1-2019) for one device model: manufacturer + model."""

    manufacturer = models.CharField(max_length=200)
    model = models.CharField(max_length=200)
    document_version = models.CharField(max_length=100, blank=True)
    source_sha256 = models.CharField(max_length=64)
    source_name = models.CharField(max_length=200, blank=True)
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(
        "identity.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["manufacturer", "model"]
        constraints = [
            models.UniqueConstraint(fields=["manufacturer", "model"], name="devices_mds2_one_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.model}"


class Mds2Answer(models.Model):
    class Value(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"
        NA = "na", "N/A"

    statement = models.ForeignKey(Mds2Statement, on_delete=models.CASCADE, related_name="answers")
    question_id = models.CharField(max_length=20)
    value = models.CharField(max_length=3, choices=Value.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["question_id"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "question_id"], name="devices_mds2_one_answer")
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.get_value_display()}"


class CompensatingControl(models.Model):
    """A control standing in for a fix a device cannot take (HICP Table 12):
    one device, or every device of a model (manufacturer + model)."""

    class Kind(models.TextChoices):
        ISOLATED_SEGMENT = "isolated_segment", "Isolated network segment"
        PHYSICAL = "physical", "Physical access control"
        SANITIZE_AT_DISPOSAL = "sanitize_at_disposal", "Sanitization at disposal"
        VENDOR_TICKET = "vendor_ticket", "Vendor patch ticket clock"
        JUMP_HOST = "jump_host", "Remote access only through a jump host"
        ANTI_MALWARE = "anti_malware", "Compensation for no anti-malware"
        MONITORING = "monitoring", "Network monitoring"
        OTHER = "other", "Other"

    class Remediation(models.TextChoices):
        INTERIM = "interim", "Interim mitigation (30 days)"
        VENDOR = "vendor", "Vendor remediation (60 days)"

    class Test(models.TextChoices):
        NONE = "none", "Reviewed by hand"
        SEGMENT_ONLY_ALLOWS = "segment_only_allows", "Segment allows only a port to a segment"
        CHECKED_IN = "checked_in", "Device checked in within 24 h"
        ISOLATED = "isolated", "Devices sit on an isolated segment"

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    remediation = models.CharField(max_length=8, choices=Remediation.choices, default=Remediation.INTERIM)
    owner = models.ForeignKey("identity.User", on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.CASCADE, related_name="compensating_controls"
    )
    # A model fleet when no single device: every device of this manufacturer and model.
    manufacturer = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    mds2_question = models.CharField(max_length=20, blank=True, help_text="The MDS2 answer it derives from.")
    test = models.CharField(max_length=24, choices=Test.choices, default=Test.NONE)
    test_segment = models.ForeignKey(
        NetworkSegment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    test_port = models.PositiveIntegerField(null=True, blank=True)
    test_protocol = models.CharField(max_length=4, blank=True)
    # None with test SEGMENT_ONLY_ALLOWS: only flows to this segment; internet never.
    test_destination = models.ForeignKey(
        NetworkSegment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_due = models.DateField()
    expires_on = models.DateField()
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["expires_on", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def resource_id(self) -> str:
        """The id control tests and compliance exceptions name it by (stable)."""
        return f"compensating-control:{self.pk}"

    @property
    def scope_label(self) -> str:
        if self.device_id is not None:
            return str(self.device)
        return f"every {self.manufacturer} {self.model}".strip()


class ControlEvidence(models.Model):
    """A file showing the control works (a firewall screenshot, a lock photo).
    Kept in the database with its SHA-256; never patient data."""

    control = models.ForeignKey(CompensatingControl, on_delete=models.CASCADE, related_name="evidence")
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    note = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey("identity.User", null=True, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self) -> str:
        return self.filename


# --- Endpoint and mobile posture (issue 14, the posture half) -----------------------------------
# What the MDM or endpoint agent last said about a device (DevicePosture, one row per
# device), every report it ever sent (PostureReport), the sessions seen from a device
# (DeviceSession) and the remote wipes asked for when a device is lost (WipeRequest).


class PostureSource(models.TextChoices):
    FLEET = "fleet", "Fleet / osquery"
    INTUNE = "intune", "Microsoft Intune"
    JAMF = "jamf", "Jamf Pro"


class PostureReport(models.Model):
    """One device's posture as one import reported it (the history)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="posture_reports")
    source = models.CharField(max_length=10, choices=PostureSource.choices)
    import_id = models.UUIDField(db_index=True, help_text="The import that brought it.")
    disk_encrypted = models.BooleanField(null=True)
    passcode_set = models.BooleanField(null=True)
    os_version = models.CharField(max_length=100, blank=True)
    jailbroken = models.BooleanField(null=True, help_text="Jailbroken or rooted.")
    last_check_in = models.DateTimeField(null=True)
    compliant = models.BooleanField()
    compliance_reasons = models.JSONField(default=list, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-imported_at", "-id"]
        indexes = [models.Index(fields=["device", "-imported_at"], name="devices_posture_history")]

    def __str__(self) -> str:
        return f"posture of device {self.device_id} ({self.source})"


class DevicePosture(models.Model):
    """A device's current posture: the latest report, kept beside the device so the
    per-request lookup is one indexed read."""

    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="posture")
    report = models.ForeignKey(PostureReport, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=10, choices=PostureSource.choices)
    disk_encrypted = models.BooleanField(null=True)
    passcode_set = models.BooleanField(null=True)
    os_version = models.CharField(max_length=100, blank=True)
    jailbroken = models.BooleanField(null=True)
    last_check_in = models.DateTimeField(null=True)
    compliant = models.BooleanField()
    compliance_reasons = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"current posture of device {self.device_id}"


class DeviceSession(models.Model):
    """A signed-in session seen from a device (identified by its client certificate)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="sessions_seen")
    # identity.UserSession id and identity.User id, referred to by value.
    session_id = models.UUIDField()
    user_id = models.BigIntegerField(db_index=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["device", "session_id"], name="devices_session_once"),
        ]

    def __str__(self) -> str:
        return f"session {self.session_id} on device {self.device_id}"


class WipeRequest(models.Model):
    """A remote wipe asked of the MDM when a device was reported lost or stolen."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        CONFIRMED = "confirmed", "Confirmed by the MDM"

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="wipe_requests")
    requested_at = models.DateTimeField()
    requested_by_id = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    incident_id = models.BigIntegerField(null=True, blank=True)
    sessions_ended = models.PositiveIntegerField(default=0)
    tokens_revoked = models.PositiveIntegerField(default=0)
    # Who said the device was wiped (ADR 1017): an MDM import, or a person who saw it done.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by_id = models.BigIntegerField(null=True, blank=True)
    confirmation_source = models.CharField(
        max_length=10, blank=True, choices=[*PostureSource.choices, ("manual", "Confirmed by a person")]
    )
    confirmation_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"wipe of device {self.device_id} ({self.status})"


class TokenDevice(models.Model):
    """The device an OAuth access token was issued to (ADR 1016): the client
    certificate a trusted proxy forwarded with the token request. Written once at
    issue; each bearer request reads the device's posture through it."""

    access_token = models.OneToOneField(
        "oauth2_provider.AccessToken", on_delete=models.CASCADE, related_name="device_binding"
    )
    # None: a certificate the inventory did not know at issue (the token is unmanaged).
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="token_bindings"
    )
    fingerprint = models.CharField(max_length=64)
    bound_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"token {self.access_token_id} on device {self.device_id}"


class FlowExport(models.Model):
    """A firewall log or flow export (NetFlow/IPFIX, summarised to CSV): what
    the network carried, as opposed to what is declared allowed. Kept
    aggregated per segment pair and service; the live tests read the latest."""

    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    imported_by = models.ForeignKey("identity.User", null=True, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-imported_at", "-pk"]

    def __str__(self) -> str:
        return f"flow export {self.pk}"


class ObservedFlow(models.Model):
    """Connections of one export from a segment (None: outside every segment)
    to a segment (None: the internet) on one service."""

    export = models.ForeignKey(FlowExport, on_delete=models.CASCADE, related_name="observed")
    source = models.ForeignKey(
        NetworkSegment, null=True, blank=True, on_delete=models.CASCADE, related_name="observed_out"
    )
    destination = models.ForeignKey(
        NetworkSegment, null=True, blank=True, on_delete=models.CASCADE, related_name="observed_in"
    )
    port = models.PositiveIntegerField(null=True, blank=True)
    protocol = models.CharField(max_length=4, choices=SegmentFlow.Protocol.choices)
    connections = models.PositiveBigIntegerField()
    # One example pair, so a network engineer can find the rule in the firewall.
    example_source_ip = models.GenericIPAddressField()
    example_destination_ip = models.GenericIPAddressField()

    class Meta:
        ordering = ["source__name", "destination__name", "port", "protocol"]
        indexes = [models.Index(fields=["export", "source"], name="devices_observed_source")]

    def __str__(self) -> str:
        return f"observed {self.protocol}/{self.port} ({self.connections})"

    @property
    def source_label(self) -> str:
        return self.source.name if self.source is not None else "outside"

    @property
    def destination_label(self) -> str:
        return self.destination.name if self.destination is not None else "internet"

    @property
    def service(self) -> str:
        return self.protocol if self.port is None else f"{self.port}/{self.protocol}"


class ClientDevice(models.Model):
    """An OAuth client whose credentials live on one device (ADR 1018): a ward kiosk or a
    shared workstation app. Every bearer token of the client is judged by that device's
    posture now, as well as by its own binding. Linked and unlinked by a security officer."""

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="device_link"
    )
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="client_links")
    linked_at = models.DateTimeField()
    linked_by = models.ForeignKey(
        "identity.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["device__asset_tag", "application__name"]

    def __str__(self) -> str:
        return f"client {self.application_id} on device {self.device_id}"


class GrantDevice(models.Model):
    """The device of the browser a user consented from (ADR 1019), kept until the app
    exchanges the authorization code: the token is bound to it, not to whatever the
    token request presents. Keyed by the code's SHA-256 (DOT deletes its grant on
    exchange, before the token is announced)."""

    code_hash = models.CharField(max_length=64, unique=True)
    application_id = models.BigIntegerField()
    user = models.ForeignKey("identity.User", on_delete=models.CASCADE, related_name="+")
    # None: a certificate the inventory did not know (the token will be unmanaged).
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    fingerprint = models.CharField(max_length=64)
    recorded_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"consent on device {self.device_id}"


class RefreshTokenDevice(models.Model):
    """The device a refresh token was issued to (ADR 1019). DOT deletes the access token
    (and its `TokenDevice`) when the refresh token is used: this row is how the new
    access token inherits the binding."""

    refresh_token = models.OneToOneField(
        "oauth2_provider.RefreshToken", on_delete=models.CASCADE, related_name="device_binding"
    )
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="refresh_bindings"
    )
    fingerprint = models.CharField(max_length=64)
    bound_at = models.DateTimeField()
    # Why the refresh gate refused and revoked the token ("" while usable): its next use is
    # audited and answered with that, not only DOT's bare invalid_grant (ADR 1019).
    refused = models.CharField(max_length=40, blank=True, default="")

    def __str__(self) -> str:
        return f"refresh token {self.refresh_token_id} on device {self.device_id}"
