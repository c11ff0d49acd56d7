"""Login throttling that stops guessing without handing attackers a lock-out
button.

Three counters over a sliding window (a fixed bucket per window):
  * account + address: a few failures block that pair only, so one attacker
    cannot lock the real user out from the user's own workstation;
  * address: many failures across accounts from one address (password
    spraying, credential stuffing) block that address;
  * account: a very high count from many addresses (distributed guessing)
    blocks the account only for addresses it has never signed in from.
Counters are keyed by hashes, never by raw usernames.

An attempt is counted before it is tried (ADR 0203): `admit` increments the
three counters, one atomic increment each (`identity.counters`), and refuses
the attempt if that takes one over its limit. An admitted attempt holds its
counts: a wrong password or code keeps them (the failure), a right one gives
them back (`release`). Checking first and counting after the password hash
let a burst of simultaneous attempts all pass the check."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from safeward import clock
from safeward.identity.counters import counter_batch, counter_clear, counter_hit, counter_release


@dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    reason: str = ""
    held: tuple[str, ...] = ()  # the counters an admitted attempt holds until it fails or is released


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _bucket() -> int:
    window = settings.SAFEWARD_THROTTLE_WINDOW_MINUTES * 60
    return int(clock.now().timestamp()) // window


def _keys(username: str, address: str) -> dict[str, str]:
    account = username.strip().casefold()
    bucket = _bucket()
    return {
        "pair": f"sw:throttle:pair:{bucket}:{_digest(account, address)}",
        "address": f"sw:throttle:addr:{bucket}:{_digest(address)}",
        "account": f"sw:throttle:acct:{bucket}:{_digest(account)}",
        "known": f"sw:throttle:known:{_digest(account, address)}",
    }


def admit(*, username: str, address: str) -> ThrottleDecision:
    """Count this attempt as a failure in advance; refused (and uncounted) if
    that takes a counter over its limit. The pair is judged first, then the
    address, then the account (which spares addresses the account knows)."""
    keys = _keys(username, address)
    timeout = settings.SAFEWARD_THROTTLE_WINDOW_MINUTES * 60 * 2
    limits = (
        ("pair", "account_address", settings.SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES),
        ("address", "address", settings.SAFEWARD_THROTTLE_ADDRESS_FAILURES),
        ("account", "account", settings.SAFEWARD_THROTTLE_ACCOUNT_FAILURES),
    )
    held: list[str] = []
    with counter_batch():
        for name, reason, limit in limits:
            hits = counter_hit(key=keys[name], timeout=timeout)
            held.append(keys[name])
            # A known address still counts towards the account (so it cannot launder a
            # distributed run), but is never refused by it.
            if hits > limit and not (name == "account" and cache.get(keys["known"])):
                # A refused attempt is no failure: nothing it counted stays.
                for key in held:
                    counter_release(key=key)
                return ThrottleDecision(False, reason)
    return ThrottleDecision(True, held=tuple(held))


def release(*, decision: ThrottleDecision) -> None:
    """Give back what an admitted attempt counted: its password or code was right.
    By the keys it counted, so an attempt that spans a window boundary gives
    back to the window it was counted in."""
    with counter_batch():
        for key in decision.held:  # in admit's order, as every batch takes them
            counter_release(key=key)


def record_success(*, username: str, address: str) -> None:
    """Remember the address as known for this account (90 days) and forget the
    pair's failures. Address and account counters stay, so interleaved
    successful logins cannot launder a guessing run."""
    keys = _keys(username, address)
    cache.set(keys["known"], 1, timeout=90 * 24 * 3600)
    counter_clear(key=keys["pair"])
