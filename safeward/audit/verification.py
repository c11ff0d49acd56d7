"""Verification of the whole trail: every seal's signature and link, every
event against its seal, every id in the table accounted for, and every seal
against the external checkpoint file.

Events are streamed once in id order; each seal takes its ids from what has
been read so far, so late commits sealed in a later block cost nothing extra
and memory holds only the events still waiting for their block."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeward.audit import chain, signing
from safeward.audit.checkpoints import Checkpoint, CheckpointFileError, checkpoints_read
from safeward.audit.models import AuditArchive, AuditEvent, AuditEventPatient, AuditSeal

MAX_PROBLEMS = 50


@dataclass(frozen=True, order=True)
class Problem:
    event_id: int
    kind: str
    seal: int | None = field(default=None, compare=False)
    message: str = field(default="", compare=False)

    def describe(self) -> str:
        where = f" (seal {self.seal})" if self.seal is not None else ""
        return f"sequence {self.event_id}: {self.kind}{where}: {self.message}"


@dataclass
class VerifyReport:
    seals: int = 0
    events: int = 0
    checkpoints: int = 0
    unsealed: int = 0
    archived_seals: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        return min(self.problems) if self.problems else None

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def _signature_ok(verifier: signing.SealSigner, key_id: str, block_hash: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        digest = bytes.fromhex(block_hash)
    except ValueError:
        return False
    return verifier.verify(key_id, digest, raw)


def seal_header_problems(
    seal: AuditSeal, *, previous_hash: str, expected_number: int, verifier: signing.SealSigner
) -> list[str]:
    """What is wrong with one seal on its own and as the next link."""
    problems = []
    if seal.number != expected_number:
        problems.append(f"seal {expected_number} is missing (found {seal.number} next)")
    if seal.prev_hash != previous_hash:
        problems.append("does not link to the previous seal")
    header = chain.block_header(
        number=seal.number,
        sealed_at=seal.sealed_at,
        watermark=seal.watermark,
        event_count=seal.event_count,
        first_event_id=seal.first_event_id,
        last_event_id=seal.last_event_id,
        ranges=seal.ranges,
        pending=seal.pending,
        abandoned=seal.abandoned,
        events_digest=seal.events_digest,
        prev_hash=seal.prev_hash,
    )
    if chain.block_hash(header) != seal.block_hash:
        problems.append("block header was changed")
    if not _signature_ok(verifier, seal.key_id, seal.block_hash, seal.signature):
        problems.append("signature does not verify")
    return problems


def _event_stream(start_id: int) -> Iterator[tuple[int, bytes]]:
    rows = AuditEvent.objects.filter(id__gte=start_id).order_by("id").values_list(*chain.EVENT_COLUMNS)
    for row in rows.iterator(chunk_size=5000):
        yield row[0], chain.event_hash(chain.canonical_event(row))


def _first_id(seal: AuditSeal) -> int:
    if seal.first_event_id is not None:
        return int(seal.first_event_id)
    return int(seal.watermark)


def audit_verify(
    *,
    since: dt.datetime | None = None,
    checkpoint_path: Path | None = None,
    verifier: signing.SealSigner | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    report = VerifyReport()
    verifier = verifier or signing.get_signer()
    try:
        checkpoints: dict[int, Checkpoint] = {
            item.seal: item for item in checkpoints_read(path=checkpoint_path)
        }
    except CheckpointFileError as error:
        report.add(Problem(0, "checkpoint file unreadable", None, str(error)))
        checkpoints = {}

    archived_upto = AuditArchive.objects.order_by("-number").values_list("last_seal", flat=True).first() or 0
    seals = AuditSeal.objects.order_by("number")
    start_seal = archived_upto + 1
    if since is not None:
        first_since = (
            AuditSeal.objects.filter(sealed_at__gte=since).order_by("number").values_list("number", flat=True)
        ).first()
        start_seal = max(start_seal, first_since or start_seal)
    # Seals before the start are checked as links only (archived or before --since).
    anchor = AuditSeal.objects.defer("leaf_tags").filter(number=start_seal - 1).first()
    previous_hash = anchor.block_hash if anchor else chain.GENESIS_HASH
    if anchor is None and start_seal > 1:
        report.add(Problem(0, "seal missing", start_seal - 1, "the seal before the verified range is gone"))
    prior_pending: list[list[Any]] = list(anchor.pending) if anchor else []
    prior_watermark = anchor.watermark if anchor else 0
    start_id = min([prior_watermark + 1, *(int(item[0]) for item in prior_pending)])

    events = _event_stream(start_id)
    held: dict[int, bytes] = {}
    exhausted = False
    next_item: tuple[int, bytes] | None = None
    last_pulled = [0]

    def pull_until(limit: int) -> None:
        nonlocal exhausted, next_item
        while not exhausted:
            if next_item is None:
                try:
                    next_item = next(events)
                except StopIteration:
                    exhausted = True
                    return
            if next_item[0] > limit:
                return
            if next_item[0] in held or next_item[0] == last_pulled[0]:
                report.add(Problem(next_item[0], "inserted", None, "sequence number appears twice"))
            else:
                held[next_item[0]] = next_item[1]
            last_pulled[0] = next_item[0]
            next_item = None

    # Ids at or below the anchor's watermark that it did not leave pending
    # were sealed before the verified range.
    pull_until(prior_watermark)
    for event_id in list(held):
        if not chain.in_ranges(event_id, prior_pending):
            del held[event_id]

    expected = start_seal
    for seal in seals.filter(number__gte=start_seal).iterator(chunk_size=200):
        report.seals += 1
        first_id = _first_id(seal)
        for message in seal_header_problems(
            seal, previous_hash=previous_hash, expected_number=expected, verifier=verifier
        ):
            report.add(Problem(first_id, "seal", seal.number, message))
        checkpoint = checkpoints.pop(seal.number, None)
        if checkpoint is not None:
            report.checkpoints += 1
            if checkpoint.block_hash != seal.block_hash:
                report.add(
                    Problem(first_id, "disagrees with external checkpoint", seal.number, "block hash differs")
                )
            elif not _signature_ok(verifier, checkpoint.key_id, checkpoint.block_hash, checkpoint.signature):
                report.add(
                    Problem(first_id, "checkpoint", seal.number, "checkpoint signature does not verify")
                )
        elif checkpoints and seal.number < max(checkpoints, default=0):
            report.add(Problem(first_id, "checkpoint missing", seal.number, "no external checkpoint"))

        pull_until(seal.watermark)
        tags = bytes(seal.leaf_tags)
        hashes: list[bytes] = []
        problems_before = len(report.problems)
        for position, event_id in enumerate(chain.range_ids(seal.ranges)):
            digest = held.pop(event_id, None)
            if digest is None:
                report.add(Problem(event_id, "deleted", seal.number, "sealed event is missing"))
                continue
            hashes.append(digest)
            tag = tags[position * chain.TAG_BYTES : (position + 1) * chain.TAG_BYTES]
            if digest[: chain.TAG_BYTES] != tag:
                report.add(Problem(event_id, "changed", seal.number, "event differs from its sealed hash"))
        report.events += len(hashes)
        located = len(report.problems) > problems_before
        if not located and chain.events_digest(hashes) != seal.events_digest:
            report.add(Problem(first_id, "changed", seal.number, "events digest differs"))
        # Whatever is held at or below the watermark must still be awaited.
        for event_id in [key for key in held if key <= seal.watermark]:
            if not chain.in_ranges(event_id, seal.pending):
                del held[event_id]
                report.add(Problem(event_id, "inserted", seal.number, "event was never sealed"))
        previous_hash = seal.block_hash
        expected = seal.number + 1
        if progress is not None:
            progress(seal.event_count)

    for number, checkpoint in sorted(checkpoints.items()):
        if number >= start_seal:
            report.add(
                Problem(
                    int(checkpoint.first_event_id or checkpoint.watermark),
                    "missing from database",
                    number,
                    "the external checkpoint names a seal the database does not have",
                )
            )
    # Events after the last seal are simply not sealed yet.
    pull_until(2**63 - 1)
    report.unsealed = len(held)
    report.archived_seals = archived_upto
    for problem in patient_index_problems(start_id=start_id):
        report.add(problem)
    return report


INDEX_STEP = 50_000


def patient_index_problems(*, start_id: int = 0) -> Iterator[Problem]:
    """The per-patient index of multi-patient events (ADR 0208) against what
    the events themselves hold: each event's `detail["patients"]` (covered
    by its seal) must have exactly its index rows. A row deleted to hide a
    disclosure from a patient's accounting, or one added or changed, is
    named by the event's sequence number. Read in id ranges, so memory stays
    bounded whatever the size of the trail."""
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for lo in range(start_id, last + 1, INDEX_STEP):
        hi = lo + INDEX_STEP
        sealed: dict[int, set[str]] = {}
        for event_id, detail in AuditEvent.objects.filter(
            id__gte=lo, id__lt=hi, detail__has_key="patients"
        ).values_list("id", "detail"):
            patients = detail.get("patients") if isinstance(detail, dict) else None
            sealed[event_id] = {str(pid) for pid in patients} if isinstance(patients, list) else set()
        indexed: dict[int, set[str]] = {}
        for event_id, patient_id in AuditEventPatient.objects.filter(
            event_id__gte=lo, event_id__lt=hi
        ).values_list("event_id", "patient_id"):
            indexed.setdefault(event_id, set()).add(patient_id)
        for event_id in sorted(set(sealed) | set(indexed)):
            if sealed.get(event_id, set()) != indexed.get(event_id, set()):
                yield Problem(
                    event_id,
                    "patient index differs",
                    None,
                    "the event's per-patient index rows differ from the patients it holds",
                )
