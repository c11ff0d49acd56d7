"""SIEM export through a reliable outbox (ADR 0201).

The outbox is the sealed trail itself: each sink has a cursor
(`AuditExportCursor`) and receives, in seal order, every event of each seal
followed by that seal's signed checkpoint. Only sealed events go out, so a
late commit is exported in the block that sealed it and every sink sees one
order. The cursor moves only after the sink acknowledged a batch; a failed
batch is sent again from the cursor (at least once), and because a batch is
acknowledged only after the receiver has read it to the end, a receiver that
stays up sees each message exactly once. Exporting reads the database and
never touches the access path: an outage delays export, never an access.

Formats: RFC 5424 syslog with RFC 5425/6587 octet counting over TCP or TLS
(IHE ATNA), the message body being the FHIR R4 AuditEvent as JSON or a CEF
line; JSON lines to a file."""

from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from django.db import transaction
from django.db.models import Q

from safeward import clock
from safeward.audit import chain
from safeward.audit.checkpoints import checkpoint_record
from safeward.audit.fhir import fhir_audit_event
from safeward.audit.models import AuditEvent, AuditExportCursor, AuditSeal
from safeward.audit.vocabulary import Outcome

# Private Enterprise Number used in the structured-data id. 32473 is the
# documentation example (RFC 5612); a hospital may set its own.
SD_ENTERPRISE = 32473
APP_NAME = "safeward"
_FACILITY_AUTHPRIV = 10
_SEVERITY = {Outcome.SUCCESS: 6, Outcome.DENIED: 5, Outcome.ERROR: 4}


@dataclass(frozen=True)
class ExportItem:
    """One message to deliver: an event, or the checkpoint closing a seal."""

    seal: int
    event: AuditEvent | None
    checkpoint: dict[str, Any] | None

    @property
    def position(self) -> tuple[int, int]:
        """The cursor once this item is acknowledged."""
        if self.event is not None:
            return self.seal - 1, int(self.event.pk)
        return self.seal, 0


@runtime_checkable
class SiemSink(Protocol):
    """Delivers a batch of encoded messages; returns only once the receiver
    acknowledged all of them and raises otherwise."""

    name: str

    def deliver(self, messages: list[bytes]) -> None: ...


# --- encoding ---------------------------------------------------------------


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _cef_escape(value: str, *, header: bool = False) -> str:
    value = value.replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")
    return value.replace("|", "\\|") if header else value.replace("=", "\\=")


def cef_line(*, signature: str, name: str, severity: int, extension: dict[str, str]) -> str:
    """One CEF:0 line from SafeWard; empty extension values are left out."""
    body = " ".join(f"{key}={_cef_escape(value)}" for key, value in extension.items() if value)
    header = f"{_cef_escape(signature, header=True)}|{_cef_escape(name, header=True)}"
    return f"CEF:0|SafeWard|SafeWard|1|{header}|{severity}|{body}"


def syslog_message(*, severity: int, timestamp: str, hostname: str, msgid: str, sd: str, body: str) -> bytes:
    """One RFC 5424 message (facility authpriv), octet-counted for TCP/TLS
    (RFC 5425 section 4.3)."""
    pri = _FACILITY_AUTHPRIV * 8 + severity
    message = f"<{pri}>1 {timestamp} {hostname} {APP_NAME} - {msgid} {sd} ".encode() + b"\xef\xbb\xbf"
    message += body.encode("utf-8")
    return str(len(message)).encode("ascii") + b" " + message


def event_cef(event: AuditEvent) -> str:
    severity = {Outcome.SUCCESS: 3, Outcome.DENIED: 6, Outcome.ERROR: 8}[Outcome(event.outcome)]
    extension = {
        "rt": str(int(event.occurred_at.timestamp() * 1000)),
        "suser": event.actor_username,
        "suid": str(event.actor_id or ""),
        "src": event.client_ip or "",
        "outcome": event.outcome,
        "cs1Label": "patientId",
        "cs1": event.patient_id,
        "cs2Label": "resource",
        "cs2": f"{event.resource_type}/{event.resource_id}" if event.resource_type else "",
        "cs3Label": "purposeOfUse",
        "cs3": event.purpose_of_use,
        "cs4Label": "oauthClient",  # the application a bearer token was issued to (ADR 0208)
        "cs4": event.client_id,
        "cn1Label": "sequence",
        "cn1": str(event.pk),
        "requestClientApplication": event.source,
    }
    return cef_line(
        signature=event.action, name=f"{event.action} {event.outcome}", severity=severity, extension=extension
    )


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "type": "safeward-audit-event",
        **{
            column: (
                chain.format_time(event.occurred_at) if column == "occurred_at" else getattr(event, column)
            )
            for column in chain.EVENT_COLUMNS
        },
    }


def item_json_line(item: ExportItem) -> bytes:
    record = event_json(item.event) if item.event is not None else item.checkpoint
    record = {**(record or {}), "seal": item.seal}
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"


