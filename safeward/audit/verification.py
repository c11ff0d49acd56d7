"""Verification of the whole trail: every seal's signature and link, every
event against its seal, every id in the table accounted for, and every seal
against the external checkpoint file.

The seals are cut into segments (ADR 1610); in each, events are streamed
once in id order from a server-side cursor and each seal takes its ids from
what has been read so far, so late commits sealed in a later block cost
nothing extra and memory holds only the events still waiting for their
block. Each event is hashed in the format its seal names. Segments run in
worker processes on PostgreSQL and their results merge in sequence order."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import multiprocessing
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from django.db import connection, connections, models

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
        format_version=seal.format_version,
    )
    if chain.block_hash(header) != seal.block_hash:
        problems.append("block header was changed")
    if not _signature_ok(verifier, seal.key_id, seal.block_hash, seal.signature):
        problems.append("signature does not verify")
    return problems


@dataclass(frozen=True)
class Segment:
    """A run of consecutive seals verified on its own, as `--since` does:
    from the state its anchor (the seal before it) records. `lo`..`hi` are
    the ids whose patient index it checks, disjoint between segments."""

    anchor: int | None
    expected: int
    first_seal: int
    last_seal: int
    lo: int
    hi: int
    last: bool


@dataclass
class SegmentResult:
    seals: int = 0
    events: int = 0
    checkpoints: int = 0
    unsealed: int = 0
    problems: list[Problem] = field(default_factory=list)
    index_problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


@dataclass(frozen=True)
class _Shared:
    verifier: signing.SealSigner
    checkpoints: dict[int, Checkpoint]
    # The highest seal the checkpoint file names (0: none): a seal below it
    # without a checkpoint line lost it.
    last_checkpoint: int


FETCH_BATCH = 20_000
SEGMENT_EVENTS = 1_000_000
_LAST_ID = 2**63 - 1
_FIELDS = chain.EVENT_COLUMNS.index("fields")
_DETAIL = chain.EVENT_COLUMNS.index("detail")
_sha256 = hashlib.sha256


def _column(name: str) -> str:
    field = AuditEvent._meta.get_field(name)
    assert isinstance(field, models.Field)
    assert field.column is not None
    return str(connection.ops.quote_name(field.column))


def _assembled() -> bool:
    """Whether PostgreSQL assembles the text part of format 2: octet_length
    counts UTF-8 bytes only in a UTF8 database."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_encoding")
        row = cursor.fetchone()
    return row is not None and row[0] == "UTF8"


# Format 2's text columns around the two JSON ones, which are canonicalised here.
_BEFORE_JSON = chain.TEXT_COLUMNS[: chain.TEXT_COLUMNS.index("fields")]
_AFTER_JSON = chain.TEXT_COLUMNS[chain.TEXT_COLUMNS.index("detail") + 1 :]


