"""The bytes that are hashed, and how blocks link. Pure functions with no
database access, so an archive can be verified offline with the same code.

An event's hash is SHA-256 over its canonical form, in the format its seal
names (`AuditSeal.format_version`, covered by the signed block header, ADR
1610):
- format 1: a compact JSON array of its columns in a fixed order (keys of
  `detail` sorted, the time in UTC with microseconds);
- format 2 (every seal made since): a fixed binary layout (`canonical_event_v2`,
  docs/audit.md), a few `struct` calls per event instead of a JSON encoder.
A block's `events_digest` is SHA-256 over the concatenated event hashes in
id order; its `block_hash` is SHA-256 over the canonical block header, which
names the format, the previous block's hash (the chain) and the events
digest. The Ed25519 signature is over the block hash (ADR 0200)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

GENESIS_HASH = "0" * 64
TAG_BYTES = 8
# The event encoding new seals use; a seal keeps the one it was made with.
FORMAT_VERSION = 2

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


# --- format 2: fixed binary layout -------------------------------------------

# Header: version (1 byte), id, occurred_at as microseconds since the Unix
# epoch (UTC), actor_id (0 when null): signed 64-bit big-endian; then one
# byte of null flags (NULL_ACTOR, NULL_IP). Then the byte length of each
# TEXT_COLUMNS value (unsigned 32-bit big-endian), then the values in UTF-8.
# `fields` and `detail` are canonical JSON (sorted keys, compact, UTF-8).
V2_HEAD = struct.Struct(">BqqqB")
TEXT_COLUMNS = EVENT_COLUMNS[3:]
V2_LENGTHS = struct.Struct(f">{len(TEXT_COLUMNS)}I")
NULL_ACTOR = 1
NULL_IP = 2
_IP = TEXT_COLUMNS.index("client_ip")
_FIELDS = TEXT_COLUMNS.index("fields")
_DETAIL = TEXT_COLUMNS.index("detail")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_JSON_CACHE_SIZE = 65_536
_json_cache: dict[str, str] = {}


def epoch_microseconds(moment: dt.datetime | str) -> int:
    """A naive time is UTC (SQLite hands back naive UTC times)."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // _MICROSECOND


def canonical_json_text(text: str) -> str:
    """The canonical JSON of a JSON text as the database returns it. Events
    repeat the same few `fields` lists and `detail` shapes, so the canonical
    form is remembered per text (it depends on the text alone)."""
    found = _json_cache.get(text)
    if found is None:
        found = _dumps(json.loads(text))
        if len(_json_cache) >= _JSON_CACHE_SIZE:
            _json_cache.clear()
        _json_cache[text] = found
    return found


_json_bytes_cache: dict[str, bytes] = {}


def canonical_json_bytes(text: str) -> bytes:
    """`canonical_json_text` in UTF-8."""
    found = _json_bytes_cache.get(text)
    if found is None:
        found = canonical_json_text(text).encode("utf-8")
        if len(_json_bytes_cache) >= _JSON_CACHE_SIZE:
            _json_bytes_cache.clear()
        _json_bytes_cache[text] = found
    return found


def pack_v2(event_id: int, micros: int, actor_id: int | None, texts: list[Any]) -> bytes:
    """`texts`: the TEXT_COLUMNS values as strings (client_ip may be None),
    with `fields` and `detail` already canonical JSON. Modified in place."""
    flags = 0
    if actor_id is None:
        flags, actor_id = NULL_ACTOR, 0
    if texts[_IP] is None:
        flags |= NULL_IP
        texts[_IP] = ""
    joined = "".join(texts)
    if joined.isascii():
        # ASCII: characters are bytes, one encode for the whole event.
        lengths = V2_LENGTHS.pack(*map(len, texts))
        body = joined.encode("ascii")
    else:
        parts = [text.encode("utf-8") for text in texts]
        lengths = V2_LENGTHS.pack(*map(len, parts))
        body = b"".join(parts)
    return V2_HEAD.pack(2, event_id, micros, actor_id, flags) + lengths + body


def canonical_event_v2(row: Sequence[Any]) -> bytes:
    """Format 2 of `row` (EVENT_COLUMNS values as the ORM returns them, or
    as `canonical_event` wrote them: time as text, JSON as values)."""
    texts = list(row[3:])
    texts.extend([""] * (len(TEXT_COLUMNS) - len(texts)))
    texts[_FIELDS] = _dumps(texts[_FIELDS])
    texts[_DETAIL] = _dumps(texts[_DETAIL])
    return pack_v2(row[0], epoch_microseconds(row[_TIME]), row[2], texts)


def canonical_event_as(version: int, row: Sequence[Any]) -> bytes:
    if version == 1:
        return canonical_event(row)
    if version == 2:
        return canonical_event_v2(row)
    raise ValueError(f"unknown audit event format {version}")


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
    format_version: int,
) -> bytes:
    return _dumps(
        {
            "v": format_version,
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
