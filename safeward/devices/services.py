"""Device writes: each takes `actor`, runs in one transaction and records its audit
event there. Devices hold no patient data, so audit rows name the device and the
fields that changed."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.devices.models import (
    CompensatingControl,
    ControlEvidence,
    Device,
    Mds2Answer,
    Mds2Statement,
    NetworkSegment,
    SegmentFlow,
)
from safeward.identity.models import User

RESOURCE = "Device"
SEGMENT = "NetworkSegment"
FLOW = "SegmentFlow"
STATEMENT = "Mds2Statement"
CONTROL = "CompensatingControl"
# The detail "check" of the sweep's events; detection's `device_control_failing` reads it.
CONTROL_FAILING_CHECK = "compensating_control_failing"
DEVICE_FIELDS = (
    "kind", "asset_tag", "name", "manufacturer", "model", "serial", "os_name", "os_version",
    "location", "segment", "ip_address", "mac_address", "end_of_support",
)  # fmt: skip

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


def _event(
    action: Action,
    actor: User | None,
    resource_type: str,
    resource_id: int | str,
    *,
    fields: Any = (),
    detail: Mapping[str, Any] | None = None,
    reason: str = "",
    actor_username: str = "",
) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_username=actor_username,
        resource_type=resource_type,
        resource_id=resource_id,
        purpose=PurposeOfUse.OPERATIONS,
        reason=reason,
        fields=fields,
        detail=detail,
    )


def _device_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = {name: data.get(name) for name in DEVICE_FIELDS}
    segment_id = values.pop("segment")
    values["segment_id"] = segment_id or None
    for name in (
        "name",
        "manufacturer",
        "model",
        "serial",
        "os_name",
        "os_version",
        "location",
        "mac_address",
    ):
        values[name] = values[name] or ""
    values["ip_address"] = values["ip_address"] or None
    return values


def device_create(
    *, actor: User | None, data: Mapping[str, Any], lifecycle: str = Device.Lifecycle.IN_SERVICE
) -> Device:
    """`data`: a DeviceForm's cleaned data. New devices are ordered or in service."""
    if lifecycle not in (Device.Lifecycle.ORDERED, Device.Lifecycle.IN_SERVICE):
        raise DeviceError("A new device is ordered or in service.")
    values = _device_values(data)
    now = clock.now()
    with transaction.atomic():
        if Device.objects.filter(asset_tag=values["asset_tag"]).exists():
            raise DeviceError(f"Asset tag {values['asset_tag']} is already in the inventory.")
        device = Device.objects.create(
            **values, lifecycle=lifecycle, lifecycle_changed_at=now, created_at=now, updated_at=now
        )
        _event(
            Action.CREATE, actor, RESOURCE, device.pk, fields=sorted(values), detail={"tag": device.asset_tag}
        )
    return device


def device_update(*, actor: User | None, device_id: int, data: Mapping[str, Any]) -> Device:
    values = _device_values(data)
    with transaction.atomic():
        device = Device.objects.select_for_update().filter(pk=device_id).first()
        if device is None:
            raise DeviceError(f"No device with id {device_id}.")
        if Device.objects.filter(asset_tag=values["asset_tag"]).exclude(pk=device_id).exists():
            raise DeviceError(f"Asset tag {values['asset_tag']} belongs to another device.")
        changed = sorted(
            name for name, value in values.items() if str(getattr(device, name) or "") != str(value or "")
        )
        if not changed:
            return device
        for name in changed:
            setattr(device, name, values[name])
        device.updated_at = clock.now()
        device.save(update_fields=[*changed, "updated_at"])
        _event(Action.UPDATE, actor, RESOURCE, device.pk, fields=changed)
    return device


# --- segments and flows ----------------------------------------------------------------------------