def _select_sql(assembled: bool, *, limited: bool = False) -> str:
    """The plain columns, or (PostgreSQL) format 2's pieces: the time as
    epoch microseconds, and for the text columns before and after the JSON
    ones their byte lengths (`int4send`: 4 bytes big-endian) and their
    UTF-8 bytes back to back. The database only concatenates: the bytes are
    hashed here, so a database returning other bytes than it holds gains
    nothing it could not gain by returning other rows."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    where = f"FROM {table} WHERE id >= %s AND id <= %s ORDER BY id" + (" LIMIT %s" if limited else "")
    if not assembled:
        return f"SELECT {', '.join(_column(name) for name in chain.EVENT_COLUMNS)} {where}"

    def text(name: str) -> str:
        return f"COALESCE(host({_column(name)}), '')" if name == "client_ip" else _column(name)

    def pieces(names: tuple[str, ...]) -> str:
        lengths = " || ".join(f"int4send(octet_length({text(name)}))" for name in names)
        return f"{lengths}, convert_to({' || '.join(text(name) for name in names)}, 'UTF8')"

    return (
        f"SELECT id, (EXTRACT(EPOCH FROM {_column('occurred_at')}) * 1000000)::bigint, "  # noqa: S608
        f"{_column('actor_id')}, {_column('client_ip')} IS NULL, {pieces(_BEFORE_JSON)}, "
        f"{_column('fields')}, {_column('detail')}, {pieces(_AFTER_JSON)} {where}"
    )


def _event_rows(
    lo: int, hi: int, *, assembled: bool = False, limit: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Event rows as the driver returns them (JSON columns as text; on
    SQLite the time may come back naive or as text), FETCH_BATCH rows per
    round trip from a server-side cursor on PostgreSQL: no ORM objects, no
    JSON parsing for rows whose canonical JSON is already known."""
    with connection.chunked_cursor() as cursor:
        if limit is None:
            cursor.execute(_select_sql(assembled), [lo, hi])
        else:
            cursor.execute(_select_sql(assembled, limited=True), [lo, hi, limit])
        while batch := cursor.fetchmany(FETCH_BATCH):
            yield from batch


def _hash_v1(row: tuple[Any, ...]) -> bytes:
    values = list(row)
    moment = values[1]
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    values[1] = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    values[_FIELDS] = json.loads(values[_FIELDS])
    values[_DETAIL] = json.loads(values[_DETAIL])
    return _sha256(chain.canonical_event(values)).digest()


def _encode_v2(row: tuple[Any, ...]) -> bytes:
    texts = list(row[3:])
    texts[_FIELDS - 3] = chain.canonical_json_text(texts[_FIELDS - 3])
    texts[_DETAIL - 3] = chain.canonical_json_text(texts[_DETAIL - 3])
    return chain.pack_v2(row[0], chain.epoch_microseconds(row[1]), row[2], texts)


def _hash_v2(row: tuple[Any, ...]) -> bytes:
    return _sha256(_encode_v2(row)).digest()


_head = chain.V2_HEAD.pack
_two_lengths = struct.Struct(">II").pack


def _encode_v2_assembled(row: tuple[Any, ...]) -> bytes:
    event_id, micros, actor_id, ip_null, lengths_a, body_a, fields, detail, lengths_b, body_b = row
    fields = chain.canonical_json_bytes(fields)
    detail = chain.canonical_json_bytes(detail)
    flags = (chain.NULL_ACTOR if actor_id is None else 0) | (chain.NULL_IP if ip_null else 0)
    return b"".join(
        (
            _head(2, event_id, micros, actor_id or 0, flags),
            lengths_a,
            _two_lengths(len(fields), len(detail)),
            lengths_b,
            body_a,
            fields,
            detail,
            body_b,
        )
    )


def _hash_v2_assembled(row: tuple[Any, ...]) -> bytes:
    return _sha256(_encode_v2_assembled(row)).digest()


def _split(lengths: bytes, body: bytes) -> list[str]:
    texts, offset = [], 0
    for (size,) in struct.iter_unpack(">I", lengths):
        texts.append(body[offset : offset + size].decode("utf-8"))
        offset += size
    return texts


def _hash_v1_assembled(row: tuple[Any, ...]) -> bytes:
    """A format 1 event from format 2's pieces (seals made before format 2)."""
    event_id, micros, actor_id, ip_null, lengths_a, body_a, fields, detail, lengths_b, body_b = row
    texts = [*_split(lengths_a, body_a), fields, detail, *_split(lengths_b, body_b)]
    if ip_null:
        texts[chain.TEXT_COLUMNS.index("client_ip")] = None
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
    return _hash_v1((event_id, moment, actor_id, *texts))


Hasher = Callable[[tuple[Any, ...]], bytes]
_HASHERS: dict[int, Hasher] = {1: _hash_v1, 2: _hash_v2}
_HASHERS_ASSEMBLED: dict[int, Hasher] = {1: _hash_v1_assembled, 2: _hash_v2_assembled}


