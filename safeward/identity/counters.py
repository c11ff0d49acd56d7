"""Exact hit counters for rate limits: the login throttles (`identity.throttle`)
and the questionnaire link's limits (`vendors.link_throttle`) (ADRs 1216, 0203).

A hit is one atomic increment that returns the count including it, so a burst
of simultaneous requests gets the counts 1, 2, 3, ... and exactly `limit` of
them see a count within the limit. With Redis (or the in-process cache)
that is the cache's own `incr`. With the database cache it is a `RateCounter`
row incremented and read back by one statement: the database cache's own
`incr` is a read then a write, which a burst overshoots.

Keys carry their window (a bucket number), so a row is never reused across
windows, only deleted once expired (swept at most once a minute per process).
Several hits or releases of one request go in one `counter_batch()`: one
commit instead of one each, and in the table their rows stay locked until it
(callers take a request's counters in one fixed order, so two batches never
wait on each other in a cycle)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection, transaction
from django.db.models import F

from safeward import clock
from safeward.identity.models import RateCounter

SWEEP_EVERY = dt.timedelta(minutes=1)
_next_sweep = dt.datetime.min.replace(tzinfo=dt.UTC)


def _in_table() -> bool:
    return isinstance(caches["default"], DatabaseCache)  # `cache` is only a proxy to it


@contextlib.contextmanager
def counter_batch() -> Iterator[None]:
    """The counter operations inside commit together (the table); with Redis
    or the in-process cache each is atomic on its own and there is nothing to batch."""
    if _in_table():
        with transaction.atomic():
            yield
    else:
        yield


def counter_hit(*, key: str, timeout: int) -> int:
    """Count one hit on `key` (kept `timeout` seconds); the count including it."""
    if _in_table():
        return _hit_in_table(key, timeout)
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)  # atomic on Redis (INCR) and on the in-process cache (a lock)
    except ValueError:  # expired between add and incr
        cache.add(key, 0, timeout=timeout)
        return cache.incr(key)


def counter_release(*, key: str) -> None:
    """Give one hit back (an attempt counted in advance that did not fail).
    One statement too; never below zero, and nothing if the counter is gone."""
    if _in_table():
        RateCounter.objects.filter(key=key, hits__gt=0).update(hits=F("hits") - 1)
        return
    with contextlib.suppress(ValueError):  # expired or cleared meanwhile: nothing to give back
        cache.decr(key)


def counter_clear(*, key: str) -> None:
    if _in_table():
        RateCounter.objects.filter(key=key).delete()
    else:
        cache.delete(key)


def _hit_in_table(key: str, timeout: int) -> int:
    global _next_sweep  # this process's sweep schedule; nothing shared
    now = clock.now()
    table, key_column, hits_column, expires_column = (
        connection.ops.quote_name(name) for name in (RateCounter._meta.db_table, "key", "hits", "expires_at")
    )
    with connection.cursor() as cursor:
        # INSERT ... ON CONFLICT ... RETURNING: PostgreSQL, and SQLite since 3.35.
        cursor.execute(
            f"INSERT INTO {table} ({key_column}, {hits_column}, {expires_column}) VALUES (%s, 1, %s) "  # noqa: S608 - names from model metadata; the values are parameters
            f"ON CONFLICT ({key_column}) DO UPDATE SET {hits_column} = {table}.{hits_column} + 1 "
            f"RETURNING {hits_column}",
            [key, now + dt.timedelta(seconds=timeout)],
        )
        hits = int(cursor.fetchone()[0])
    if hits == 1 and now >= _next_sweep:  # a new window's first hit sweeps the windows that ended
        _next_sweep = now + SWEEP_EVERY
        RateCounter.objects.filter(expires_at__lt=now).delete()
    return hits
