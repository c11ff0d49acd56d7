"""Where maturity for untested catalog entries comes from (ADR 0900).

Scoring takes a `{entry ref: 0-3}` mapping; assessment campaigns register a
source of it here (in their AppConfig.ready), so the runner's pages and
reports need not know the campaigns. With no source registered, untested
entries not reached by a mapping are "not assessed"."""

from __future__ import annotations

from collections.abc import Callable, Mapping

MaturitySource = Callable[[], Mapping[str, int]]

_sources: list[MaturitySource] = []


def register_maturity_source(source: MaturitySource) -> None:
    if source not in _sources:
        _sources.append(source)


def current_maturity() -> dict[str, int]:
    """Every registered source's maturity by entry ref; a later source wins."""
    merged: dict[str, int] = {}
    for source in _sources:
        merged.update(source())
    return merged