def event_hashes(lo: int, hi: int, *, version: int, limit: int | None = None) -> list[tuple[int, bytes]]:
    """(id, hash in format `version`) of the events with ids in [lo, hi], in
    id order, at most `limit`: the sealer hashes what it seals from the rows
    verification fetches, with the same encoder, so the two cannot read an
    event differently (ADR 1650)."""
    assembled = _assembled()
    hasher = (_HASHERS_ASSEMBLED if assembled else _HASHERS)[version]
    return [(row[0], hasher(row)) for row in _event_rows(lo, hi, assembled=assembled, limit=limit)]


def _first_id(seal: AuditSeal) -> int:
    if seal.first_event_id is not None:
        return int(seal.first_event_id)
    return int(seal.watermark)


def _check_seal_events(
    seal: AuditSeal,
    held: dict[int, tuple[Any, ...]],
    result: SegmentResult,
    first_id: int,
    hashers: dict[int, Hasher],
) -> None:
    """Every event the seal lists is present and hashes to its tag."""
    hasher = hashers.get(seal.format_version)
    ids = list(chain.range_ids(seal.ranges))
    rows = [held.pop(event_id, None) for event_id in ids]
    if hasher is None:
        result.add(Problem(first_id, "seal", seal.number, f"unknown event format {seal.format_version}"))
        return
    hashes = [hasher(row) for row in rows if row is not None]
    result.events += len(hashes)
    tags = bytes(seal.leaf_tags)
    size = chain.TAG_BYTES
    if len(hashes) == len(ids) and b"".join([digest[:size] for digest in hashes]) == tags:
        if chain.events_digest(hashes) != seal.events_digest:
            result.add(Problem(first_id, "changed", seal.number, "events digest differs"))
        return
    # Something differs: name each event (positions count the missing ones).
    found = iter(hashes)
    for position, (event_id, row) in enumerate(zip(ids, rows, strict=True)):
        if row is None:
            result.add(Problem(event_id, "deleted", seal.number, "sealed event is missing"))
        elif next(found)[:size] != tags[position * size : (position + 1) * size]:
            result.add(Problem(event_id, "changed", seal.number, "event differs from its sealed hash"))