def segment_create(*, actor: User | None, data: Mapping[str, Any]) -> NetworkSegment:
    now = clock.now()
    with transaction.atomic():
        if NetworkSegment.objects.filter(name=data["name"]).exists():
            raise DeviceError(f"A segment named {data['name']} exists already.")
        segment = NetworkSegment.objects.create(
            name=data["name"],
            zone=data["zone"],
            vlan=data.get("vlan"),
            cidr=data.get("cidr") or "",
            description=data.get("description") or "",
            created_at=now,
            updated_at=now,
        )
        _event(Action.CREATE, actor, SEGMENT, segment.pk, fields=["name", "zone", "vlan", "cidr"])
    return segment


def flow_create(
    *,
    actor: User | None,
    source_id: int,
    destination_id: int | None,
    port: int | None,
    protocol: str,
    purpose: str,
) -> SegmentFlow:
    if protocol not in SegmentFlow.Protocol.values:
        raise DeviceError(f"Unknown protocol {protocol[:10]!r}.")
    with transaction.atomic():
        flow = _flow_add(source_id, destination_id, port, protocol, purpose)
        _event(Action.CREATE, actor, FLOW, flow.pk, detail=_flow_detail(flow))
    return flow


def _flow_add(
    source_id: int, destination_id: int | None, port: int | None, protocol: str, purpose: str
) -> SegmentFlow:
    if protocol == SegmentFlow.Protocol.ANY or protocol == SegmentFlow.Protocol.ICMP:
        port = None
    if SegmentFlow.objects.filter(
        source_id=source_id, destination_id=destination_id, port=port, protocol=protocol
    ).exists():
        raise DeviceError("This flow is declared already.")
    return SegmentFlow.objects.create(
        source_id=source_id,
        destination_id=destination_id,
        port=port,
        protocol=protocol,
        purpose=purpose,
        created_at=clock.now(),
    )


def _flow_detail(flow: SegmentFlow) -> dict[str, Any]:
    return {"from": flow.source_id, "to": flow.destination_id or "internet", "service": flow.service}


def flow_delete(*, actor: User | None, flow_id: int) -> None:
    with transaction.atomic():
        # No default ordering: it joins the nullable destination, which FOR UPDATE refuses.
        flow = SegmentFlow.objects.select_for_update().filter(pk=flow_id).order_by("pk").first()
        if flow is None:
            raise DeviceError(f"No flow with id {flow_id}.")
        detail = _flow_detail(flow)
        flow.delete()
        _event(Action.DELETE, actor, FLOW, flow_id, detail=detail)


# --- MDS2 ------------------------------------------------------------------------------------------


