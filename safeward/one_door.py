"""Who is inside the one door to patient data right now.

The clinical gateway marks the dynamic extent of each of its entry points
(`@entry`), and the crypto app marks its key maintenance, which counts and
re-encrypts ciphertext in every table (`@entry` on `keys_reencrypt` and `keyring_status`). Production
only pays a context variable set and reset per call; the test suite's
runtime guard (tests/one_door.py) fails any statement on a clinical table
issued while nothing is inside (ADR 0546). A project-level module, not an
app's: both the gateway and crypto mark, and crypto must not import clinical.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("safeward_one_door", default=None)


def current() -> str | None:
    """The name of the entry point whose extent this is, or None."""
    return _current.get()


@contextmanager
def inside(name: str) -> Iterator[None]:
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def entry[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Mark a gateway function as an entry point of the one door."""
    name = f"{func.__module__}.{func.__qualname__}"

    @functools.wraps(func)
    def marked(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _current.set(name)
        try:
            return func(*args, **kwargs)
        finally:
            _current.reset(token)

    marked.one_door_entry = True  # type: ignore[attr-defined]
    return marked
