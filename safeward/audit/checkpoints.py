"""Signed checkpoints outside the database: one JSON line per seal, appended
to a file (and sent with the SIEM export). Whoever rewrites the events *and*
their seals inside the database still disagrees with these lines.

Writers take an exclusive `flock` and append every seal the file does not
have yet, in order, so several sealing processes and a crash between the
database commit and the file write leave the file complete and ordered."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from safeward.audit import conf
from safeward.audit.chain import format_time
from safeward.audit.models import AuditSeal


@dataclass(frozen=True)
class Checkpoint:
    seal: int
    block_hash: str
    first_event_id: int | None
    watermark: int
    key_id: str
    signature: str
    line: str


def checkpoint_record(seal: AuditSeal) -> dict[str, Any]:
    return {
        "type": "safeward-audit-checkpoint",
        "seal": seal.number,
        "sealed_at": format_time(seal.sealed_at),
        "event_count": seal.event_count,
        "first_event_id": seal.first_event_id,
        "watermark": seal.watermark,
        "prev_hash": seal.prev_hash,
        "block_hash": seal.block_hash,
        "key_id": seal.key_id,
        "signature": seal.signature,
    }


def checkpoint_line(seal: AuditSeal) -> str:
    return json.dumps(checkpoint_record(seal), sort_keys=True, separators=(",", ":"))


def _last_line(handle: BinaryIO) -> bytes:
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    if end == 0:
        return b""
    position = end
    chunk = b""
    while position > 0:
        step = min(4096, position)
        position -= step
        handle.seek(position)
        chunk = handle.read(step) + chunk
        stripped = chunk.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return chunk.rstrip(b"\n")


def checkpoints_write(*, path: Path | None = None) -> int:
    """Append the seals the file lacks. Returns how many lines were written."""
    target = path or conf.checkpoint_file()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    written = 0
    with os.fdopen(descriptor, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            last = _last_line(handle)
            last_number = int(json.loads(last)["seal"]) if last else 0
            seals = AuditSeal.objects.filter(number__gt=last_number).order_by("number").defer("leaf_tags")
            for seal in seals.iterator(chunk_size=500):
                handle.write(checkpoint_line(seal).encode("ascii") + b"\n")
                written += 1
            if written:
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return written


class CheckpointFileError(ValueError):
    pass


def checkpoints_read(*, path: Path | None = None) -> Iterator[Checkpoint]:
    target = path or conf.checkpoint_file()
    if not target.exists():
        return
    with target.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("ascii", errors="replace").rstrip("\n")
            if not line:
                continue
            try:
                record = json.loads(line)
                yield Checkpoint(
                    seal=int(record["seal"]),
                    block_hash=str(record["block_hash"]),
                    first_event_id=record.get("first_event_id"),
                    watermark=int(record["watermark"]),
                    key_id=str(record["key_id"]),
                    signature=str(record["signature"]),
                    line=line,
                )
            except (ValueError, KeyError, TypeError):
                raise CheckpointFileError(
                    f"line {number} of the checkpoint file is not a checkpoint"
                ) from None
