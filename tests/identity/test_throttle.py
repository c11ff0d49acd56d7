"""Login throttling: guessing on one account, spraying from one address and
distributed guessing are slowed; a legitimate user elsewhere still gets in."""

from __future__ import annotations

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.identity import throttle
from safeward.identity.models import RateCounter
from tests.conftest import totp_now
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
NURSE_STATION = "10.20.1.15"
REFUSED = b"Too many failed sign-in attempts"


@pytest.fixture
def small_limits(settings):
    # Every failed attempt costs one argon2id hash; small limits keep this fast.
    settings.SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES = 3
    settings.SAFEWARD_THROTTLE_ADDRESS_FAILURES = 5
    settings.SAFEWARD_THROTTLE_ACCOUNT_FAILURES = 6
    return settings


def attempt(username: str, password: str, address: str) -> bytes | int:
    response = Client(REMOTE_ADDR=address).post("/accounts/login/", {"login": username, "password": password})
    if response.status_code == 302:
        return 302
    assert response.status_code == 200
    return response.content


def test_repeated_failures_on_one_account_are_slowed(small_limits, make_user):
    user = make_user("nurse")
    for _ in range(3):
        assert b"not correct" in attempt(user.username, "wrong password 1", ATTACKER)
    # Now even the right password is refused from this address...
    assert REFUSED in attempt(user.username, TEST_PASSWORD, ATTACKER)
    # ...but the real user at the nurses' station signs in.
    assert attempt(user.username, TEST_PASSWORD, NURSE_STATION) == 302
    throttled = AuditEvent.objects.filter(action="login_throttled")
    assert throttled.count() == 1
    assert throttled.get().detail == {"counter": "account_address"}
    assert TEST_PASSWORD not in str(list(AuditEvent.objects.values()))


def test_spraying_many_accounts_from_one_address_is_slowed(small_limits, make_user):
    victims = [make_user("nurse") for _ in range(5)]
    for victim in victims:
        assert b"not correct" in attempt(victim.username, "Winter2026!", ATTACKER)
    legit = make_user("physician")
    assert REFUSED in attempt(legit.username, TEST_PASSWORD, ATTACKER)
    assert attempt(legit.username, TEST_PASSWORD, NURSE_STATION) == 302
    assert AuditEvent.objects.get(action="login_throttled").detail == {"counter": "address"}


def test_spraying_unknown_usernames_counts_too(small_limits, make_user):
    for number in range(5):
        attempt(f"nobody{number}", "Winter2026!", ATTACKER)
    assert REFUSED in attempt(make_user("nurse").username, TEST_PASSWORD, ATTACKER)


def test_distributed_guessing_spares_known_addresses(small_limits, make_user):
    user = make_user("nurse")
    # A full sign-in (password and second factor) makes the address known.
    station = Client(REMOTE_ADDR=NURSE_STATION)
    station.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
    station.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret)})
    assert station.get("/").status_code == 200
    for number in range(6):
        attempt(user.username, "guess", f"198.51.100.{number}")
    assert REFUSED in attempt(user.username, TEST_PASSWORD, "198.51.100.200")
    assert attempt(user.username, TEST_PASSWORD, NURSE_STATION) == 302


def test_the_window_passes(small_limits, frozen_clock):
    for _ in range(3):
        assert throttle.admit(username="alice", address=ATTACKER).allowed  # three failures
    assert throttle.admit(username="alice", address=ATTACKER) == throttle.ThrottleDecision(
        False, "account_address"
    )
    assert throttle.admit(username="ALICE ", address=ATTACKER).allowed is False  # same account
    frozen_clock.advance(minutes=small_limits.SAFEWARD_THROTTLE_WINDOW_MINUTES)
    assert throttle.admit(username="alice", address=ATTACKER).allowed


def test_success_clears_the_pair_but_not_the_address(small_limits):
    for _ in range(2):
        throttle.admit(username="bob", address=ATTACKER)
    for name in ("c1", "c2"):
        throttle.admit(username=name, address=ATTACKER)
    throttle.record_success(username="bob", address=ATTACKER)
    assert throttle.admit(username="bob", address=ATTACKER).allowed  # the pair forgot, the address did not
    assert throttle.admit(username="bob", address=ATTACKER).allowed is False  # 5 from this address
    assert throttle.admit(username="bob", address=NURSE_STATION).allowed


def test_attempts_in_flight_count_and_a_right_one_gives_its_count_back(small_limits):
    """ADR 0203: an attempt is counted when admitted, before its password is
    checked, so attempts still running hold their places under the limit."""
    running = [throttle.admit(username="dora", address=ATTACKER) for _ in range(3)]
    assert all(decision.allowed for decision in running)
    assert throttle.admit(username="dora", address=ATTACKER).reason == "account_address"
    throttle.release(decision=running[0])  # its password was right
    assert throttle.admit(username="dora", address=ATTACKER).allowed
    assert throttle.admit(username="dora", address=ATTACKER).allowed is False


def test_a_refused_attempt_counts_nowhere(small_limits):
    """Refusals on the pair do not spend the address's or the account's budget:
    hammering one locked pair does not lock the address for everyone else."""
    for _ in range(3):
        throttle.admit(username="erin", address=ATTACKER)
    for _ in range(10):
        assert throttle.admit(username="erin", address=ATTACKER).reason == "account_address"
    assert throttle.admit(username="frank", address=ATTACKER).allowed  # 4 from this address
    assert throttle.admit(username="frank", address=ATTACKER).allowed  # 5
    assert throttle.admit(username="frank", address=ATTACKER).reason == "address"
    keys = throttle._keys("erin", ATTACKER)
    assert RateCounter.objects.get(key=keys["pair"]).hits == 3
    assert RateCounter.objects.get(key=keys["account"]).hits == 3


def test_counters_hold_no_usernames(small_limits):
    throttle.admit(username="carol.secretname", address=ATTACKER)
    keys = throttle._keys("carol.secretname", ATTACKER)
    assert all("carol" not in key and ATTACKER not in key for key in keys.values())
    assert RateCounter.objects.get(key=keys["pair"]).hits == 1


@pytest.mark.django_db
def test_a_disabled_account_with_the_right_password_gets_the_wrong_password_answer(client, make_user):
    """allauth's "account inactive" page would confirm the account and its password."""
    disabled = make_user("nurse", is_active=False)
    right = client.post("/accounts/login/", {"login": disabled.username, "password": TEST_PASSWORD})
    wrong = client.post(
        "/accounts/login/", {"login": disabled.username, "password": "not the password at all"}
    )
    assert right.status_code == wrong.status_code == 200
    assert b"inactive" not in right.content.lower()
    assert right.context["form"].errors == wrong.context["form"].errors
    assert AuditEvent.objects.filter(action="login", outcome="denied", detail__stage="inactive").count() == 1
