"""Observed flows: a firewall log or flow export (NetFlow/IPFIX summarised
to CSV by the collector) compared with the declared allowed flows.

Columns (header required, order free): src_ip, dst_ip, dst_port, protocol,
and optionally count (connections, default 1) and last_seen (ISO 8601).
Each address is placed in the segment whose CIDR holds it (the longest
prefix wins); a destination outside every segment is the internet. The
export is kept aggregated per (source segment, destination, port, protocol),
so a day of connections is a few hundred rows. All rows or none: a bad row
is reported with its line and nothing is stored.

The live test `segment_only_allows` of a compensating control reads the
latest export: a connection the control does not allow fails it, even if
nobody declared the flow (issue 14: "checked against the declared flows and
the latest imported firewall/flow export")."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import ipaddress
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.dateparse import parse_datetime

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.devices.importers import RowError
from safeward.devices.models import FlowExport, NetworkSegment, ObservedFlow, SegmentFlow
from safeward.identity.models import User

COLUMNS = ("src_ip", "dst_ip", "dst_port", "protocol", "count", "last_seen")
REQUIRED = ("src_ip", "dst_ip", "dst_port", "protocol")
MAX_ROWS = 1_000_000
MAX_BYTES = 128 * 1024 * 1024
MAX_ERRORS = 50
PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "6": "tcp", "17": "udp", "1": "icmp"}
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Key = tuple[int | None, int | None, int | None, str]


@dataclass
class FlowExportResult:
    errors: list[RowError] = field(default_factory=list)
    export: FlowExport | None = None
    rows: int = 0
    flows: int = 0
    undeclared: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class SegmentLocator:
    """The segment of an address, longest prefix first, memoised per address."""

    def __init__(self, segments: list[NetworkSegment]) -> None:
        networks: list[tuple[IpNetwork, int]] = []
        for segment in segments:
            try:
                networks.append((ipaddress.ip_network(segment.cidr, strict=False), segment.pk))
            except ValueError:
                continue  # no CIDR recorded: no address falls in it
        self.networks = sorted(networks, key=lambda item: -item[0].prefixlen)
        self.seen: dict[str, int | None] = {}

    def __call__(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int | None:
        text = str(address)
        if text not in self.seen:
            self.seen[text] = next((pk for net, pk in self.networks if address in net), None)
        return self.seen[text]


def _parse_row(
    cells: dict[str, str], locate: SegmentLocator
) -> tuple[Key, int, str, str, dt.datetime | None] | str:
    try:
        source_ip = ipaddress.ip_address(cells.get("src_ip", ""))
        destination_ip = ipaddress.ip_address(cells.get("dst_ip", ""))
    except ValueError:
        return "src_ip and dst_ip: IPv4 or IPv6 addresses"
    protocol = PROTOCOLS.get(cells.get("protocol", "").lower())
    if protocol is None:
        return "protocol: tcp, udp or icmp (or 6, 17, 1)"
    port_cell = cells.get("dst_port", "")
    port: int | None = None
    if protocol != "icmp":
        if not port_cell.isdigit() or not 0 <= int(port_cell) <= 65535:
            return "dst_port: a number from 0 to 65535"
        port = int(port_cell)
    count_cell = cells.get("count", "") or "1"
    if not count_cell.isdigit() or int(count_cell) < 1 or len(count_cell) > 15:
        return "count: a whole number of connections, at least 1"
    seen: dt.datetime | None = None
    if cells.get("last_seen"):
        try:
            seen = parse_datetime(cells["last_seen"])
        except ValueError:
            seen = None
        if seen is None:
            return "last_seen: an ISO 8601 time, e.g. 2026-12-05T22:14:00Z"
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=dt.UTC)
    key = (locate(source_ip), locate(destination_ip), port, protocol)
    return key, int(count_cell), str(source_ip), str(destination_ip), seen


def flow_export_import(*, actor: User | None, data: bytes, filename: str = "") -> FlowExportResult:
    result = FlowExportResult()
    if len(data) > MAX_BYTES:
        result.errors.append(
            RowError(0, f"The export is larger than {MAX_BYTES // (1024 * 1024)} MiB; split it.")
        )
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append(RowError(0, "The file is not UTF-8 text; export the CSV as UTF-8."))
        return result
    locate = SegmentLocator(list(NetworkSegment.objects.all()))
    totals: dict[Key, list[int | str]] = {}
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        reader.fieldnames = header
        unknown = [name for name in header if name not in COLUMNS]
        missing = [name for name in REQUIRED if name not in header]
        if not header or unknown or missing:
            problem = (
                "no header"
                if not header
                else f"an unknown column {unknown[0][:40]!r}"
                if unknown
                else f"no column {missing[0]!r}"
            )
            result.errors.append(RowError(1, f"The header has {problem}; columns are: {', '.join(COLUMNS)}."))
            return result
        for row in reader:
            result.rows += 1
            if result.rows > MAX_ROWS:
                result.errors.append(
                    RowError(reader.line_num, f"More than {MAX_ROWS:,} rows; split the export.")
                )
                return result
            if None in row:
                result.errors.append(RowError(reader.line_num, "The row has more cells than the header."))
            else:
                parsed = _parse_row({k: (v or "").strip() for k, v in row.items()}, locate)
                if isinstance(parsed, str):
                    result.errors.append(RowError(reader.line_num, parsed))
                else:
                    key, count, source_ip, destination_ip, seen = parsed
                    entry = totals.setdefault(key, [0, source_ip, destination_ip])
                    entry[0] = int(entry[0]) + count
                    if seen is not None:
                        first = seen if first is None or seen < first else first
                        last = seen if last is None or seen > last else last
            if len(result.errors) >= MAX_ERRORS:
                break
    except csv.Error as error:
        result.errors.append(RowError(0, f"The CSV cannot be read ({error})."))
    if not result.errors and not totals:
        result.errors.append(RowError(2, "The export has a header and no rows."))
    if result.errors:
        return result
    declared = list(SegmentFlow.objects.all())
    result.undeclared = sum(
        1 for key in totals if key[0] is not None and not any(flow.covers(*key) for flow in declared)
    )
    now = clock.now()
    with transaction.atomic():
        export = FlowExport.objects.create(
            filename=filename[:200],
            sha256=hashlib.sha256(data).hexdigest(),
            rows=result.rows,
            first_seen=first,
            last_seen=last,
            imported_by=actor,
            imported_at=now,
        )
        ObservedFlow.objects.bulk_create(
            ObservedFlow(
                export=export,
                source_id=source,
                destination_id=destination,
                port=port,
                protocol=protocol,
                connections=int(count),
                example_source_ip=str(source_ip),
                example_destination_ip=str(destination_ip),
            )
            for (source, destination, port, protocol), (count, source_ip, destination_ip) in totals.items()
        )
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type="FlowExport",
            resource_id=export.pk,
            purpose=PurposeOfUse.OPERATIONS,
            detail={"rows": result.rows, "flows": len(totals), "undeclared": result.undeclared},
        )
    result.export = export
    result.flows = len(totals)
    return result
