"""Continuous sealing of the trail into signed, hash-chained blocks (ADR 0200).

One sealer at a time extends the chain: on PostgreSQL it holds a
transaction-scoped advisory lock, on SQLite the IMMEDIATE write transaction
already serialises writers. Any number of processes may call
`audit_seal_pending` (the `--follow` loop every second, or on demand); they
never fork the chain because each block is built under the lock from the
latest committed block.

Sequence numbers from a PostgreSQL sequence can commit out of order and
rolled-back transactions leave holes. A block therefore lists the ids it
seals as ranges, and the holes below its watermark as `pending`: the next
blocks seal a pending id as soon as it commits (a late commit, not a
forgery). A pending id that stays missing past the gap horizon, and (on
PostgreSQL) after every transaction that was running when it was first
seen has ended, is recorded as `abandoned`: its transaction rolled back."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.db import connection, transaction

from safeward import clock
from safeward.audit import chain, conf, signing, verification
from safeward.audit.checkpoints import checkpoints_write
from safeward.audit.models import AuditEvent, AuditSeal

# pg_advisory_xact_lock key: "SWAUDSEA" as a signed 64-bit integer.
SEAL_LOCK_KEY = int.from_bytes(b"SWAUDSEA", "big", signed=True)


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])


def _snapshot_bounds() -> tuple[int, int]:
    """(xmin, xmax) of the current snapshot on PostgreSQL: every transaction
    with an id below xmin has ended. (0, 0) elsewhere."""
    if connection.vendor != "postgresql":
        return 0, 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
            "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# Above any sequence number: "every id from here on".
_LAST_ID = 2**63 - 1


def _seal_one(*, signer: signing.SealSigner, batch: int) -> AuditSeal | None:
    with transaction.atomic():
        _lock()
        previous = AuditSeal.objects.defer("leaf_tags").order_by("-number").first()
        number = previous.number + 1 if previous else 1
        watermark = previous.watermark if previous else 0
        prev_hash = previous.block_hash if previous else chain.GENESIS_HASH
        old_pending: list[list[Any]] = list(previous.pending) if previous else []
        now = clock.now()
        xmin, xmax = _snapshot_bounds()

        # (id, hash) of the events that turned up in a hole and of the next
        # ones, read and encoded as verification reads them (ADR 1650): the
        # database assembles format 2's text part, no ORM rows, no JSON parse
        # of a `fields` or `detail` already seen.
        late: list[tuple[int, bytes]] = []
        for lo, hi, *_ in old_pending:
            late += verification.event_hashes(lo, hi, version=chain.FORMAT_VERSION)
        fresh = verification.event_hashes(watermark + 1, _LAST_ID, version=chain.FORMAT_VERSION, limit=batch)
        new_watermark = fresh[-1][0] if fresh else watermark

        found_late = [row[0] for row in late]
        pending: list[list[Any]] = []
        abandoned: list[list[int]] = []
        horizon = conf.gap_horizon_seconds()
        for lo, hi, seen, seen_xmax in old_pending:
            for gap_lo, gap_hi in chain.missing_ranges(lo, hi, found_late):
                expired = now.timestamp() - seen >= horizon and (seen_xmax == 0 or xmin >= seen_xmax)
                if expired:
                    abandoned.append([gap_lo, gap_hi])
                else:
                    pending.append([gap_lo, gap_hi, seen, seen_xmax])
        for gap_lo, gap_hi in chain.missing_ranges(watermark + 1, new_watermark, [row[0] for row in fresh]):
            pending.append([gap_lo, gap_hi, int(now.timestamp()), xmax])

        if not late and not fresh and not abandoned:
            return None
        rows = sorted(late + fresh)
        hashes = [digest for _, digest in rows]
        ids = [event_id for event_id, _ in rows]
        ranges = chain.to_ranges(ids)
        digest = chain.events_digest(hashes)
        fields: dict[str, Any] = {
            "number": number,
            "sealed_at": now,
            "watermark": new_watermark,
            "event_count": len(rows),
            "first_event_id": ids[0] if ids else None,
            "last_event_id": ids[-1] if ids else None,
            "ranges": ranges,
            "pending": pending,
            "abandoned": abandoned,
            "events_digest": digest,
            "prev_hash": prev_hash,
            "format_version": chain.FORMAT_VERSION,
        }
        block = chain.block_hash(chain.block_header(**fields))
        key_id, signature = signer.sign(bytes.fromhex(block))
        return AuditSeal.objects.create(
            **fields,
            leaf_tags=b"".join(item[: chain.TAG_BYTES] for item in hashes),
            block_hash=block,
            key_id=key_id,
            signature=base64.b64encode(signature).decode("ascii"),
        )


def audit_seal_pending(*, max_blocks: int | None = None, write_checkpoints: bool = True) -> list[AuditSeal]:
    """Seal everything committed and not yet sealed, in as many blocks as the
    batch size needs, then append the new checkpoints to the external file."""
    signer = signing.get_signer()
    batch = conf.seal_batch()
    sealed: list[AuditSeal] = []
    while max_blocks is None or len(sealed) < max_blocks:
        seal = _seal_one(signer=signer, batch=batch)
        if seal is None:
            break
        sealed.append(seal)
    if write_checkpoints:
        if connection.in_atomic_block:
            transaction.on_commit(checkpoints_write)
        else:
            checkpoints_write()
    return sealed


def seal_lag(*, now: dt.datetime | None = None) -> dt.timedelta | None:
    """Age of the oldest event not yet sealed (None when all are sealed)."""
    last = AuditSeal.objects.defer("leaf_tags").order_by("-number").first()
    watermark = last.watermark if last else 0
    oldest = AuditEvent.objects.filter(id__gt=watermark).order_by("id").values_list("occurred_at", flat=True)
    first = oldest.first()
    if first is None:
        return None
    return (now or clock.now()) - first