def mds2_import(
    *,
    actor: User | None,
    data: bytes,
    filename: str = "",
    manufacturer: str = "",
    model: str = "",
    owner: User | None = None,
) -> tuple[Mds2Statement | None, list[Any], list[CompensatingControl]]:
    """Store a model's MDS2 answers (replacing an earlier statement of the
    same model) and create the compensating controls they call for (fleet
    controls of that model, owned by `owner` or the importer). All or
    nothing: with any row error nothing is written. Returns (statement,
    errors, controls created)."""
    from safeward.devices import mds2

    parsed = mds2.parse(data, filename=filename)
    manufacturer = (manufacturer or parsed.manufacturer).strip()[:200]
    model = (model or parsed.model).strip()[:200]
    errors = list(parsed.errors)
    if not errors and (not manufacturer or not model):
        errors.append(mds2.RowError(0, "Name the manufacturer and the model (or fill DOC-1 and DOC-3)."))
    owner = owner or actor
    if not errors and owner is None:
        errors.append(mds2.RowError(0, "Name the owner of the derived controls."))
    if errors:
        return None, errors, []
    assert owner is not None
    now = clock.now()
    created: list[CompensatingControl] = []
    with transaction.atomic():
        statement = Mds2Statement.objects.filter(
            manufacturer__iexact=manufacturer, model__iexact=model
        ).first()
        if statement is None:
            statement = Mds2Statement(manufacturer=manufacturer, model=model)
        statement.document_version = parsed.version
        statement.source_sha256 = hashlib.sha256(data).hexdigest()
        statement.source_name = filename[:200]
        statement.imported_at = now
        statement.imported_by = actor
        statement.save()
        statement.answers.all().delete()
        Mds2Answer.objects.bulk_create(
            Mds2Answer(statement=statement, question_id=qid, value=value, note=note)
            for qid, (value, note) in sorted(parsed.answers.items())
        )
        existing = {
            (c.kind, c.mds2_question)
            for c in CompensatingControl.objects.filter(
                device__isnull=True,
                manufacturer__iexact=manufacturer,
                model__iexact=model,
                retired_at__isnull=True,
            )
        }
        answers = {qid: value for qid, (value, _) in parsed.answers.items()}
        for rule, derived in mds2.derive(answers):
            if (derived.kind, rule.question_id) in existing:
                continue
            existing.add((derived.kind, rule.question_id))
            days = mds2.EXPIRY_DAYS[CompensatingControl.Remediation(derived.remediation)]
            control = CompensatingControl.objects.create(
                title=derived.title,
                kind=derived.kind,
                remediation=derived.remediation,
                owner=owner,
                manufacturer=manufacturer,
                model=model,
                description=f"Derived from MDS2 {rule.question_id} = {rule.answer}: {rule.why}.",
                mds2_question=rule.question_id,
                test=derived.test,
                review_due=now.date() + dt.timedelta(days=days),
                expires_on=now.date() + dt.timedelta(days=days),
                created_at=now,
                updated_at=now,
            )
            created.append(control)
            _event(
                Action.CREATE,
                actor,
                CONTROL,
                control.pk,
                detail={"kind": control.kind, "mds2": rule.question_id},
            )
        _event(
            Action.UPDATE,
            actor,
            STATEMENT,
            statement.pk,
            detail={
                "answers": len(parsed.answers),
                "sha256": statement.source_sha256,
                "controls": len(created),
            },
        )
    return statement, [], created


# --- compensating controls -------------------------------------------------------------------------


def _check_expiry(remediation: str, expires_on: dt.date, today: dt.date) -> None:
    from safeward.devices.mds2 import EXPIRY_DAYS

    limit = EXPIRY_DAYS[CompensatingControl.Remediation(remediation)]
    if expires_on > today + dt.timedelta(days=limit):
        raise DeviceError(
            f"{CompensatingControl.Remediation(remediation).label} expires at most {limit} days ahead "
            f"(HICP Table 12): by {(today + dt.timedelta(days=limit)):%Y-%m-%d}."
        )
    if expires_on < today:
        raise DeviceError("The expiry is in the past.")


def control_create(*, actor: User | None, data: Mapping[str, Any]) -> CompensatingControl:
    """`data`: a ControlForm's cleaned data (device is an asset tag)."""
    now = clock.now()
    _check_expiry(data["remediation"], data["expires_on"], now.date())
    device = None
    if data.get("device"):
        device = Device.objects.filter(asset_tag=data["device"]).first()
        if device is None:
            raise DeviceError(f"No device with asset tag {str(data['device'])[:64]}.")
    owner = User.objects.filter(pk=data["owner"], is_active=True).first()
    if owner is None:
        raise DeviceError("The owner must be an active account.")
    with transaction.atomic():
        control = CompensatingControl.objects.create(
            title=data["title"],
            kind=data["kind"],
            remediation=data["remediation"],
            owner=owner,
            device=device,
            manufacturer="" if device else data.get("manufacturer") or "",
            model="" if device else data.get("model") or "",
            description=data.get("description") or "",
            test=data["test"],
            test_segment_id=data.get("test_segment"),
            test_port=data.get("test_port"),
            test_protocol=data.get("test_protocol") or "",
            test_destination_id=data.get("test_destination"),
            review_due=data["review_due"],
            expires_on=data["expires_on"],
            created_at=now,
            updated_at=now,
        )
        _event(Action.CREATE, actor, CONTROL, control.pk, detail={"kind": control.kind, "test": control.test})
    return control