def verify_segment(
    segment: Segment, *, shared: _Shared, progress: Callable[[int], None] | None = None
) -> SegmentResult:
    result = SegmentResult()
    anchor = (
        AuditSeal.objects.defer("leaf_tags").filter(number=segment.anchor).first()
        if segment.anchor is not None
        else None
    )
    previous_hash = anchor.block_hash if anchor else chain.GENESIS_HASH
    prior_pending: list[list[Any]] = list(anchor.pending) if anchor else []
    prior_watermark = anchor.watermark if anchor else 0
    start_id = min([prior_watermark + 1, *(int(item[0]) for item in prior_pending)])
    seals = AuditSeal.objects.filter(number__gte=segment.first_seal, number__lte=segment.last_seal)
    upto = _LAST_ID if segment.last else int(seals.order_by("-number").values_list("watermark", flat=True)[0])

    assembled = _assembled()
    hashers = _HASHERS_ASSEMBLED if assembled else _HASHERS
    events = _event_rows(start_id, upto, assembled=assembled)
    held: dict[int, tuple[Any, ...]] = {}
    next_row: tuple[Any, ...] | None = None
    last_pulled = 0

    def pull_until(limit: int) -> None:
        nonlocal next_row, last_pulled
        row = next_row
        if row is None:
            row = next(events, None)
        while row is not None and row[0] <= limit:
            event_id = row[0]
            if event_id in held or event_id == last_pulled:
                result.add(Problem(event_id, "inserted", None, "sequence number appears twice"))
            else:
                held[event_id] = row
            last_pulled = event_id
            row = next(events, None)
        next_row = row

    # Ids at or below the anchor's watermark that it did not leave pending
    # were sealed before this segment.
    pull_until(prior_watermark)
    for event_id in list(held):
        if not chain.in_ranges(event_id, prior_pending):
            del held[event_id]

    expected = segment.expected
    for seal in seals.order_by("number").iterator(chunk_size=200):
        result.seals += 1
        first_id = _first_id(seal)
        for message in seal_header_problems(
            seal, previous_hash=previous_hash, expected_number=expected, verifier=shared.verifier
        ):
            result.add(Problem(first_id, "seal", seal.number, message))
        checkpoint = shared.checkpoints.get(seal.number)
        if checkpoint is not None:
            result.checkpoints += 1
            if checkpoint.block_hash != seal.block_hash:
                result.add(
                    Problem(first_id, "disagrees with external checkpoint", seal.number, "block hash differs")
                )
            elif not _signature_ok(
                shared.verifier, checkpoint.key_id, checkpoint.block_hash, checkpoint.signature
            ):
                result.add(
                    Problem(first_id, "checkpoint", seal.number, "checkpoint signature does not verify")
                )
        elif seal.number < shared.last_checkpoint:
            result.add(Problem(first_id, "checkpoint missing", seal.number, "no external checkpoint"))

        pull_until(seal.watermark)
        _check_seal_events(seal, held, result, first_id, hashers)
        # Whatever is held at or below the watermark must still be awaited.
        for event_id in [key for key in held if key <= seal.watermark]:
            if not chain.in_ranges(event_id, seal.pending):
                del held[event_id]
                result.add(Problem(event_id, "inserted", seal.number, "event was never sealed"))
        previous_hash = seal.block_hash
        expected = seal.number + 1
        if progress is not None:
            progress(seal.event_count)

    if segment.last:
        # Events after the last seal are simply not sealed yet.
        pull_until(_LAST_ID)
        result.unsealed = len(held)
    index = patient_index_problems(start_id=segment.lo, end_id=segment.hi)
    result.index_problems = list(islice(index, MAX_PROBLEMS))
    return result


def plan_segments(*, start_seal: int, start_id: int, segment_events: int) -> list[Segment]:
    """Consecutive seals from `start_seal` cut into runs of about
    `segment_events` events; the last one also counts the unsealed events."""
    segments: list[Segment] = []
    anchor: int | None = start_seal - 1 if start_seal > 1 else None
    expected, lo = start_seal, start_id
    first: int | None = None
    count = 0
    rows = AuditSeal.objects.filter(number__gte=start_seal).order_by("number")
    for number, event_count, watermark in rows.values_list("number", "event_count", "watermark").iterator(
        chunk_size=5000
    ):
        first = number if first is None else first
        count += event_count
        if count >= segment_events:
            segments.append(Segment(anchor, expected, first, number, lo, max(lo - 1, watermark), False))
            anchor, expected, lo = number, number + 1, max(lo, watermark + 1)
            first, count = None, 0
    last_seal = segments[-1].last_seal if segments else start_seal - 1
    tail_first = first if first is not None else last_seal + 1
    tail_last = _LAST_ID if first is not None else last_seal
    segments.append(Segment(anchor, expected, tail_first, tail_last, lo, _LAST_ID, True))
    return segments


_shared_for_workers: _Shared | None = None


def _segment_in_worker(segment: Segment) -> SegmentResult:
    assert _shared_for_workers is not None
    return verify_segment(segment, shared=_shared_for_workers)


def _run_segments(
    segments: list[Segment], *, shared: _Shared, workers: int, progress: Callable[[int], None] | None
) -> Iterator[SegmentResult]:
    """In order. Several worker processes only on PostgreSQL outside a
    transaction: forked children open their own connections and must see
    the same committed trail (SQLite runs in this process)."""
    global _shared_for_workers
    parallel = workers > 1 and len(segments) > 1 and connection.vendor == "postgresql"
    if not parallel or connection.in_atomic_block:
        for segment in segments:
            yield verify_segment(segment, shared=shared, progress=progress)
        return
    connections.close_all()
    _shared_for_workers = shared
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for result in pool.imap(_segment_in_worker, segments):
                if progress is not None:
                    progress(result.events)
                yield result
    finally:
        _shared_for_workers = None


