"""A burst of simultaneous requests cannot overshoot the link page's limits
(ADR 1216): with the database cache each count is one INSERT ... ON CONFLICT
... RETURNING, not the cache's read-then-write increment. Threads on their own
PostgreSQL connections hit the counters at once."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection, connections

from safeward.audit.models import AuditEvent
from safeward.vendors import link_throttle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LIMIT = 5
WORKERS = 24
ROUNDS = 3


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("simultaneous writers need PostgreSQL (SQLite in-memory is one connection)")
    assert isinstance(caches["default"], DatabaseCache)  # the configuration without Redis


def _burst(token: str, address: str) -> list[link_throttle.Limited | None]:
    start = threading.Barrier(WORKERS)
    results: list[link_throttle.Limited | None] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            start.wait()
            outcome = link_throttle.hit(token=token, address=address)
            with lock:
                results.append(outcome)
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=one) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_burst_lets_exactly_the_limit_through_and_audits_once(settings):
    settings.SAFEWARD_VENDOR_LINK_WINDOW_SECONDS = 600
    settings.SAFEWARD_VENDOR_LINK_PER_LINK = LIMIT
    settings.SAFEWARD_VENDOR_LINK_PER_ADDRESS = 10_000
    # Several rounds, each on its own link: one lucky interleaving must not pass the test.
    for round_ in range(ROUNDS):
        results = _burst(f"burst-link-{round_}", f"192.0.2.{round_}")
        assert len(results) == WORKERS
        assert sum(r is None for r in results) == LIMIT
        assert {r.counter for r in results if r is not None} == {"link"}
    throttled = AuditEvent.objects.filter(detail__event="questionnaire_link_throttled")
    assert throttled.count() == ROUNDS  # one per counter and window, however many refusals
