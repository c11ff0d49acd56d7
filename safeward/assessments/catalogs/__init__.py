"""Control catalogs as data (issue 18, ADR 0910).

One JSON file per framework (`<key>.json`, keys as in `safeward.compliance.FRAMEWORKS`)
and one per mapping (`mappings/<key>.json`), each validated against its JSON Schema
(`schema.json`, `mapping-schema.json`) and then checked as a whole: no duplicate id,
every parent, reference and mapping end exists. `catalog()` reads the files once per
process; `load(directory)` reads any directory and raises `CatalogError` listing every
problem, each naming its file and entry.

Entries are named by reference, `<framework>:<entry id>` (`hipaa:164.312(d)`,
`hicp:3.M.A`, `csf2:PR.AA-03`), the same strings control tests put in `maps`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from safeward.compliance import ENTRY_REF, FRAMEWORKS

DIRECTORY = Path(__file__).resolve().parent
CATALOG_SCHEMA = "schema.json"
MAPPING_SCHEMA = "mapping-schema.json"
MAPPINGS = "mappings"


class CatalogError(ValueError):
    """The catalog files are not usable; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} catalog error(s):\n" + "\n".join(f"  {error}" for error in errors))


@dataclass(frozen=True)
class Entry:
    """One row of a framework: a HIPAA standard, a HICP sub-practice, an ISO control..."""

    framework: str
    id: str
    ref: str  # f"{framework}:{id}"
    title: str
    kind: str  # section/standard/specification, practice/sub-practice, theme/control, ...
    parent: str | None  # the parent's ref
    requirement: str | None  # HIPAA specifications: "required" or "addressable"
    text: str
    references: tuple[str, ...]  # refs this entry cites in its own source (HICP -> CSF)


@dataclass(frozen=True)
class Mapping:
    source: str  # ref
    target: str  # ref
    provenance: str  # key of the mapping file


