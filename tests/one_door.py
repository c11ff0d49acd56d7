"""The runtime half of the one-door rule (placeholder, completed with the guard)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def clinical_test_data() -> Iterator[None]:
    yield
