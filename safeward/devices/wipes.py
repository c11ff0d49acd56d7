"""Remote-wipe confirmation (ADR 1017).

Reporting a device lost or stolen records a `WipeRequest` for the MDM
(`posture.device_report_lost`). The request is *confirmed* when the MDM says the
device was wiped — a posture import whose row for the device reports it
(`wipes_confirm_reported`, called by `posture.posture_import` in its transaction) —
or when a person who saw it done confirms it with a note (`wipe_confirm`). Each
confirmation is audited and written on the lost-device incident's timeline.
`devices.lost_devices_contained` fails for a wipe still unconfirmed
`SAFEWARD_WIPE_CONFIRM_HOURS` after it was requested.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.devices.models import PostureSource, WipeRequest
from safeward.devices.services import DeviceError
from safeward.identity.models import User

MANUAL = "manual"


def confirm_window() -> dt.timedelta:
    return dt.timedelta(hours=settings.SAFEWARD_WIPE_CONFIRM_HOURS)


def wipe_state(wipe: WipeRequest, *, now: dt.datetime) -> str:
    """confirmed / pending (within the window) / overdue."""
    if wipe.confirmed_at is not None:
        return "confirmed"
    return "overdue" if now - wipe.requested_at > confirm_window() else "pending"


def _confirm(
    wipe: WipeRequest, *, actor: User | None, source: str, note: str, detail: dict[str, object]
) -> None:
    from safeward.incidents.selectors import incident_get
    from safeward.incidents.services import timeline_entry

    now = clock.now()
    wipe.status = WipeRequest.Status.CONFIRMED
    wipe.confirmed_at = now
    wipe.confirmed_by_id = actor.pk if actor is not None else None
    wipe.confirmation_source = source
    wipe.confirmation_note = note
    wipe.save(
        update_fields=[
            "status",
            "confirmed_at",
            "confirmed_by_id",
            "confirmation_source",
            "confirmation_note",
        ]
    )
    audit_record(
        action=Action.UPDATE,
        actor=actor,
        resource_type="WipeRequest",
        resource_id=wipe.pk,
        purpose=PurposeOfUse.SECURITY,
        fields=["status", "confirmed_at", "confirmation_source"],
        reason=note,
        detail={"device": wipe.device_id, "source": source, **detail},
    )
    incident = incident_get(incident_id=wipe.incident_id) if wipe.incident_id else None
    if incident is not None:
        by = "a person" if source == MANUAL else PostureSource(source).label
        timeline_entry(
            incident=incident,
            kind="containment",
            text=f"Remote wipe of device {wipe.device.asset_tag} confirmed by {by}.",
            actor=actor,
            ref=f"wipe:{wipe.pk}",
            for_report=True,
        )


def wipes_confirm_reported(*, device_ids: list[int], source: str, import_id: uuid.UUID) -> int:
    """Confirm the open wipe requests of the devices an MDM import reports wiped.
    Runs inside the import's transaction; returns how many it confirmed."""
    if not device_ids:
        return 0
    open_wipes = (
        WipeRequest.objects.select_for_update()
        .filter(device_id__in=device_ids, confirmed_at__isnull=True)
        .select_related("device")
        .order_by("pk")
    )
    count = 0
    for wipe in open_wipes:
        _confirm(wipe, actor=None, source=source, note="", detail={"import": str(import_id)})
        count += 1
    return count


def wipe_confirm(*, actor: User, wipe_id: int, note: str) -> WipeRequest:
    """A person confirms a wipe the MDM cannot report (a device wiped by hand, or
    returned and wiped at the service desk). The caller has checked
    `devices:device:manage`; the note says what was seen."""
    note = " ".join((note or "").split())[:500]
    if not note:
        raise DeviceError("Say how you know the device was wiped (what you saw, where, the MDM's record).")
    with transaction.atomic():
        wipe = WipeRequest.objects.select_for_update().select_related("device").filter(pk=wipe_id).first()
        if wipe is None:
            raise DeviceError(f"No wipe request with id {wipe_id}.")
        if wipe.confirmed_at is not None:
            raise DeviceError("This wipe is already confirmed.")
        _confirm(wipe, actor=actor, source=MANUAL, note=note, detail={})
    return wipe
