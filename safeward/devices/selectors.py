"""Device reads. Other apps refer to devices by id and read them here.

Legacy is computed, never stored: a device whose manufacturer's end of support
is before today. A compensating control's state is computed from its live test
and its expiry each time it is read (`control_state`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When

from safeward import clock
from safeward.devices import checkin
from safeward.devices.models import (
    CompensatingControl,
    ControlEvidence,
    Device,
    FlowExport,
    Mds2Statement,
    NetworkSegment,
    ObservedFlow,
    SegmentFlow,
)

EXPIRING_DAYS = 14
CHECKIN_HOURS = 24
# Devices still on the hospital's networks (the leaving and missing states are not).
ACTIVE = (Device.Lifecycle.ORDERED, Device.Lifecycle.IN_SERVICE)


def device_get(*, device_id: int) -> Device | None:
    return devices_annotated().filter(pk=device_id).first()


def devices_by_ids(*, device_ids: Iterable[int]) -> dict[int, Device]:
    """Devices by id with their segment, in one query."""
    return {device.pk: device for device in devices_annotated().filter(pk__in=set(device_ids))}


def device_by_tag(*, asset_tag: str) -> Device | None:
    return devices_annotated().filter(asset_tag=asset_tag).first()


def devices_annotated(*, today: dt.date | None = None) -> QuerySet[Device]:
    today = today or clock.now().date()
    return Device.objects.select_related("segment").annotate(
        is_legacy=Case(
            When(end_of_support__lt=today, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def device_is_legacy(device: Device, *, today: dt.date | None = None) -> bool:
    today = today or clock.now().date()
    return device.end_of_support is not None and device.end_of_support < today


def devices_list(
    *,
    kind: str = "",
    lifecycle: str = "",
    legacy: bool = False,
    no_segment: bool = False,
    control: str = "",  # "expiring" or "failing"
    search: str = "",
    now: dt.datetime | None = None,
) -> list[Device]:
    now = now or clock.now()
    devices = devices_annotated(today=now.date())
    if kind:
        devices = devices.filter(kind=kind)
    if lifecycle:
        devices = devices.filter(lifecycle=lifecycle)
    if legacy:
        devices = devices.filter(end_of_support__lt=now.date())
    if no_segment:
        devices = devices.filter(segment__isnull=True)
    if search:
        devices = devices.filter(
            Q(asset_tag__icontains=search) | Q(name__icontains=search) | Q(model__icontains=search)
        )
    found = list(devices)
    if control:
        health = device_health(found, now=now)
        if control == "failing":
            found = [d for d in found if health[d.pk].red]
        elif control == "expiring":
            found = [d for d in found if health[d.pk].expiring]
    return found


def devices_of_model(*, manufacturer: str, model: str) -> list[Device]:
    return list(devices_annotated().filter(manufacturer__iexact=manufacturer, model__iexact=model))


# --- segments and flows ----------------------------------------------------------------------------


def segments_list() -> list[NetworkSegment]:
    return list(NetworkSegment.objects.all())


def segment_get(*, segment_id: int) -> NetworkSegment | None:
    return NetworkSegment.objects.filter(pk=segment_id).first()


def flows_list() -> list[SegmentFlow]:
    return list(SegmentFlow.objects.select_related("source", "destination"))


def flow_matrix() -> tuple[list[NetworkSegment], list[str], dict[tuple[int, str], list[str]]]:
    """Rows: source segments; columns: destination segment names plus
    "internet"; cells: the services allowed."""
    segments = segments_list()
    columns = [segment.name for segment in segments] + ["internet"]
    cells: dict[tuple[int, str], list[str]] = {}
    for flow in flows_list():
        cells.setdefault((flow.source_id, flow.destination_label), []).append(flow.service)
    return segments, columns, cells


def segment_isolation(segment: NetworkSegment | None, flows: Iterable[SegmentFlow] | None = None) -> str:
    """ "" when `segment` isolates legacy devices, else why not."""
    if segment is None:
        return "on no declared network segment"
    if segment.zone != NetworkSegment.Zone.CLINICAL_DEVICES:
        zone = segment.get_zone_display().lower()
        return f"segment {segment.name} is in the {zone} zone, not clinical devices"
    flows = (
        SegmentFlow.objects.select_related("destination").filter(source=segment) if flows is None else flows
    )
    for flow in flows:
        if flow.source_id != segment.pk:
            continue
        if flow.destination is None:
            return f"segment {segment.name} has a flow to the internet ({flow.service})"
        if flow.destination.zone == NetworkSegment.Zone.GUEST:
            return f"segment {segment.name} has a flow to the guest segment {flow.destination.name}"
    return ""


# --- MDS2 --------------------------------------------------------------------------------------------


def statements_list() -> list[Mds2Statement]:
    return list(Mds2Statement.objects.select_related("imported_by"))


def statement_get(*, statement_id: int) -> Mds2Statement | None:
    return Mds2Statement.objects.select_related("imported_by").filter(pk=statement_id).first()


def statement_for(*, manufacturer: str, model: str) -> Mds2Statement | None:
    if not manufacturer or not model:
        return None
    return Mds2Statement.objects.filter(manufacturer__iexact=manufacturer, model__iexact=model).first()


# --- compensating controls ---------------------------------------------------------------------------


def controls_list(*, include_retired: bool = False) -> list[CompensatingControl]:
    controls = CompensatingControl.objects.select_related(
        "owner", "device", "test_segment", "test_destination"
    )
    if not include_retired:
        controls = controls.filter(retired_at__isnull=True)
    return list(controls)


def control_get(*, control_id: int) -> CompensatingControl | None:
    return (
        CompensatingControl.objects.select_related("owner", "device", "test_segment", "test_destination")
        .filter(pk=control_id)
        .first()
    )


def control_evidence(*, control_id: int) -> list[ControlEvidence]:
    return list(
        ControlEvidence.objects.filter(control_id=control_id).defer("data").select_related("uploaded_by")
    )


def evidence_get(*, control_id: int, evidence_id: int) -> ControlEvidence | None:
    return ControlEvidence.objects.filter(control_id=control_id, pk=evidence_id).first()


def control_devices(control: CompensatingControl) -> list[Device]:
    """The devices a control covers: its device, or every active device of its model."""
    if control.device_id is not None:
        return list(devices_annotated().filter(pk=control.device_id))
    if not control.manufacturer or not control.model:
        return []
    return list(
        devices_annotated().filter(
            manufacturer__iexact=control.manufacturer, model__iexact=control.model, lifecycle__in=ACTIVE
        )
    )


def controls_for_device(device: Device, *, include_retired: bool = False) -> list[CompensatingControl]:
    query = Q(device=device)
    if device.manufacturer and device.model:
        query |= Q(device__isnull=True, manufacturer__iexact=device.manufacturer, model__iexact=device.model)
    controls = CompensatingControl.objects.select_related("owner", "test_segment", "test_destination").filter(
        query
    )
    if not include_retired:
        controls = controls.filter(retired_at__isnull=True)
    return list(controls)


@dataclass(frozen=True)
class ControlState:
    state: str  # "passing", "failing", "expired", "unknown"
    reason: str
    expiring: bool = False
    failures: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.state == "passing"


def latest_flow_export() -> FlowExport | None:
    return FlowExport.objects.select_related("imported_by").first()


def observed_flows(*, export: FlowExport, undeclared_only: bool = False) -> list[ObservedFlow]:
    """The export's flows by segment; with `undeclared_only`, those no declared flow allows
    (connections from outside every segment are the firewall's business, not a segment's)."""
    observed = list(export.observed.select_related("source", "destination"))
    if not undeclared_only:
        return observed
    declared = list(SegmentFlow.objects.all())
    return [
        flow
        for flow in observed
        if flow.source_id is not None
        and not any(d.covers(flow.source_id, flow.destination_id, flow.port, flow.protocol) for d in declared)
    ]


def _test_segment_only_allows(control: CompensatingControl) -> list[str]:
    segment = control.test_segment
    if segment is None:
        return ["the test names no segment"]
    problems = []
    export = latest_flow_export()
    if export is not None:
        for seen in export.observed.select_related("destination").filter(source=segment):
            allowed = (
                seen.destination_id is not None
                and seen.destination_id == control.test_destination_id
                and (control.test_port is None or seen.port == control.test_port)
                and (not control.test_protocol or seen.protocol == control.test_protocol)
            )
            if not allowed:
                problems.append(
                    f"{segment.name} carried {seen.service} to {seen.destination_label}"
                    f" ({seen.connections} connections in flow export {export.pk})"
                )
    for flow in SegmentFlow.objects.select_related("destination").filter(source=segment):
        same_port = control.test_port is None or flow.port == control.test_port
        same_protocol = not control.test_protocol or flow.protocol == control.test_protocol
        same_destination = (
            flow.destination_id is not None and flow.destination_id == control.test_destination_id
        )
        if not (same_port and same_protocol and same_destination):
            problems.append(f"{segment.name} also allows {flow.service} to {flow.destination_label}")
    return problems


def _test_isolated(control: CompensatingControl) -> list[str]:
    return [
        f"{device.asset_tag}: {why}"
        for device in control_devices(control)
        if (why := segment_isolation(device.segment))
    ]


def _test_checked_in(control: CompensatingControl, now: dt.datetime) -> tuple[list[str], bool]:
    devices = control_devices(control)
    if not checkin.has_provider():
        return [f"{d.asset_tag}: unknown, no posture source reports check-ins" for d in devices], True
    seen = checkin.last_checkins([d.pk for d in devices])
    problems = []
    unknown = False
    for device in devices:
        last = seen.get(device.pk)
        if last is None:
            unknown = True
            problems.append(f"{device.asset_tag}: unknown, never checked in")
        elif now - last > dt.timedelta(hours=CHECKIN_HOURS):
            problems.append(f"{device.asset_tag}: last checked in {last:%Y-%m-%d %H:%M}")
    return problems, unknown


def control_state(control: CompensatingControl, *, now: dt.datetime | None = None) -> ControlState:
    now = now or clock.now()
    today = now.date()
    expiring = today <= control.expires_on <= today + dt.timedelta(days=EXPIRING_DAYS)
    if control.expires_on < today:
        return ControlState("expired", f"expired on {control.expires_on:%Y-%m-%d}")
    unknown = False
    if control.test == CompensatingControl.Test.SEGMENT_ONLY_ALLOWS:
        problems = _test_segment_only_allows(control)
    elif control.test == CompensatingControl.Test.ISOLATED:
        problems = _test_isolated(control)
    elif control.test == CompensatingControl.Test.CHECKED_IN:
        problems, unknown = _test_checked_in(control, now)
    else:
        problems = []
    if problems:
        state = "unknown" if unknown and len(problems) == 1 else "failing"
        return ControlState(state, "; ".join(problems[:5]), expiring, tuple(problems))
    return ControlState(
        "passing", "live test passes" if control.test != "none" else "reviewed by hand", expiring
    )


@dataclass
class DeviceHealth:
    red: bool = False
    expiring: bool = False
    reasons: list[str] = field(default_factory=list)


def device_health(devices: list[Device], *, now: dt.datetime | None = None) -> dict[int, DeviceHealth]:
    """Red: a covering control failing or expired, or legacy outside an isolated segment."""
    now = now or clock.now()
    health = {device.pk: DeviceHealth() for device in devices}
    by_model: dict[tuple[str, str], list[int]] = {}
    for device in devices:
        if device.manufacturer and device.model:
            by_model.setdefault((device.manufacturer.casefold(), device.model.casefold()), []).append(
                device.pk
            )
        if device_is_legacy(device, today=now.date()) and device.lifecycle in ACTIVE:
            why = segment_isolation(device.segment)
            if why:
                health[device.pk].red = True
                health[device.pk].reasons.append(f"legacy device {why}")
    for control in controls_list():
        if control.device_id is not None:
            covered = [control.device_id] if control.device_id in health else []
        else:
            covered = by_model.get((control.manufacturer.casefold(), control.model.casefold()), [])
        if not covered:
            continue
        state = control_state(control, now=now)
        for device_id in covered:
            if not state.passed:
                health[device_id].red = True
                health[device_id].reasons.append(f"{control.title}: {state.reason}")
            if state.expiring:
                health[device_id].expiring = True
    return health
