"""The syslog listener for door controllers (ADR 1100): UDP datagrams or TCP
lines (RFC 6587 non-transparent framing: one message per line), each parsed
with `importer.parse_syslog_line`. Good lines are buffered and ingested in
small batches (at most `flush_seconds` apart), so an alert follows a door event
within about that time; a bad line is logged with the peer and the reason
(never the line: it may hold a badge id) and skipped, and counted."""

from __future__ import annotations

import logging
import selectors as io_selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from safeward.facilities import importer, services

logger = logging.getLogger(__name__)
MAX_LINE = 2048


@dataclass
class ListenerStats:
    received: int = 0
    ingested: int = 0
    rejected: int = 0
    alerts: int = 0
    errors: list[str] = field(default_factory=list)


class Listener:
    def __init__(self, *, host: str, port: int, protocol: str, flush_seconds: float = 0.5, batch: int = 500):
        self.protocol = protocol
        self.flush_seconds = flush_seconds
        self.batch = batch
        self.stats = ListenerStats()
        self.buffer: list[tuple[dict[str, Any], str]] = []
        self.last_flush = time.monotonic()
        self.selector = io_selectors.DefaultSelector()
        if protocol == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
            if protocol == "tcp":
                self.sock.listen(16)
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.selector.register(self.sock, io_selectors.EVENT_READ, "server")
        self.partial: dict[socket.socket, bytes] = {}

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    def _line(self, raw: bytes, peer: str) -> None:
        self.stats.received += 1
        row = importer.parse_syslog_line(raw[:MAX_LINE].decode("utf-8", "replace"))
        if row is None:
            self.stats.rejected += 1
            logger.warning("syslog line from %s is not a DOOR message; skipped", peer)
            return
        self.buffer.append((row, peer))

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.buffer:
            return
        rows = [row for row, _ in self.buffer]
        peers = [peer for _, peer in self.buffer]
        self.buffer = []
        _events, errors = services.parse_rows(rows)
        if errors:
            # Keep the good lines; report the bad ones by position and peer.
            good = []
            bad = {int(e.split(":")[0].split()[1]) for e in errors}
            for number, row in enumerate(rows, start=1):
                if number in bad:
                    self.stats.rejected += 1
                    logger.warning("syslog line from %s rejected", peers[number - 1])
                else:
                    good.append(row)
            self.stats.errors += list(errors)[:100]
            rows = good
        if rows:
            result = services.events_ingest(actor=None, rows=rows, source=f"syslog:{self.protocol}")
            self.stats.ingested += result.events
            self.stats.alerts += result.alerts

    def serve(self, *, seconds: float | None = None, max_events: int | None = None) -> ListenerStats:
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                break
            if max_events is not None and self.stats.received >= max_events:
                break
            for key, _ in self.selector.select(timeout=0.05):
                self._ready(key)
            if len(self.buffer) >= self.batch or time.monotonic() - self.last_flush >= self.flush_seconds:
                self.flush()
        self.flush()
        return self.stats

    def _ready(self, key: io_selectors.SelectorKey) -> None:
        if key.data == "server" and self.protocol == "udp":
            data, peer = self.sock.recvfrom(65535)
            for raw in data.splitlines():
                if raw.strip():
                    self._line(raw, peer[0])
        elif key.data == "server":
            conn, peer = self.sock.accept()
            conn.setblocking(False)
            self.selector.register(conn, io_selectors.EVENT_READ, peer[0])
            self.partial[conn] = b""
        else:
            client = key.fileobj
            assert isinstance(client, socket.socket)
            self._read(client, str(key.data))

    def _read(self, conn: socket.socket, peer: str) -> None:
        chunk = conn.recv(65535)
        pending = self.partial.get(conn, b"") + chunk
        *lines, rest = pending.split(b"\n")
        for raw in lines:
            if raw.strip():
                self._line(raw, peer)
        if not chunk:
            if rest.strip():
                self._line(rest, peer)
            self.selector.unregister(conn)
            conn.close()
            self.partial.pop(conn, None)
        else:
            self.partial[conn] = rest[-MAX_LINE:]

    def close(self) -> None:
        for key in list(self.selector.get_map().values()):
            fileobj = key.fileobj
            if isinstance(fileobj, socket.socket):
                fileobj.close()
        self.selector.close()