def audit_verify(
    *,
    since: dt.datetime | None = None,
    checkpoint_path: Path | None = None,
    verifier: signing.SealSigner | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    segment_events: int = SEGMENT_EVENTS,
) -> VerifyReport:
    """Verify the trail from the first unarchived seal (or the first sealed
    at or after `since`). The seals are cut into segments of about
    `segment_events` events, verified by `workers` processes and merged in
    sequence order: the report is the one a single pass gives."""
    report = VerifyReport()
    verifier = signing.for_one_run(verifier or signing.get_signer())
    try:
        checkpoints: dict[int, Checkpoint] = {
            item.seal: item for item in checkpoints_read(path=checkpoint_path)
        }
    except CheckpointFileError as error:
        report.add(Problem(0, "checkpoint file unreadable", None, str(error)))
        checkpoints = {}

    archived_upto = AuditArchive.objects.order_by("-number").values_list("last_seal", flat=True).first() or 0
    start_seal = archived_upto + 1
    if since is not None:
        first_since = (
            AuditSeal.objects.filter(sealed_at__gte=since).order_by("number").values_list("number", flat=True)
        ).first()
        start_seal = max(start_seal, first_since or start_seal)
    # Seals before the start are checked as links only (archived or before --since).
    anchor = AuditSeal.objects.defer("leaf_tags").filter(number=start_seal - 1).first()
    if anchor is None and start_seal > 1:
        report.add(Problem(0, "seal missing", start_seal - 1, "the seal before the verified range is gone"))
    prior_pending: list[list[Any]] = list(anchor.pending) if anchor else []
    start_id = min([(anchor.watermark if anchor else 0) + 1, *(int(item[0]) for item in prior_pending)])

    shared = _Shared(verifier, checkpoints, max(checkpoints, default=0))
    segments = plan_segments(start_seal=start_seal, start_id=start_id, segment_events=segment_events)
    index_problems: list[Problem] = []
    for result in _run_segments(segments, shared=shared, workers=workers, progress=progress):
        report.seals += result.seals
        report.events += result.events
        report.checkpoints += result.checkpoints
        report.unsealed += result.unsealed
        for problem in result.problems:
            report.add(problem)
        index_problems += result.index_problems[: MAX_PROBLEMS - len(index_problems)]

    verified = set(AuditSeal.objects.filter(number__gte=start_seal).values_list("number", flat=True))
    for number, checkpoint in sorted(checkpoints.items()):
        if number >= start_seal and number not in verified:
            report.add(
                Problem(
                    int(checkpoint.first_event_id or checkpoint.watermark),
                    "missing from database",
                    number,
                    "the external checkpoint names a seal the database does not have",
                )
            )
    report.archived_seals = archived_upto
    for problem in index_problems:
        report.add(problem)
    return report


INDEX_STEP = 50_000


def patient_index_problems(*, start_id: int = 0, end_id: int = _LAST_ID) -> Iterator[Problem]:
    """The per-patient index of multi-patient events (ADR 0208) against what
    the events themselves hold: each event's `detail["patients"]` (covered
    by its seal) must have exactly its index rows. A row deleted to hide a
    disclosure from a patient's accounting, or one added or changed, is
    named by the event's sequence number. Read in id ranges, so memory stays
    bounded whatever the size of the trail."""
    last = AuditEvent.objects.filter(id__lte=end_id).order_by("-id").values_list("id", flat=True).first() or 0
    for lo in range(start_id, last + 1, INDEX_STEP):
        hi = min(lo + INDEX_STEP, last + 1)
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
