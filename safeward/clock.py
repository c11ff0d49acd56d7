"""Time is injected: every time-dependent rule (session time-outs, approval
windows, due dates, deadlines) asks this module, so tests can move time
instead of sleeping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FrozenClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._now = start

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += dt.timedelta(**delta)


_clock: Clock = SystemClock()


def now() -> dt.datetime:
    return _clock.now()


def install(clock: Clock) -> Clock:
    """Replace the process clock; returns the previous one so a test can restore it."""
    global _clock
    previous, _clock = _clock, clock
    return previous


@contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Run the block as if at `moment` (the demo seed writes the hospital's past),
    then put the previous clock back."""
    previous = install(FrozenClock(moment))
    try:
        yield
    finally:
        install(previous)
