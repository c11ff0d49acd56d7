"""What campaigns need from the catalogs: a framework's assessable entries
(its leaves) with the clause each falls under, and whether an entry exists.
It reads `safeward.assessments.catalogs` (the catalog files and their
loader); tests may install a small catalog with `installed(...)`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from safeward.compliance import FRAMEWORKS


@dataclass(frozen=True)
class Entry:
    ref: str  # "<framework>:<entry id>"
    title: str
    clause_ref: str  # the top-level entry it falls under (itself when it has no parent)
    clause_title: str

    @property
    def framework(self) -> str:
        return self.ref.split(":", 1)[0]


class UnknownEntry(ValueError):
    pass


_installed: dict[str, list[Entry]] | None = None


def _from_loader() -> dict[str, list[Entry]]:
    from safeward.assessments.catalogs import catalog  # the catalog files' loader

    loaded = catalog()
    frameworks: dict[str, list[Entry]] = {}
    for key in FRAMEWORKS:
        framework = loaded.frameworks.get(key)
        if framework is None:
            continue
        entries = []
        for leaf in framework.leaves():
            try:
                clause = framework.clause_of(leaf.ref)
            except KeyError:  # a leaf above the clause level: its own clause
                clause = leaf
            entries.append(Entry(leaf.ref, leaf.title, clause.ref, clause.title))
        frameworks[key] = entries
    return frameworks


def _catalog() -> dict[str, list[Entry]]:
    return _installed if _installed is not None else _from_loader()


@contextmanager
def installed(entries: Iterable[Entry]) -> Iterator[None]:
    """Use `entries` as the catalog (tests and tools)."""
    global _installed
    previous = _installed
    frameworks: dict[str, list[Entry]] = {}
    for entry in entries:
        frameworks.setdefault(entry.framework, []).append(entry)
    _installed = frameworks
    try:
        yield
    finally:
        _installed = previous


def frameworks() -> list[tuple[str, str]]:
    """(key, name) of the frameworks that have assessable entries."""
    available = _catalog()
    return [(key, name) for key, name in FRAMEWORKS.items() if available.get(key)]


def framework_entries(framework: str) -> list[Entry]:
    return list(_catalog().get(framework, ()))


def entries(framework: str, refs: Iterable[str]) -> list[Entry]:
    """The chosen entries of `framework`, in catalog order; UnknownEntry names the first that is not one."""
    wanted = list(dict.fromkeys(refs))
    by_ref = {entry.ref: entry for entry in framework_entries(framework)}
    for ref in wanted:
        if ref not in by_ref:
            raise UnknownEntry(f"{ref} is not an assessable entry of {FRAMEWORKS.get(framework, framework)}.")
    chosen = set(wanted)
    return [entry for entry in by_ref.values() if entry.ref in chosen]