def control_renew(
    *, actor: User | None, control_id: int, expires_on: dt.date, note: str = ""
) -> CompensatingControl:
    """Reviewed: a new expiry within the HICP limit, and the review date with it."""
    now = clock.now()
    with transaction.atomic():
        control = (
            CompensatingControl.objects.select_for_update()
            .filter(pk=control_id, retired_at__isnull=True)
            .first()
        )
        if control is None:
            raise DeviceError(f"No active control with id {control_id}.")
        _check_expiry(control.remediation, expires_on, now.date())
        before = control.expires_on
        control.expires_on = expires_on
        control.review_due = expires_on
        control.updated_at = now
        control.save(update_fields=["expires_on", "review_due", "updated_at"])
        _event(
            Action.UPDATE,
            actor,
            CONTROL,
            control.pk,
            fields=["expires_on", "review_due"],
            reason=note,
            detail={"from": before.isoformat(), "to": expires_on.isoformat()},
        )
    return control


def control_retire(*, actor: User | None, control_id: int, reason: str) -> CompensatingControl:
    with transaction.atomic():
        control = (
            CompensatingControl.objects.select_for_update()
            .filter(pk=control_id, retired_at__isnull=True)
            .first()
        )
        if control is None:
            raise DeviceError(f"No active control with id {control_id}.")
        control.retired_at = control.updated_at = clock.now()
        control.save(update_fields=["retired_at", "updated_at"])
        _event(Action.UPDATE, actor, CONTROL, control.pk, fields=["retired_at"], reason=reason)
    return control


def evidence_attach(
    *, actor: User | None, control_id: int, filename: str, content_type: str, data: bytes, note: str = ""
) -> ControlEvidence:
    from safeward.devices.forms import EVIDENCE_TYPES, MAX_EVIDENCE_BYTES

    if len(data) > MAX_EVIDENCE_BYTES:
        raise DeviceError("The file is too large.")
    if content_type not in EVIDENCE_TYPES:
        raise DeviceError("A PNG or JPEG screenshot, a PDF, or a text or CSV file.")
    with transaction.atomic():
        control = CompensatingControl.objects.filter(pk=control_id).first()
        if control is None:
            raise DeviceError(f"No control with id {control_id}.")
        safe_name = "".join(c for c in filename if c.isalnum() or c in "._- ")[:150] or "evidence"
        evidence = ControlEvidence.objects.create(
            control=control,
            filename=safe_name,
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
            note=note[:300],
            uploaded_by=actor,
            uploaded_at=clock.now(),
        )
        _event(
            Action.CREATE,
            actor,
            "ControlEvidence",
            evidence.pk,
            detail={"control": control.pk, "sha256": evidence.sha256, "size": evidence.size},
        )
    return evidence


def controls_sweep(*, now: dt.datetime | None = None) -> int:
    """One event per active control that fails its live test or has expired;
    detection's `device_control_failing` raises one alert per control from
    them (the daily repeats join it). Returns how many."""
    from safeward.devices import selectors

    now = now or clock.now()
    failing = 0
    with transaction.atomic():
        for control in selectors.controls_list():
            state = selectors.control_state(control, now=now)
            if state.passed:
                continue
            failing += 1
            _event(
                Action.EXECUTE,
                None,
                CONTROL,
                control.pk,
                actor_username="safeward devices controls --sweep",
                detail={
                    "check": CONTROL_FAILING_CHECK,
                    "state": state.state,
                    "reason": state.reason[:300],
                    "owner_id": control.owner_id,
                    "owner_username": control.owner.username,
                    "scope": control.scope_label[:200],
                },
            )
    return failing
