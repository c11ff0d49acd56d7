"""The bytes that are hashed, and how blocks link. Pure functions with no
database access, so an archive can be verified offline with the same code.

An event's hash is SHA-256 over its canonical form: a compact JSON array of
its columns in a fixed order (keys of `detail` sorted, the time in UTC with
microseconds). A block's `events_digest` is SHA-256 over the concatenated
event hashes in id order; its `block_hash` is SHA-256 over the canonical
block header, which names the previous block's hash (the chain) and the
events digest. The Ed25519 signature is over the block hash (ADR 0200)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

GENESIS_HASH = "0" * 64
TAG_BYTES = 8
FORMAT_VERSION = 1

# The columns of an event in the order they are hashed. A column added later
# goes at the end, with an empty default, into ADDED_COLUMNS: it is hashed
# only when it holds a value, so every event recorded before it existed keeps
# its hash (and every seal its digest), while a value set, changed or blanked
# afterwards changes the hash (ADR 0208).
EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_username",
    "actor_roles",
    "session_id",
    "client_ip",
    "network_zone",
    "user_agent",
    "request_id",
    "action",
    "outcome",
    "resource_type",
    "resource_id",
    "patient_id",
    "purpose_of_use",
    "reason",
    "fields",
    "detail",
    "source",
    # added (issue 11): the OAuth client of a bearer-token request
    "client_id",
    "client_name",
)
ADDED_COLUMNS = ("client_id", "client_name")
_FIRST_ADDED = EVENT_COLUMNS.index(ADDED_COLUMNS[0])
_TIME = EVENT_COLUMNS.index("occurred_at")

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_event(row: Sequence[Any]) -> bytes:
    """`row` holds the EVENT_COLUMNS values in order, as the database returns
    them (or, from an archive made before a column was added, fewer). Empty
    added columns at the end are left out (see EVENT_COLUMNS)."""
    values = list(row)
    moment = values[_TIME]
    if isinstance(moment, dt.datetime):
        values[_TIME] = format_time(moment)
    while len(values) > _FIRST_ADDED and values[-1] == "":
        values.pop()
    return _dumps(values).encode("utf-8")


def event_columns(values: Sequence[Any]) -> dict[str, Any]:
    """An event's canonical values (as `canonical_event` wrote them) by column
    name; the added columns it left out are empty."""
    padded = [*values, *[""] * (len(EVENT_COLUMNS) - len(values))]
    return dict(zip(EVENT_COLUMNS, padded, strict=True))


def event_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(canonical).digest()


def events_digest(hashes: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for item in hashes:
        digest.update(item)
    return digest.hexdigest()


def block_header(
    *,
    number: int,
    sealed_at: dt.datetime,
    watermark: int,
    event_count: int,
    first_event_id: int | None,
    last_event_id: int | None,
    ranges: list[list[int]],
    pending: list[list[Any]],
    abandoned: list[list[int]],
    events_digest: str,
    prev_hash: str,
) -> bytes:
    return _dumps(
        {
            "v": FORMAT_VERSION,
            "number": number,
            "sealed_at": format_time(sealed_at),
            "watermark": watermark,
            "event_count": event_count,
            "first_event_id": first_event_id,
            "last_event_id": last_event_id,
            "ranges": ranges,
            "pending": pending,
            "abandoned": abandoned,
            "events_digest": events_digest,
            "prev_hash": prev_hash,
        }
    ).encode("utf-8")


def block_hash(header: bytes) -> str:
    return hashlib.sha256(header).hexdigest()


# --- id ranges -----------------------------------------------------------------


def to_ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids -> [[lo, hi], ...] inclusive runs."""
    ranges: list[list[int]] = []
    for value in ids:
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1][1] = value
        else:
            ranges.append([value, value])
    return ranges


def range_ids(ranges: Iterable[Sequence[int]]) -> Iterator[int]:
    for lo, hi, *_ in ranges:
        yield from range(lo, hi + 1)


def in_ranges(value: int, ranges: Iterable[Sequence[int]]) -> bool:
    return any(lo <= value <= hi for lo, hi, *_ in ranges)


def missing_ranges(lo: int, hi: int, present: Sequence[int]) -> list[list[int]]:
    """Runs of ids in [lo, hi] that are not in the sorted `present`."""
    gaps: list[list[int]] = []
    expected = lo
    for value in present:
        if value > hi:
            break
        if value < expected:
            continue
        if value > expected:
            gaps.append([expected, value - 1])
        expected = value + 1
    if expected <= hi:
        gaps.append([expected, hi])
    return gaps
