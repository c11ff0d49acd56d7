from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.crypto import keyring as keyring_module


@pytest.fixture(autouse=True)
def fresh_keyring(db):
    """Each crypto test starts from the keyring table as it is, not from
    another test's cache (test transactions roll key rows back)."""
    keyring_module.keyring().reset()
    yield keyring_module.keyring()
    keyring_module.keyring().reset()


@pytest.fixture
def moving_clock():
    frozen = clock.FrozenClock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
    previous = clock.install(frozen)
    yield frozen
    clock.install(previous)
