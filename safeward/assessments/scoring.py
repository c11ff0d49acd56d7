"""Every framework's status from the control-test results (ADR 0900).

An entry's status, in this order:

1. tested: control tests whose `maps` name the entry; from each test's
   latest result, any failing resource not under a valid exception fails
   the entry, an error fails it, all passing passes it, and a pass that
   holds only through exceptions is "excepted";
2. via mapping: no test names it, but a catalog mapping links it to
   entries that are tested; their combined status, with each mapping's
   provenance kept;
3. by assessment: a maturity (0-3) from an assessment campaign, passed in
   by the caller (`maturity`); 2 or more counts as passing;
4. otherwise not assessed.

Per-clause tables group a framework's scored entries (its leaves) under
its clauses; every number in them is counted here, never typed. The score
is the mean of the assessed entries' values: pass and excepted 1, fail 0,
a maturity m counts m/3."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from safeward.assessments import selectors
from safeward.assessments.models import ControlResult, ControlRun

PASS = "pass"  # noqa: S105 - a status, not a password
FAIL = "fail"
EXCEPTED = "excepted"
MATURITY = "maturity"
NOT_ASSESSED = "not_assessed"

TESTED = "test"
VIA_MAPPING = "mapping"
ASSESSMENT = "assessment"

PASSING_MATURITY = 2
MAX_MATURITY = 3


def catalog() -> Any:
    from safeward.assessments.catalogs import catalog as load

    return load()


@dataclass(frozen=True)
class EntryStatus:
    ref: str
    id: str
    title: str
    status: str
    source: str  # TESTED, VIA_MAPPING, ASSESSMENT or ""
    controls: tuple[str, ...] = ()  # the tests that decided it
    via: tuple[tuple[str, str], ...] = ()  # (mapped entry ref, provenance)
    maturity: int | None = None

    @property
    def value(self) -> float | None:
        if self.status in (PASS, EXCEPTED):
            return 1.0
        if self.status == FAIL:
            return 0.0
        if self.status == MATURITY and self.maturity is not None:
            return self.maturity / MAX_MATURITY
        return None

    @property
    def passing(self) -> bool:
        return self.status == PASS or (self.status == MATURITY and (self.maturity or 0) >= PASSING_MATURITY)

    @property
    def failing(self) -> bool:
        return self.status == FAIL or (self.status == MATURITY and (self.maturity or 0) < PASSING_MATURITY)


@dataclass
class ClauseRow:
    id: str
    title: str
    entries: list[EntryStatus] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def passing(self) -> int:
        return sum(1 for e in self.entries if e.passing)

    @property
    def failing(self) -> int:
        return sum(1 for e in self.entries if e.failing)

    @property
    def excepted(self) -> int:
        return sum(1 for e in self.entries if e.status == EXCEPTED)

    @property
    def assessed(self) -> int:
        return sum(1 for e in self.entries if e.value is not None)

    @property
    def score(self) -> float | None:
        values = [e.value for e in self.entries if e.value is not None]
        return round(100 * sum(values) / len(values), 1) if values else None


@dataclass
class FrameworkTable:
    key: str
    name: str
    version: str
    rows: list[ClauseRow]

    @property
    def total(self) -> ClauseRow:
        return ClauseRow("", "All", [e for row in self.rows for e in row.entries])


def _combine(results: list[ControlResult]) -> str:
    outcomes = {r.outcome for r in results} - {ControlResult.Outcome.NOT_APPLICABLE}
    if not outcomes:
        return NOT_ASSESSED
    if outcomes & {ControlResult.Outcome.FAIL, ControlResult.Outcome.ERROR}:
        return FAIL
    if any(r.resources_excepted for r in results):
        return EXCEPTED
    return PASS


class Scorer:
    """Statuses of catalog entries from one set of latest results."""

    def __init__(
        self,
        *,
        results: Mapping[str, ControlResult] | None = None,
        run: ControlRun | None = None,
        maturity: Mapping[str, int] | None = None,
        catalog_: Any = None,
    ) -> None:
        self.catalog = catalog_ if catalog_ is not None else catalog()
        if results is None:
            results = (
                {r.control_id: r for r in run.results.all()}
                if run is not None
                else selectors.latest_results()
            )
        self.results = dict(results)
        self.maturity = dict(maturity or {})
        self.tested: dict[str, list[ControlResult]] = {}
        for result in self.results.values():
            for ref in result.maps:
                self.tested.setdefault(ref, []).append(result)
        self.links: dict[str, list[tuple[str, str]]] = {}
        for mapping in self.catalog.mappings:
            self.links.setdefault(mapping.source, []).append((mapping.target, mapping.provenance))
            self.links.setdefault(mapping.target, []).append((mapping.source, mapping.provenance))

    def _direct(self, ref: str) -> str:
        return _combine(self.tested.get(ref, []))

    def status(self, entry: Any) -> EntryStatus:
        ref = entry.ref
        base = {"ref": ref, "id": entry.id, "title": entry.title}
        direct = self._direct(ref)
        if direct != NOT_ASSESSED:
            controls = tuple(sorted(r.control_id for r in self.tested[ref]))
            return EntryStatus(**base, status=direct, source=TESTED, controls=controls)
        via = [
            (other, provenance)
            for other, provenance in self.links.get(ref, [])
            if self._direct(other) != NOT_ASSESSED
        ]
        if via:
            statuses = {self._direct(other) for other, _ in via}
            status = FAIL if FAIL in statuses else EXCEPTED if EXCEPTED in statuses else PASS
            controls = tuple(sorted({r.control_id for other, _ in via for r in self.tested[other]}))
            return EntryStatus(
                **base, status=status, source=VIA_MAPPING, controls=controls, via=tuple(sorted(via))
            )
        level = self.maturity.get(ref)
        if level is not None:
            if not 0 <= level <= MAX_MATURITY:
                raise ValueError(f"maturity for {ref} is {level}, not 0-3")
            return EntryStatus(**base, status=MATURITY, source=ASSESSMENT, maturity=level)
        return EntryStatus(**base, status=NOT_ASSESSED, source="")

    def table(self, key: str) -> FrameworkTable:
        framework = self.catalog.frameworks[key]
        rows = {clause.ref: ClauseRow(clause.id, clause.title) for clause in framework.clauses()}
        for leaf in framework.leaves():
            try:
                clause = framework.clause_of(leaf.ref)
            except KeyError:  # a childless entry above the clause level: no row holds it
                continue
            rows[clause.ref].entries.append(self.status(leaf))
        return FrameworkTable(framework.key, framework.name, framework.version, list(rows.values()))


def framework_table(
    key: str,
    maturity: Mapping[str, int] | None = None,
    *,
    run: ControlRun | None = None,
    catalog_: Any = None,
) -> FrameworkTable:
    """`key`'s per-clause table from each control's latest result (or from
    `run`'s results), with `maturity` (0-3 by entry ref) for untested entries."""
    return Scorer(run=run, maturity=maturity, catalog_=catalog_).table(key)


def framework_tables(
    maturity: Mapping[str, int] | None = None, *, catalog_: Any = None
) -> list[FrameworkTable]:
    scorer = Scorer(maturity=maturity, catalog_=catalog_)
    return [scorer.table(key) for key in scorer.catalog.frameworks]
