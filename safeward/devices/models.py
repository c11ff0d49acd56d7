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