@dataclass(frozen=True)
class MappingSet:
    """One mapping file's header: where its pairs come from."""

    key: str
    name: str
    source_framework: str
    target_framework: str
    provenance: MappingType[str, Any]


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    version: str
    source: MappingType[str, str]  # title, url, date, publisher
    licence: str
    clause_kind: str  # the kind of entry that makes one row of the per-clause table
    entries: tuple[Entry, ...]  # document order
    tables: MappingType[str, Any] = field(default_factory=dict)  # HICP's tables that become settings
    _by_ref: dict[str, Entry] = field(init=False, repr=False, compare=False)
    _children: dict[str, tuple[Entry, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        children: dict[str, list[Entry]] = {}
        for entry in self.entries:
            if entry.parent is not None:
                children.setdefault(entry.parent, []).append(entry)
        object.__setattr__(self, "_by_ref", {entry.ref: entry for entry in self.entries})
        object.__setattr__(self, "_children", {ref: tuple(rows) for ref, rows in children.items()})

    def entry(self, ref: str) -> Entry:
        """The entry `ref` of this framework; KeyError when it has none."""
        return self._by_ref[ref]

    def children(self, ref: str) -> tuple[Entry, ...]:
        return self._children.get(ref, ())

    def clauses(self) -> tuple[Entry, ...]:
        """The rows of this framework's per-clause table, in document order."""
        return tuple(entry for entry in self.entries if entry.kind == self.clause_kind)

    def clause_of(self, ref: str) -> Entry:
        """The clause `ref` falls under (itself when it is one). KeyError for an
        unknown ref or one above the clause level (a HIPAA section)."""
        entry: Entry | None = self._by_ref[ref]
        while entry is not None:
            if entry.kind == self.clause_kind:
                return entry
            entry = self._by_ref[entry.parent] if entry.parent is not None else None
        raise KeyError(f"{ref} is above the {self.clause_kind} level of {self.key}")

    def leaves(self) -> tuple[Entry, ...]:
        """Entries with no children: what a control test or an assessment answers."""
        return tuple(entry for entry in self.entries if entry.ref not in self._children)


@dataclass(frozen=True)
class Catalog:
    frameworks: dict[str, Framework]
    mappings: tuple[Mapping, ...]
    mapping_sets: dict[str, MappingSet] = field(default_factory=dict)
    _entries: dict[str, Entry] = field(init=False, repr=False, compare=False)
    _to: dict[str, set[str]] = field(init=False, repr=False, compare=False)
    _from: dict[str, set[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries = {e.ref: e for framework in self.frameworks.values() for e in framework.entries}
        to: dict[str, set[str]] = {}
        from_: dict[str, set[str]] = {}
        for mapping in self.mappings:
            to.setdefault(mapping.source, set()).add(mapping.target)
            from_.setdefault(mapping.target, set()).add(mapping.source)
        object.__setattr__(self, "_entries", entries)
        object.__setattr__(self, "_to", to)
        object.__setattr__(self, "_from", from_)

    def entry(self, ref: str) -> Entry:
        """The entry named `ref` (`hipaa:164.312(d)`); KeyError when no catalog has it."""
        try:
            return self._entries[ref]
        except KeyError:
            raise KeyError(f"no catalog entry {ref!r}") from None

    def exists(self, ref: str) -> bool:
        return ref in self._entries

    def mapped_to(self, ref: str) -> set[str]:
        """Refs that `ref` maps to (it is the mapping's source)."""
        return set(self._to.get(ref, ()))

    def mapped_from(self, ref: str) -> set[str]:
        """Refs that map to `ref` (it is the mapping's target)."""
        return set(self._from.get(ref, ()))

    def mappings_of(self, ref: str) -> Iterator[Mapping]:
        """Every mapping with `ref` at either end, with its provenance."""
        return (m for m in self.mappings if ref in (m.source, m.target))


def _read(path: Path, errors: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        errors.append(f"{path.name}: cannot read: {error.strerror}")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        errors.append(f"{path.name}: not valid JSON: {error}")
    return None


def _schema_errors(name: str, data: Any, schema: MappingType[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = _where(data, list(error.absolute_path))
        problems.append(f"{name}: {where}schema: {error.message}")
    return problems


def _where(data: Any, path: list[Any]) -> str:
    """'entry 'A.5.1': ' when the schema error is inside an entry, to name its id."""
    if len(path) >= 2 and path[0] in ("entries", "mappings") and isinstance(path[1], int):
        try:
            row = data[path[0]][path[1]]
        except (KeyError, IndexError, TypeError):
            return ""
        if isinstance(row, dict):
            label = row.get("id") or f"{row.get('source')} -> {row.get('target')}"
            kind = "entry" if path[0] == "entries" else "mapping"
            rest = "/".join(map(str, path[2:]))
            return f"{kind} {label!r}{' ' + rest if rest else ''}: "
    return f"{'/'.join(map(str, path))}: " if path else ""


def _framework(name: str, data: dict[str, Any], errors: list[str]) -> Framework | None:
    key = data["key"]
    if key not in FRAMEWORKS:
        errors.append(f"{name}: key {key!r} is not a framework of safeward.compliance.FRAMEWORKS")
        return None
    if name != f"{key}.json":
        errors.append(f"{name}: key {key!r} does not match the file name (expected {key}.json)")
        return None
    seen: set[str] = set()
    entries = []
    for row in data["entries"]:
        id_ = row["id"]
        if id_ in seen:
            errors.append(f"{name}: entry {id_!r}: duplicate id")
            continue
        parent = row["parent"]
        if parent is not None and parent not in seen:
            errors.append(f"{name}: entry {id_!r}: parent {parent!r} is not an earlier entry of {key}")
        seen.add(id_)
        entries.append(
            Entry(
                framework=key,
                id=id_,
                ref=f"{key}:{id_}",
                title=row["title"],
                kind=row["kind"],
                parent=f"{key}:{parent}" if parent is not None else None,
                requirement=row.get("requirement"),
                text=row.get("text", ""),
                references=tuple(row.get("references", ())),
            )
        )
    if not any(entry.kind == data["clause_kind"] for entry in entries):
        errors.append(f"{name}: clause_kind {data['clause_kind']!r} names no entry's kind")
    return Framework(
        key=key,
        name=data["name"],
        version=data["version"],
        source=data["source"],
        licence=data["licence"],
        clause_kind=data["clause_kind"],
        entries=tuple(entries),
        tables=data.get("tables", {}),
    )


def load(directory: Path = DIRECTORY) -> Catalog:
    """Read, validate and cross-check every catalog and mapping file in `directory`."""
    errors: list[str] = []
    catalog_schema = _read(directory / CATALOG_SCHEMA, errors)
    mapping_schema = _read(directory / MAPPING_SCHEMA, errors)
    if errors:
        raise CatalogError(errors)

    frameworks: dict[str, Framework] = {}
    schemas = {CATALOG_SCHEMA, MAPPING_SCHEMA}
    for path in sorted(p for p in directory.glob("*.json") if p.name not in schemas):
        data = _read(path, errors)
        if data is None:
            continue
        problems = _schema_errors(path.name, data, catalog_schema)
        errors.extend(problems)
        if not problems and (framework := _framework(path.name, data, errors)) is not None:
            frameworks[framework.key] = framework
    for key in sorted(set(FRAMEWORKS) - set(frameworks)):
        if not any(error.startswith(f"{key}.json:") for error in errors):
            errors.append(
                f"{key}.json: missing: every framework of safeward.compliance.FRAMEWORKS needs a catalog"
            )

    def exists(ref: str) -> bool:
        """True also for refs into a catalog that failed above: its error is reported once."""
        match = ENTRY_REF.match(ref)
        if match is None:
            return False
        framework = frameworks.get(match["framework"])
        if framework is None:
            return match["framework"] in FRAMEWORKS
        return ref in framework._by_ref

    for framework in frameworks.values():
        for entry in framework.entries:
            for ref in entry.references:
                if not exists(ref):
                    errors.append(
                        f"{framework.key}.json: entry {entry.id!r}: reference {ref!r} does not exist"
                    )

    mappings: list[Mapping] = []
    sets: dict[str, MappingSet] = {}
    for path in sorted((directory / MAPPINGS).glob("*.json")):
        name = f"{MAPPINGS}/{path.name}"
        data = _read(path, errors)
        if data is None:
            continue
        problems = _schema_errors(name, data, mapping_schema)
        errors.extend(problems)
        if problems:
            continue
        key = data["key"]
        if path.name != f"{key}.json":
            errors.append(f"{name}: key {key!r} does not match the file name (expected {key}.json)")
            continue
        pairs: set[tuple[str, str]] = set()
        for row in data["mappings"]:
            pair = (row["source"], row["target"])
            label = f"mapping {row['source']} -> {row['target']}"
            if pair in pairs:
                errors.append(f"{name}: {label}: duplicate")
                continue
            pairs.add(pair)
            for end, ref, framework_key in (
                ("source", row["source"], data["source_framework"]),
                ("target", row["target"], data["target_framework"]),
            ):
                if not ref.startswith(f"{framework_key}:"):
                    errors.append(f"{name}: {label}: {end} is not in {framework_key}")
                elif not exists(ref):
                    errors.append(f"{name}: {label}: {end} {ref!r} does not exist")
            mappings.append(Mapping(source=row["source"], target=row["target"], provenance=key))
        sets[key] = MappingSet(
            key=key,
            name=data["name"],
            source_framework=data["source_framework"],
            target_framework=data["target_framework"],
            provenance=data["provenance"],
        )
    if errors:
        raise CatalogError(errors)
    ordered = {key: frameworks[key] for key in FRAMEWORKS}
    return Catalog(frameworks=ordered, mappings=tuple(mappings), mapping_sets=sets)


@functools.cache
def catalog() -> Catalog:
    """SafeWard's catalogs, read and validated once per process."""
    return load(DIRECTORY)
