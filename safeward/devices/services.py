"""Device writes: each takes `actor`, runs in one transaction and records its audit
event there. Devices hold no patient data, so audit rows name the device and the
fields that changed."""

from __future__ import annotations

from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.devices.models import Device
from safeward.identity.models import User

RESOURCE = "Device"

# States a device reaches only on its way out of the hospital: the facilities app
# records a Certificate of Sanitization (NIST SP 800-88) first and passes its id.
LEAVING = frozenset({Device.Lifecycle.SANITIZED, Device.Lifecycle.DISPOSED})

# Which state may follow which. Lost and stolen devices may be found again.
TRANSITIONS: dict[str, frozenset[str]] = {
    Device.Lifecycle.ORDERED: frozenset({Device.Lifecycle.IN_SERVICE, Device.Lifecycle.RETIRED}),
    Device.Lifecycle.IN_SERVICE: frozenset(
        {Device.Lifecycle.LOST, Device.Lifecycle.STOLEN, Device.Lifecycle.RETIRED}
    ),
    Device.Lifecycle.LOST: frozenset({Device.Lifecycle.IN_SERVICE, Device.Lifecycle.RETIRED}),
    Device.Lifecycle.STOLEN: frozenset({Device.Lifecycle.IN_SERVICE, Device.Lifecycle.RETIRED}),
    Device.Lifecycle.RETIRED: frozenset({Device.Lifecycle.IN_SERVICE, Device.Lifecycle.SANITIZED}),
    Device.Lifecycle.SANITIZED: frozenset({Device.Lifecycle.IN_SERVICE, Device.Lifecycle.DISPOSED}),
    Device.Lifecycle.DISPOSED: frozenset(),
}


class DeviceError(Exception):
    """A write refused with a reason the person can act on."""


def device_lifecycle_set(
    *,
    actor: User | None,
    device_id: int,
    state: str,
    reason: str = "",
    sanitization_certificate_id: int | None = None,
) -> Device:
    """Move a device along its lifecycle. Sanitized and disposed need the id of a
    validated sanitization certificate: only the facilities app's services pass one,
    after checking it (issue 15)."""
    if state not in Device.Lifecycle.values:
        raise DeviceError(f"Unknown lifecycle state {state!r}.")
    with transaction.atomic():
        device = Device.objects.select_for_update().filter(pk=device_id).first()
        if device is None:
            raise DeviceError(f"No device with id {device_id}.")
        if state not in TRANSITIONS[device.lifecycle]:
            raise DeviceError(
                f"A device that is {device.get_lifecycle_display().lower()} cannot become "
                f"{Device.Lifecycle(state).label.lower()}."
            )
        if state in LEAVING and sanitization_certificate_id is None:
            raise DeviceError(
                "Record and validate a certificate of sanitization before a device is sanitized "
                "or leaves the hospital."
            )
        before = device.lifecycle
        now = clock.now()
        device.lifecycle = state
        device.lifecycle_changed_at = now
        device.updated_at = now
        device.save(update_fields=["lifecycle", "lifecycle_changed_at", "updated_at"])
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=device.pk,
            purpose=PurposeOfUse.OPERATIONS,
            reason=reason,
            fields=["lifecycle"],
            detail={
                "from": before,
                "to": state,
                **({"certificate": sanitization_certificate_id} if sanitization_certificate_id else {}),
            },
        )
    return device
