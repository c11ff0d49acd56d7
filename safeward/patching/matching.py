"""Is a version affected? The OSV evaluation (ossf.github.io/osv-schema,
"Evaluation") over `univers` versions of the package's ecosystem:
explicit `versions` first, then each SEMVER / ECOSYSTEM range's events
(introduced, fixed, last_affected, limit) in version order. GIT ranges
are not evaluated (commit hashes are not versions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from univers import versions as uv

from safeward.patching import keys


def _event_version(scheme: type[uv.Version], value: str) -> uv.Version | None:
    return None if value == "0" else keys.parse_version(scheme, value)


def in_range(version: uv.Version, scheme: type[uv.Version], events: Iterable[Mapping[str, Any]]) -> bool:
    """True when `version` is affected by one OSV range's events."""
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
    if limits and not any(version < limit for limit in limits):
        return False
    # Sort by version, "0" (None) first; at equal versions keep the file order.
    ordered = _sorted(points)
    affected = False
    for _, point, kind in ordered:
        if kind == "introduced":
            if point is None or version >= point:
                affected = True
        elif kind == "fixed":
            if point is not None and version >= point:
                affected = False
        elif kind == "last_affected" and point is not None and version > point:
            affected = False
    return affected


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


def is_affected(key: str, version: str, ranges: Iterable[Mapping[str, Any]], versions: Iterable[str]) -> bool:
    """`version` of package `key` against one affected entry."""
    if not version:
        return False
    listed = set(versions)
    if version in listed:
        return True
    scheme = keys.scheme_for(key)
    parsed = keys.parse_version(scheme, version)
    if parsed is None:
        return False
    for entry in ranges:
        kind = entry.get("type")
        range_scheme = uv.SemverVersion if kind == "SEMVER" else scheme
        candidate = parsed if range_scheme is scheme else keys.parse_version(range_scheme, version)
        if candidate is None:
            continue
        if in_range(candidate, range_scheme, entry.get("events") or []):
            return True
    return False
