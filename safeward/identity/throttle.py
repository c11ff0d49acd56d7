"""Login throttling that stops guessing without handing attackers a lock-out
button.

Three counters over a sliding window (a fixed bucket per window):
  * account + address: a few failures block that pair only, so one attacker
    cannot lock the real user out from the user's own workstation;
  * address: many failures across accounts from one address (password
    spraying, credential stuffing) block that address;
  * account: a very high count from many addresses (distributed guessing)
    blocks the account only for addresses it has never signed in from.
Counters live in the shared cache, keyed by hashes, never by raw usernames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from safeward import clock


@dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    reason: str = ""


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


def check(*, username: str, address: str) -> ThrottleDecision:
    keys = _keys(username, address)
    counts = cache.get_many([keys["pair"], keys["address"], keys["account"], keys["known"]])
    if counts.get(keys["pair"], 0) >= settings.SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES:
        return ThrottleDecision(False, "account_address")
    if counts.get(keys["address"], 0) >= settings.SAFEWARD_THROTTLE_ADDRESS_FAILURES:
        return ThrottleDecision(False, "address")
    if counts.get(keys["account"], 0) >= settings.SAFEWARD_THROTTLE_ACCOUNT_FAILURES and not counts.get(
        keys["known"]
    ):
        return ThrottleDecision(False, "account")
    return ThrottleDecision(True)


def record_failure(*, username: str, address: str) -> None:
    keys = _keys(username, address)
    timeout = settings.SAFEWARD_THROTTLE_WINDOW_MINUTES * 60 * 2
    for name in ("pair", "address", "account"):
        # add() then incr() keeps the count right when processes race.
        cache.add(keys[name], 0, timeout=timeout)
        try:
            cache.incr(keys[name])
        except ValueError:
            cache.set(keys[name], 1, timeout=timeout)


def record_success(*, username: str, address: str) -> None:
    """Remember the address as known for this account (90 days) and forget the
    pair's failures. Address and account counters stay, so interleaved
    successful logins cannot launder a guessing run."""
    keys = _keys(username, address)
    cache.set(keys["known"], 1, timeout=90 * 24 * 3600)
    cache.delete(keys["pair"])
