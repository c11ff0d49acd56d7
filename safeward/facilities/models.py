"""Physical security (issue 15): sites and secure areas with who may enter and
when, badges and the door events they leave, the visitor log, the chain of
custody of devices and media, and NIST SP 800-88 certificates of sanitization
that every disposal needs. Models hold data only; writes go through
`services.py` (audited in the same transaction). People are referred to by
their workforce.Person id, devices by their devices.Device id."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Site(models.Model):
    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, default="America/New_York", help_text="IANA time zone.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Area(models.Model):
    """A secure area: a room (site, building, floor, room) with a classification."""

    class Kind(models.TextChoices):
        RECORDS_ROOM = "records_room", "Records room"
        SERVER_ROOM = "server_room", "Server room"
        PHARMACY = "pharmacy", "Pharmacy"
        NURSERY = "nursery", "Nursery"
        ICU = "icu", "ICU"
        OTHER = "other", "Other"

    class Classification(models.TextChoices):
        RESTRICTED = "restricted", "Restricted"
        CONFIDENTIAL = "confidential", "Confidential"
        INTERNAL = "internal", "Internal"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="areas")
    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    building = models.CharField(max_length=80, blank=True)
    floor = models.CharField(max_length=20, blank=True)
    room = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    classification = models.CharField(max_length=16, choices=Classification.choices)
    secure = models.BooleanField(default=True, help_text="Entry needs an authorisation.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Door(models.Model):
    code = models.CharField(max_length=40, unique=True, help_text="The controller's door id.")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="doors")
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty: the site's time zone.")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Authorisation(models.Model):
    """Who may enter an area (a position or one person) and when: weekdays and a
    daily window in the site's time zone. A window whose end is before its start
    runs past midnight."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="authorisations")
    position_code = models.CharField(max_length=40, blank=True)
    person_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    weekdays = models.CharField(max_length=27, default="mon,tue,wed,thu,fri,sat,sun")
    start_time = models.TimeField()
    end_time = models.TimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["area", "position_code", "person_id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(position_code="") & Q(person_id__isnull=False))
                | (~Q(position_code="") & Q(person_id__isnull=True)),
                name="facilities_authorisation_one_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.area_id}: {self.position_code or f'person {self.person_id}'}"


class Badge(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        TO_RECOVER = "to_recover", "To recover"
        REVOKED = "revoked", "Revoked"

    credential_id = models.CharField(max_length=64, unique=True)
    person_id = models.BigIntegerField(db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["credential_id"]

    def __str__(self) -> str:
        return self.credential_id


class DoorEvent(models.Model):
    class Direction(models.TextChoices):
        IN = "in", "In"
        OUT = "out", "Out"

    # No index of its own: the unique constraint below starts with it.
    credential_id = models.CharField(max_length=64)
    person_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    door = models.ForeignKey(Door, on_delete=models.PROTECT, related_name="events")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="events")
    occurred_at = models.DateTimeField(db_index=True)
    granted = models.BooleanField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    source = models.CharField(max_length=40, help_text="file:<name> or syslog:<address>.")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["area", "occurred_at"], name="facilities_event_area_time")]
        constraints = [
            # The same badge at the same door at the same instant with the same
            # result is one event: a controller that resends after a reconnect,
            # or a file imported twice, adds nothing and raises no second alert.
            models.UniqueConstraint(
                fields=["credential_id", "door", "occurred_at", "granted", "direction"],
                name="facilities_event_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.credential_id} at {self.door_id}"


class Visitor(models.Model):
    name = models.CharField(max_length=120)
    organisation = models.CharField(max_length=120, blank=True)
    host = models.CharField(max_length=120, help_text="The person visited (staff) or 'patient visit'.")
    purpose = models.CharField(max_length=200)
    areas = models.CharField(max_length=200, blank=True)
    escort = models.CharField(max_length=120, blank=True)
    badge_number = models.CharField(max_length=20)
    # Set when the visit is to a patient flagged VIP or restricted; the privacy
    # officer sees these visits. No patient identifier is stored here.
    flagged_patient_visit = models.BooleanField(default=False)
    # Where a patient's visitor goes ("Ward A1, bed 3"), from the clinical
    # gateway's visitor-desk view; "Escorted" for a confidential patient. The
    # patient's id is not kept here: the sign-in's audit event (PatientVisit,
    # this visitor's id) links the two, under the audit trail's access rules.
    destination = models.CharField(max_length=160, blank=True)
    expected_minutes = models.PositiveIntegerField(default=120)
    signed_in_at = models.DateTimeField(db_index=True)
    signed_out_at = models.DateTimeField(null=True, blank=True)
    signed_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-signed_in_at"]

    def __str__(self) -> str:
        return f"visitor {self.badge_number}"


class Medium(models.Model):
    """Media not in the device inventory (a USB stick, a loose drive, a tape)."""

    class Kind(models.TextChoices):
        HDD = "hdd", "Hard disk"
        SSD = "ssd", "Solid-state drive"
        USB = "usb", "USB flash drive"
        TAPE = "tape", "Tape"
        OPTICAL = "optical", "Optical disc"
        PAPER = "paper", "Paper"

    property_number = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    make = models.CharField(max_length=120, blank=True)
    model = models.CharField(max_length=120, blank=True)
    serial = models.CharField(max_length=120, blank=True)
    disposed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["property_number"]

    def __str__(self) -> str:
        return self.property_number


class CustodyEvent(models.Model):
    class Kind(models.TextChoices):
        ISSUED = "issued", "Issued"
        RETURNED = "returned", "Returned"
        TRANSFERRED = "transferred", "Transferred"
        IN_STORAGE = "in_storage", "In storage"
        REPAIR = "repair", "Sent for repair"
        LOST = "lost", "Lost"

    device_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    medium = models.ForeignKey(
        Medium, on_delete=models.PROTECT, null=True, blank=True, related_name="custody"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    holder_person_id = models.BigIntegerField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(device_id__isnull=False) & Q(medium__isnull=True))
                | (Q(device_id__isnull=True) & Q(medium__isnull=False)),
                name="facilities_custody_one_item",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.device_id or self.medium_id}"


class Certificate(models.Model):
    """A Certificate of Sanitization (NIST SP 800-88 Rev. 1, Appendix G)."""

    class MethodType(models.TextChoices):
        CLEAR = "clear", "Clear"
        PURGE = "purge", "Purge"
        DESTROY = "destroy", "Destroy"

    class Method(models.TextChoices):
        OVERWRITE = "overwrite", "Overwrite"
        BLOCK_ERASE = "block_erase", "Block erase"
        CRYPTO_ERASE = "crypto_erase", "Cryptographic erase"
        DEGAUSS = "degauss", "Degauss"
        SHRED = "shred", "Shred"

    class Verification(models.TextChoices):
        FULL = "full", "Full"
        SAMPLING = "sampling", "Sampling"

    class Standard(models.TextChoices):
        NIST_R1 = "800-88r1", "NIST SP 800-88 Rev. 1"
        NIST_R2 = "800-88r2", "NIST SP 800-88 Rev. 2"
        IEEE_2883 = "ieee2883", "IEEE 2883-2022"

    class Destination(models.TextChoices):
        DISPOSAL = "disposal", "Disposal (recycler)"
        RESALE = "resale", "Resale"
        VENDOR = "vendor", "Return to vendor"
        REUSE = "reuse", "Reuse elsewhere"
        INTERNAL = "internal", "Reuse internally"

    device_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    medium = models.ForeignKey(Medium, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The person who sanitized.
    person_name = models.CharField(max_length=120)
    person_title = models.CharField(max_length=120)
    person_organisation = models.CharField(max_length=120)
    person_location = models.CharField(max_length=120)
    person_phone = models.CharField(max_length=40)
    # The media.
    media_make = models.CharField(max_length=120)
    media_model = models.CharField(max_length=120)
    media_serial = models.CharField(max_length=120)
    media_property_number = models.CharField(max_length=64)
    media_type = models.CharField(max_length=40)
    media_source = models.CharField(max_length=120, help_text="The user or computer it came from.")
    classification = models.CharField(max_length=40)
    backed_up = models.BooleanField()
    backup_location = models.CharField(max_length=200, blank=True)
    method_type = models.CharField(max_length=8, choices=MethodType.choices)
    method = models.CharField(max_length=14, choices=Method.choices)
    tool = models.CharField(max_length=120)
    tool_version = models.CharField(max_length=40)
    verification = models.CharField(max_length=8, choices=Verification.choices)
    post_classification = models.CharField(max_length=40)
    destination = models.CharField(max_length=10, choices=Destination.choices)
    standard = models.CharField(max_length=10, choices=Standard.choices)
    signed_at = models.DateTimeField()
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    validator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    validated_at = models.DateTimeField(null=True, blank=True)
    evidence_name = models.CharField(max_length=200, blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    patients_in_scope = models.PositiveIntegerField(default=0)
    pickup = models.CharField(max_length=64, blank=True, help_text="The recycler's pallet or pickup id.")
    disposed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(device_id__isnull=False) & Q(medium__isnull=True))
                | (Q(device_id__isnull=True) & Q(medium__isnull=False)),
                name="facilities_certificate_one_item",
            ),
            models.CheckConstraint(
                condition=Q(validator__isnull=True) | ~Q(validator=models.F("operator")),
                name="facilities_validator_not_operator",
            ),
        ]

    def __str__(self) -> str:
        return f"certificate {self.pk}"


class Workstation(models.Model):
    """A device of the inventory placed inside a secure area: a chart opened
    from it needs its user's badge-in to the area (ADR 1110)."""

    device_id = models.BigIntegerField(unique=True)
    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="workstations")
    placed_at = models.DateTimeField()

    class Meta:
        ordering = ["area", "device_id"]

    def __str__(self) -> str:
        return f"device {self.device_id} in {self.area_id}"
