"""The detection worker: follows the audit trail by sequence number and runs
the rules over each batch (ADR 0700).

Like the sealer (safeward/audit/sealing.py), it must cope with ids that
commit out of order: a PostgreSQL sequence hands out ids at insert time,
and a transaction that took id 41 may commit after the one that took 42.
The cursor therefore keeps a watermark (the highest id processed) and the
holes below it (`pending`, as [lo, hi, first_seen_epoch, snapshot_xmax]).
Each pass processes the events that turned up in a hole and the next
events above the watermark. A hole is given up once it is older than the
gap horizon and every transaction that was running when it was first seen
has ended (then it can only be a rollback).

Each batch is ONE transaction: the events' access reviews, daily counts,
alerts and evidence, and the cursor's new position commit together, so a
worker killed at any point neither misses nor repeats an event. One worker
at a time: every batch takes a transaction-scoped advisory lock on
PostgreSQL (SQLite serialises writers anyway), and `--follow` also holds a
session lock so a second follower refuses to start."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from safeward import clock
from safeward.audit import chain
from safeward.audit import context as audit_context
from safeward.audit.models import AuditEvent
from safeward.config import env
from safeward.detection.models import DetectorCursor
from safeward.detection.selectors import WORKER_NAME

# pg_advisory locks: "SWDETECT" (each batch) and "SWDETFOL" (one follower).
BATCH_LOCK_KEY = int.from_bytes(b"SWDETECT", "big", signed=True)
FOLLOW_LOCK_KEY = int.from_bytes(b"SWDETFOL", "big", signed=True)

EVENT_FIELDS: tuple[str, ...] = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_username",
    "actor_roles",
    "client_ip",
    "network_zone",
    "action",
    "outcome",
    "resource_type",
    "resource_id",
    "patient_id",
    "purpose_of_use",
    "reason",
    "detail",
    "source",
    "client_id",
)


def batch_size() -> int:
    value = getattr(settings, "SAFEWARD_DETECTION_BATCH", None)
    return int(value) if value is not None else env.integer("SAFEWARD_DETECTION_BATCH", 2000, minimum=1)


def gap_horizon_seconds() -> int:
    """How long a hole may still commit; defaults to the sealer's horizon."""
    value = getattr(settings, "SAFEWARD_DETECTION_GAP_HORIZON_SECONDS", None)
    if value is not None:
        return int(value)
    from safeward.audit import conf

    return env.integer("SAFEWARD_DETECTION_GAP_HORIZON_SECONDS", conf.gap_horizon_seconds(), minimum=1)


@dataclass(frozen=True)
class Event:
    """The columns of an audit event the rules read."""

    id: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor_username: str
    actor_roles: str
    client_ip: str | None
    network_zone: str
    action: str
    outcome: str
    resource_type: str
    resource_id: str
    patient_id: str
    purpose_of_use: str
    reason: str
    detail: dict[str, Any]
    source: str = ""
    # The OAuth client of a request made with a bearer token, "" for none.
    client_id: str = ""

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(role for role in self.actor_roles.split(",") if role)

    @property
    def by_setup(self) -> bool:
        """Recorded by SafeWard's own installation (first keys, demo seed),
        never by a user or an operator (ADR 0404)."""
        return (
            self.actor_id is None
            and self.source == audit_context.SETUP_SOURCE
            and self.actor_username == audit_context.SETUP_ACTOR
        )


@dataclass
class PassResult:
    events: int = 0
    batches: int = 0
    alerts_created: int = 0
    alerts_grown: int = 0
    reviews: int = 0
    abandoned: int = 0

    def add(self, other: PassResult) -> None:
        self.events += other.events
        self.batches += other.batches
        self.alerts_created += other.alerts_created
        self.alerts_grown += other.alerts_grown
        self.reviews += other.reviews
        self.abandoned += other.abandoned


def _batch_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BATCH_LOCK_KEY])


def follow_lock_try() -> bool:
    """Take the session-level lock that marks the one `--follow` worker.
    False when another process holds it. Always True on SQLite."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [FOLLOW_LOCK_KEY])
        row = cursor.fetchone()
    return bool(row and row[0])


def _snapshot_xmin_xmax() -> tuple[int, int]:
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


def _events(query: Any, limit: int | None = None) -> list[Event]:
    rows = query.order_by("id").values_list(*EVENT_FIELDS)
    if limit is not None:
        rows = rows[:limit]
    return [Event(*row) for row in rows]


def _process_batch(*, size: int) -> PassResult | None:
    from safeward.detection.evaluate import evaluate

    with transaction.atomic():
        _batch_lock()
        cursor = DetectorCursor.objects.select_for_update().filter(name=WORKER_NAME).first()
        if cursor is None:
            DetectorCursor.objects.bulk_create([DetectorCursor(name=WORKER_NAME)], ignore_conflicts=True)
            cursor = DetectorCursor.objects.select_for_update().get(name=WORKER_NAME)
        now = clock.now()
        xmin, xmax = _snapshot_xmin_xmax()
        old_pending: list[list[Any]] = list(cursor.pending)
        late: list[Event] = []
        if old_pending:
            condition = Q()
            for lo, hi, *_ in old_pending:
                condition |= Q(id__gte=lo, id__lte=hi)
            late = _events(AuditEvent.objects.filter(condition))
        fresh = _events(AuditEvent.objects.filter(id__gt=cursor.watermark), size)
        new_watermark = fresh[-1].id if fresh else cursor.watermark

        found_late = [event.id for event in late]
        pending: list[list[Any]] = []
        abandoned = 0
        horizon = gap_horizon_seconds()
        for lo, hi, seen, seen_xmax in old_pending:
            for gap_lo, gap_hi in chain.missing_ranges(lo, hi, found_late):
                if now.timestamp() - seen >= horizon and (seen_xmax == 0 or xmin >= seen_xmax):
                    abandoned += gap_hi - gap_lo + 1
                else:
                    pending.append([gap_lo, gap_hi, seen, seen_xmax])
        for gap_lo, gap_hi in chain.missing_ranges(
            cursor.watermark + 1, new_watermark, [event.id for event in fresh]
        ):
            pending.append([gap_lo, gap_hi, int(now.timestamp()), xmax])

        if not late and not fresh and not abandoned:
            return None
        events = sorted(late + fresh, key=lambda event: event.id)
        # `now` was read before the fetch: an event committed in between may be a few
        # milliseconds younger, and an alert must never predate its evidence.
        now = max([now, *(event.occurred_at for event in events)])
        outcome = evaluate(events, now=now)
        cursor.watermark = new_watermark
        cursor.pending = pending
        cursor.processed += len(events)
        cursor.updated_at = now
        cursor.save()
        return PassResult(
            events=len(events),
            batches=1,
            alerts_created=outcome.alerts_created,
            alerts_grown=outcome.alerts_grown,
            reviews=outcome.reviews,
            abandoned=abandoned,
        )


def process_pending(
    *, limit: int | None = None, size: int | None = None, max_batches: int | None = None
) -> PassResult:
    """Process batches until nothing committed is left (or `limit` events,
    or `max_batches` batches)."""
    size = size or batch_size()
    total = PassResult()
    while (limit is None or total.events < limit) and (max_batches is None or total.batches < max_batches):
        step = size if limit is None else max(1, min(size, limit - total.events))
        result = _process_batch(size=step)
        if result is None:
            break
        total.add(result)
    return total