def item_syslog(item: ExportItem, *, hostname: str, body_format: str = "fhir") -> bytes:
    """One audit event or checkpoint as a syslog message (`syslog_message`)."""
    if item.event is not None:
        event = item.event
        severity = _SEVERITY[Outcome(event.outcome)]
        timestamp = chain.format_time(event.occurred_at).replace("+00:00", "Z")
        msgid = "IHE+FHIR"
        sd = (
            f'[safeward@{SD_ENTERPRISE} seq="{event.pk}" seal="{item.seal}" '
            f'action="{_sd_escape(event.action)}" outcome="{_sd_escape(event.outcome)}"]'
        )
        if body_format == "cef":
            body = event_cef(event)
        else:
            body = json.dumps(fhir_audit_event(event), separators=(",", ":"), ensure_ascii=False)
    else:
        assert item.checkpoint is not None
        severity = 5
        timestamp = str(item.checkpoint["sealed_at"]).replace("+00:00", "Z")
        msgid = "CHECKPOINT"
        sd = f'[safeward@{SD_ENTERPRISE} seal="{item.seal}" block="{item.checkpoint["block_hash"]}"]'
        body = json.dumps(item.checkpoint, sort_keys=True, separators=(",", ":"))
    return syslog_message(
        severity=severity, timestamp=timestamp, hostname=hostname, msgid=msgid, sd=sd, body=body
    )


# --- sinks ------------------------------------------------------------------


class SyslogSink:
    """RFC 5424 over TCP, or TLS when `tls` is given (RFC 5425). A batch is
    acknowledged when the receiver, having read to the end of the stream,
    closes its side: TCP half-close, or the TLS close_notify exchange."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        name: str = "syslog",
    ) -> None:
        self.host, self.port, self.tls, self.timeout, self.name = host, port, tls, timeout, name

    def deliver(self, messages: list[bytes]) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            if self.tls is not None:
                with self.tls.wrap_socket(raw, server_hostname=self.host) as secure:
                    secure.sendall(b"".join(messages))
                    secure.unwrap().close()
                return
            raw.sendall(b"".join(messages))
            raw.shutdown(socket.SHUT_WR)
            while raw.recv(4096):
                pass
        finally:
            raw.close()


class JsonLinesSink:
    """Appends to a file and fsyncs; the write is the acknowledgement."""

    def __init__(self, path: Path, *, name: str = "jsonl") -> None:
        self.path, self.name = path, name

    def deliver(self, messages: list[bytes]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "ab") as handle:
            handle.write(b"".join(messages))
            handle.flush()
            os.fsync(handle.fileno())


class MemorySink:
    """Keeps messages in a list: the simple implementation for tests."""

    def __init__(self, *, name: str = "memory") -> None:
        self.name = name
        self.messages: list[bytes] = []

    def deliver(self, messages: list[bytes]) -> None:
        self.messages.extend(messages)


# --- the outbox ---------------------------------------------------------------


def _ranges_filter(ranges: list[list[int]], after: int) -> Q:
    condition = Q()
    for lo, hi in ranges:
        if hi > after:
            condition |= Q(id__gte=max(lo, after + 1), id__lte=hi)
    return condition


def export_items(*, seal_number: int, event_id: int, limit: int) -> Iterator[ExportItem]:
    """The next `limit` items after the cursor (seal_number, event_id)."""
    produced = 0
    seals = AuditSeal.objects.filter(number__gt=seal_number).order_by("number").defer("leaf_tags")
    for seal in seals.iterator(chunk_size=100):
        after = event_id if seal.number == seal_number + 1 else 0
        condition = _ranges_filter(seal.ranges, after)
        if condition:
            remaining = limit - produced
            for event in AuditEvent.objects.filter(condition).order_by("id")[:remaining]:
                yield ExportItem(seal.number, event, None)
                produced += 1
            if produced >= limit:
                return
        yield ExportItem(seal.number, None, checkpoint_record(seal))
        produced += 1
        if produced >= limit:
            return


def _cursor(sink_name: str) -> AuditExportCursor:
    cursor, _ = AuditExportCursor.objects.get_or_create(sink=sink_name)
    return cursor


def audit_export_batch(*, sink: SiemSink, encode: Callable[[ExportItem], bytes], limit: int = 500) -> int:
    """Deliver the next batch to `sink`. Returns how many items were
    acknowledged (0: nothing to send). Raises when the sink did not
    acknowledge; the cursor then stays where it was."""
    cursor = _cursor(sink.name)
    items = list(export_items(seal_number=cursor.seal_number, event_id=cursor.event_id, limit=limit))
    if not items:
        return 0
    try:
        sink.deliver([encode(item) for item in items])
    except OSError as error:
        AuditExportCursor.objects.filter(sink=sink.name).update(
            last_error=f"{type(error).__name__}: {error.strerror or 'delivery failed'}"[:200]
        )
        raise
    seal_number, event_id = items[-1].position
    with transaction.atomic():
        AuditExportCursor.objects.filter(sink=sink.name).update(
            seal_number=seal_number, event_id=event_id, updated_at=clock.now(), last_error=""
        )
    return len(items)


def audit_export_pending(*, sink: SiemSink, encode: Callable[[ExportItem], bytes], limit: int = 500) -> int:
    """Deliver everything sealed so far; returns the number of items."""
    total = 0
    while True:
        sent = audit_export_batch(sink=sink, encode=encode, limit=limit)
        if sent == 0:
            return total
        total += sent


def export_lowest_seal() -> int | None:
    """The last seal every known sink has fully acknowledged (None: no sinks)."""
    values = list(AuditExportCursor.objects.values_list("seal_number", flat=True))
    return min(values) if values else None


def syslog_tls_context(*, ca_file: str | None, cert_file: str | None, key_file: str | None) -> ssl.SSLContext:
    """Client TLS for the syslog receiver: verifies the server (system CAs or
    `ca_file`), TLS 1.2 at least, and a client certificate for mutual TLS
    when given (IHE ATNA requires mutual authentication)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def hostname() -> str:
    return socket.gethostname().split(".")[0] or "-"
