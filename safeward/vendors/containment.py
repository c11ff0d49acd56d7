"""`vendor_suspend`, the containment action the vendors app registers with
incidents (safeward/incidents/containment.py, ADR 1403 and 1211): from an
incident case, suspend a vendor by name or id; every account, OAuth client
and token it holds ends in one transaction (`services.vendor_suspend_for_incident`),
and the case records the action on its timeline."""

from __future__ import annotations

from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.incidents.containment import ContainmentRefused, register_action
from safeward.vendors import selectors, services

CODE = "vendor_suspend"


def suspend_for_incident(*, actor: User, incident_id: int, target: str) -> str:
    target = target.strip()
    vendor = selectors.vendor_by_name(name=target)
    if vendor is None and target.isdigit():
        vendor = selectors.vendor_get(vendor_id=int(target))
    if vendor is None:
        raise ContainmentRefused("No vendor has that name or id.")
    try:
        result = services.vendor_suspend_for_incident(
            actor=actor, vendor_id=vendor.pk, incident_id=incident_id
        )
    except services.VendorError as refused:
        raise ContainmentRefused(" ".join(refused.messages)) from None
    return (
        f"Suspended vendor {vendor.name}: {result.credentials} credential(s) ended, "
        f"{result.accounts_disabled} account(s) disabled, {result.clients_disabled} OAuth client(s) "
        f"disabled, {result.tokens_revoked} token(s) revoked, {result.paths_to_remove} external "
        "path(s) or key(s) to remove at their systems."
    )


def register() -> None:
    register_action(
        CODE,
        "Suspend a vendor (all its accounts and OAuth clients)",
        Perm.DETECTION_ALERT_CONTAIN,
        suspend_for_incident,
        target_label="Vendor name or id",
    )
