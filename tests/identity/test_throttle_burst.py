"""A burst of simultaneous sign-in attempts cannot overshoot the login
throttle (ADR 0203). Checked before and counted after the password hash, every
attempt of a burst passed the check; counted on admission with one atomic
increment each (`identity.counters`), exactly the limit gets through. Threads
on their own PostgreSQL connections, as simultaneous requests are."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection, connections
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.identity import throttle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LIMIT = 5
WORKERS = 24
ATTACKER = "203.0.113.66"


@pytest.fixture(autouse=True)
def _postgres_only(settings):
    if connection.vendor != "postgresql":
        pytest.skip("simultaneous writers need PostgreSQL (SQLite in-memory is one connection)")
    assert isinstance(caches["default"], DatabaseCache)  # the configuration without Redis
    settings.SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES = 10_000
    settings.SAFEWARD_THROTTLE_ADDRESS_FAILURES = 10_000
    settings.SAFEWARD_THROTTLE_ACCOUNT_FAILURES = 10_000


def _burst[T](one: Callable[[int], T]) -> list[T]:
    start = threading.Barrier(WORKERS)
    results: list[T] = []
    lock = threading.Lock()

    def run(number: int) -> None:
        try:
            start.wait()
            outcome = one(number)
            with lock:
                results.append(outcome)
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=run, args=(number,)) for number in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == WORKERS
    return results


def test_a_burst_of_wrong_passwords_gets_exactly_the_limit_through_and_each_refusal_is_audited(
    settings, make_user
):
    """Distributed guessing: each attempt from an address of its own (so
    allauth's per-address limit, whose lock answers 429 to simultaneous
    requests from one address, stays out of it); the account counter decides."""
    settings.SAFEWARD_THROTTLE_ACCOUNT_FAILURES = LIMIT
    user = make_user("nurse")

    def attempt(number: int) -> bytes:
        response = Client(REMOTE_ADDR=f"198.51.100.{number}").post(
            "/accounts/login/", {"login": user.username, "password": "wrong password 1"}
        )
        assert response.status_code == 200
        return response.content

    answers = _burst(attempt)
    assert sum(b"not correct" in answer for answer in answers) == LIMIT
    assert sum(b"Too many failed sign-in attempts" in answer for answer in answers) == WORKERS - LIMIT
    assert AuditEvent.objects.filter(action="login", outcome="denied").count() == LIMIT
    throttled = AuditEvent.objects.filter(action="login_throttled")
    assert throttled.count() == WORKERS - LIMIT
    assert {event.detail["counter"] for event in throttled} == {"account"}


@pytest.mark.parametrize("counter", ["account_address", "address", "account"])
def test_a_burst_on_each_counter_lets_exactly_the_limit_through(settings, counter):
    setting = {
        "account_address": "SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES",
        "address": "SAFEWARD_THROTTLE_ADDRESS_FAILURES",
        "account": "SAFEWARD_THROTTLE_ACCOUNT_FAILURES",
    }[counter]
    setattr(settings, setting, LIMIT)  # the others stay out of reach (the fixture)

    def attempt(number: int) -> throttle.ThrottleDecision:
        # Only the counter under test is shared by the attempts.
        if counter == "account_address":
            return throttle.admit(username="target", address=ATTACKER)
        if counter == "address":
            return throttle.admit(username=f"sprayed{number}", address=ATTACKER)
        return throttle.admit(username="target", address=f"198.51.100.{number}")

    decisions = _burst(attempt)
    assert sum(decision.allowed for decision in decisions) == LIMIT
    assert {decision.reason for decision in decisions if not decision.allowed} == {counter}
