"""Is a version affected? The OSV evaluation (ossf.github.io/osv-schema,
"Evaluation") over `univers` versions of the package's ecosystem:
explicit `versions` first, then each SEMVER / ECOSYSTEM range's events
(introduced, fixed, last_affected, limit) in version order. GIT ranges
are not evaluated (commit hashes are not versions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from univers import versions as uv

from safeward.patching import keys


def _event_version(scheme: type[uv.Version], value: str) -> uv.Version | None:
    return None if value == "0" else keys.parse_version(scheme, value)


@dataclass(frozen=True)
class CompiledRange:
    """One OSV range's events read once: its limits and its points in version order."""

    limits: tuple[uv.Version, ...]
    points: tuple[tuple[uv.Version | None, str], ...]  # (version, kind); None = "0"


def compile_range(scheme: type[uv.Version], events: Iterable[Mapping[str, Any]]) -> CompiledRange:
    limits: list[uv.Version] = []
    points: list[tuple[int, uv.Version | None, str]] = []  # (order, version, kind); None = "0"
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind not in event:
                continue
            raw = str(event[kind])
            # "0" is the sentinel "before every version" only for introduced.
            parsed = _event_version(scheme, raw) if kind == "introduced" else keys.parse_version(scheme, raw)
            if parsed is None and not (kind == "introduced" and raw == "0"):
                continue  # a version this scheme cannot read: ignore that event
            if kind == "limit":
                if parsed is not None:
                    limits.append(parsed)
                continue
            points.append((0 if parsed is None else 1, parsed, kind))
    # Sort by version, "0" (None) first; at equal versions keep the file order.
    return CompiledRange(tuple(limits), tuple((point, kind) for _, point, kind in _sorted(points)))


def in_compiled(version: uv.Version, compiled: CompiledRange) -> bool:
    if compiled.limits and not any(version < limit for limit in compiled.limits):
        return False
    affected = False
    for point, kind in compiled.points:
        if kind == "introduced":
            if point is None or version >= point:
                affected = True
        elif kind == "fixed":
            if point is not None and version >= point:
                affected = False
        elif kind == "last_affected" and point is not None and version > point:
            affected = False
    return affected


def in_range(version: uv.Version, scheme: type[uv.Version], events: Iterable[Mapping[str, Any]]) -> bool:
    """True when `version` is affected by one OSV range's events."""
    return in_compiled(version, compile_range(scheme, events))


def _sorted(points: list[tuple[int, uv.Version | None, str]]) -> list[tuple[int, uv.Version | None, str]]:
    zero = [p for p in points if p[1] is None]
    rest = [p for p in points if p[1] is not None]
    # univers versions compare among themselves; a stable sort keeps file order for ties.
    rest.sort(key=_VersionKey)
    return zero + rest


class _VersionKey:
    __slots__ = ("version",)

    def __init__(self, point: tuple[int, uv.Version | None, str]) -> None:
        self.version = point[1]

    def __lt__(self, other: _VersionKey) -> bool:
        return bool(self.version < other.version)  # type: ignore[operator]


class AffectedMatcher:
    """One affected entry with its ranges compiled once, for matching it against
    many component versions (the same entry meets every component of its name)."""

    __slots__ = ("listed", "ranges", "scheme")

    def __init__(self, key: str, ranges: Iterable[Mapping[str, Any]], versions: Iterable[str]) -> None:
        self.listed = set(versions)
        self.scheme = keys.scheme_for(key)
        self.ranges: list[tuple[type[uv.Version], CompiledRange]] = []
        for entry in ranges:
            range_scheme = uv.SemverVersion if entry.get("type") == "SEMVER" else self.scheme
            self.ranges.append((range_scheme, compile_range(range_scheme, entry.get("events") or [])))

    def affects(self, version: str) -> bool:
        if not version:
            return False
        if version in self.listed:
            return True
        if keys.parse_version(self.scheme, version) is None:
            return False  # not a version of this package's scheme
        for range_scheme, compiled in self.ranges:
            candidate = keys.parse_version(range_scheme, version)
            if candidate is not None and in_compiled(candidate, compiled):
                return True
        return False


def is_affected(key: str, version: str, ranges: Iterable[Mapping[str, Any]], versions: Iterable[str]) -> bool:
    """`version` of package `key` against one affected entry."""
    return AffectedMatcher(key, ranges, versions).affects(version)
