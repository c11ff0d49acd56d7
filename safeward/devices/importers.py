"""CSV imports of the device inventory and of the allowed flows, validated as
a whole: every row is checked with the same form as the pages; if any row is
bad the answer lists each bad row with its line and reason and nothing is
written. A clean file is applied in one transaction.

Inventory columns (header required, order free; asset_tag and kind required):
    asset_tag, kind, name, manufacturer, model, serial, os_name, os_version,
    location, segment (a segment name), ip_address, mac_address,
    end_of_support (YYYY-MM-DD), lifecycle (ordered or in_service, new devices only)
A row whose asset tag is in the inventory updates that device.

Flow columns: from, to (segment names, or "internet"), port, protocol, purpose.
Flows already declared are left as they are (an import adds)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.devices import services
from safeward.devices.forms import INTERNET, DeviceForm
from safeward.devices.models import Device, NetworkSegment, SegmentFlow
from safeward.identity.models import User

INVENTORY_COLUMNS = (
    "asset_tag", "kind", "name", "manufacturer", "model", "serial", "os_name", "os_version",
    "location", "segment", "ip_address", "mac_address", "end_of_support", "lifecycle",
)  # fmt: skip
FLOW_COLUMNS = ("from", "to", "port", "protocol", "purpose")
MAX_ROWS = 20_000
MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    line: int  # the CSV line (the header is line 1)
    reason: str


@dataclass
class ImportResult:
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def read_csv(
    data: bytes, columns: tuple[str, ...], required: tuple[str, ...]
) -> tuple[list[tuple[int, dict[str, str]]], RowError | None]:
    if len(data) > MAX_BYTES:
        return [], RowError(0, f"The file is larger than {MAX_BYTES // 1024} KiB; split it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], RowError(0, "The file is not UTF-8 text; save the CSV as UTF-8.")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        if not header:
            return [], RowError(1, "The file is empty: the first line must name the columns.")
        reader.fieldnames = header
        unknown = [name for name in header if name not in columns]
        missing = [name for name in required if name not in header]
        if unknown or missing:
            problem = f"an unknown column {unknown[0][:40]!r}" if unknown else f"no column {missing[0]!r}"
            return [], RowError(1, f"The header has {problem}; columns are: {', '.join(columns)}.")
        for row in reader:
            if len(rows) >= MAX_ROWS:
                return [], RowError(reader.line_num, f"More than {MAX_ROWS} rows; split the file.")
            if None in row:
                return [], RowError(reader.line_num, "The row has more cells than the header.")
            rows.append((reader.line_num, {key: (value or "").strip() for key, value in row.items()}))
    except csv.Error as error:
        return [], RowError(0, f"The CSV cannot be read ({error}).")
    if not rows:
        return [], RowError(2, "The file has a header and no rows.")
    return rows, None


def _form_errors(form: DeviceForm) -> str:
    return "; ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items())


def _current(device: Device) -> dict[str, str]:
    values = {
        name: "" if getattr(device, name) is None else str(getattr(device, name))
        for name in INVENTORY_COLUMNS
        if name not in ("lifecycle", "segment")
    }
    values["segment"] = str(device.segment_id or "")
    return values


def inventory_import(*, actor: User | None, data: bytes) -> ImportResult:
    result = ImportResult()
    rows, error = read_csv(data, INVENTORY_COLUMNS, ("asset_tag", "kind"))
    if error is not None:
        result.errors.append(error)
        return result
    segments = {s.name.casefold(): s.pk for s in NetworkSegment.objects.all()}
    existing = {tag: pk for pk, tag in Device.objects.values_list("pk", "asset_tag")}
    tags = {cells.get("asset_tag", "") for _, cells in rows}
    current = {device.asset_tag: _current(device) for device in Device.objects.filter(asset_tag__in=tags)}
    seen: dict[str, int] = {}
    valid: list[tuple[int | None, dict[str, Any], str]] = []
    for line, cells in rows:
        tag = cells.get("asset_tag", "")
        if tag in seen:
            result.errors.append(RowError(line, f"asset_tag: {tag[:64]!r} is also on line {seen[tag]}"))
            continue
        seen[tag] = line
        segment = cells.get("segment", "")
        if segment and segment.casefold() not in segments:
            result.errors.append(RowError(line, f"segment: no segment named {segment[:100]!r}"))
            continue
        lifecycle = cells.get("lifecycle", "") or Device.Lifecycle.IN_SERVICE
        device_id = existing.get(tag)
        if device_id is None and lifecycle not in (Device.Lifecycle.ORDERED, Device.Lifecycle.IN_SERVICE):
            result.errors.append(RowError(line, "lifecycle: a new device is ordered or in_service"))
            continue
        if device_id is not None and cells.get("lifecycle"):
            result.errors.append(
                RowError(line, "lifecycle: change an existing device's lifecycle on its page, not by import")
            )
            continue
        # An existing device keeps what the file has no column for.
        form_data = current.get(tag, {}).copy() if device_id is not None else {}
        for name in INVENTORY_COLUMNS:
            if name != "lifecycle" and (name in cells or device_id is None):
                form_data[name] = cells.get(name, "")
        if "segment" in cells or device_id is None:
            form_data["segment"] = str(segments[segment.casefold()]) if segment else ""
        form = DeviceForm(form_data)
        if not form.is_valid():
            result.errors.append(RowError(line, _form_errors(form)))
            continue
        valid.append((device_id, form.cleaned_data, lifecycle))
    if result.errors:
        return result
    with transaction.atomic():
        for device_id, cleaned, lifecycle in valid:
            if device_id is None:
                services.device_create(actor=actor, data=cleaned, lifecycle=lifecycle)
                result.created += 1
            else:
                before = _current(Device.objects.get(pk=device_id))
                device = services.device_update(actor=actor, device_id=device_id, data=cleaned)
                if _current(device) == before:
                    result.unchanged += 1
                else:
                    result.updated += 1
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type="DeviceInventory",
            purpose=PurposeOfUse.OPERATIONS,
            detail={"import": "inventory", "created": result.created, "updated": result.updated},
        )
    return result


def flows_import(*, actor: User | None, data: bytes) -> ImportResult:
    result = ImportResult()
    rows, error = read_csv(data, FLOW_COLUMNS, ("from", "to", "protocol", "purpose"))
    if error is not None:
        result.errors.append(error)
        return result
    segments = {s.name.casefold(): s.pk for s in NetworkSegment.objects.all()}
    declared = set(SegmentFlow.objects.values_list("source_id", "destination_id", "port", "protocol"))
    valid: list[tuple[int, int | None, int | None, str, str]] = []
    in_file: dict[tuple[int, int | None, int | None, str], int] = {}
    for line, cells in rows:
        source = segments.get(cells.get("from", "").casefold())
        if source is None:
            result.errors.append(RowError(line, f"from: no segment named {cells.get('from', '')[:100]!r}"))
            continue
        to = cells.get("to", "")
        destination: int | None
        if to.casefold() == INTERNET:
            destination = None
        elif to.casefold() in segments:
            destination = segments[to.casefold()]
        else:
            result.errors.append(RowError(line, f"to: no segment named {to[:100]!r} (or 'internet')"))
            continue
        protocol = cells.get("protocol", "").lower()
        if protocol not in SegmentFlow.Protocol.values:
            result.errors.append(RowError(line, f"protocol: one of {', '.join(SegmentFlow.Protocol.values)}"))
            continue
        port_cell = cells.get("port", "")
        port: int | None = None
        if protocol in (SegmentFlow.Protocol.TCP, SegmentFlow.Protocol.UDP) and port_cell:
            if not port_cell.isdigit() or not 0 <= int(port_cell) <= 65535:
                result.errors.append(
                    RowError(line, "port: a number from 0 to 65535, or empty for every port")
                )
                continue
            port = int(port_cell)
        purpose = cells.get("purpose", "")
        if not purpose or len(purpose) > 300:
            result.errors.append(
                RowError(line, "purpose: say why the flow is allowed (at most 300 characters)")
            )
            continue
        key = (source, destination, port, protocol)
        if key in in_file:
            result.errors.append(RowError(line, f"the same flow is on line {in_file[key]}"))
            continue
        in_file[key] = line
        if key in declared:
            result.unchanged += 1
            continue
        valid.append((source, destination, port, protocol, purpose))
    if result.errors:
        return result
    with transaction.atomic():
        for source, destination, port, protocol, purpose in valid:
            services.flow_create(
                actor=actor, source_id=source, destination_id=destination, port=port, protocol=protocol,
                purpose=purpose,
            )  # fmt: skip
            result.created += 1
    return result
