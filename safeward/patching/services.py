"""Every write of the patching app: inventories, advisory feeds, matching,
findings, deadlines and exceptions. Each takes `actor` (keyword-only), runs
in one transaction and records its audit event inside it; imports are all
or nothing (ADR 1300)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.patching import deadlines, feeds, matching, sbom
from safeward.patching.compensating import control_check, control_checks, refs_of
from safeward.patching.models import (
    SEVERITY_RANK,
    Advisory,
    AdvisoryAlias,
    AffectedPackage,
    Component,
    DeadlinePolicy,
    DeadlineSettings,
    EpssScore,
    Finding,
    Inventory,
    KevEntry,
    PatchPlan,
    RiskException,
    Target,
)

FINDING = "VulnFinding"
INVENTORY = "SoftwareInventory"
ADVISORY_FEED = "AdvisoryFeed"
EXCEPTION = "VulnException"
EXCEPTION_VOIDED_CHECK = "exception_voided"
PLAN = "PatchPlan"
MAX_WINDOW_HOURS = 72
MAX_PLAN_FINDINGS = 500
# The change process's reference: CHG0031234, RFC-2026-114, ops/chg/77.
CHANGE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{1,39}")
MAX_EXCEPTION_DAYS = 366
Progress = Callable[[int], None]


class PatchingError(Exception):
    """A refused operation; the message is safe to show. `status` is the
    HTTP status the API answers with (400 bad input, 403 not this person,
    404 unknown, 409 stale or no longer valid); `fields` names the input
    each problem of a 400 is about, when the service knows it."""

    status = 400

    def __init__(
        self, message: str, errors: Sequence[str] = (), *, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.errors = list(errors) or [message]
        self.fields = dict(fields or {})


class NotPermitted(PatchingError):
    status = 403


class UnknownObject(PatchingError):
    status = 404


class Conflict(PatchingError):
    status = 409


def _require(actor: User | None, perm: Perm) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise NotPermitted("You may not do this.")


def _audit(action: Action, actor: User | None, resource: str, resource_id: Any, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=actor,
        resource_type=resource,
        resource_id=resource_id,
        purpose=PurposeOfUse.OPERATIONS,
        detail=detail,
    )


# --- targets and their exposure ------------------------------------------------------------------


@dataclass(frozen=True)
class TargetFacts:
    kind: str
    id: int
    label: str
    zone: str
    department_ids: tuple[int, ...] = ()
    patient_impact: tuple[str, ...] = ()
    medical: bool = False
    device_class: str = ""
    owner_user_id: int | None = None


def target_facts(*, kind: str, target_id: int) -> TargetFacts | None:
    return targets_facts(keys=[(kind, target_id)]).get((kind, target_id))


def targets_facts(*, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], TargetFacts | None]:
    """The facts of many targets at once: a fixed number of queries however many
    targets a page lists (the plans list and the "Plan a patch" targets)."""
    wanted = set(keys)
    found: dict[tuple[str, int], TargetFacts | None] = dict.fromkeys(wanted)
    asset_ids = [pk for kind, pk in wanted if kind == Target.ASSET]
    device_ids = [pk for kind, pk in wanted if kind == Target.DEVICE]
    if asset_ids:
        from safeward.assets import selectors as assets

        for asset, dependents in assets.assets_with_dependents(asset_ids=asset_ids).values():
            found[(Target.ASSET.value, asset.pk)] = _asset_facts(asset, dependents)
    if device_ids:
        from safeward.devices import selectors as devices

        for device in devices.devices_by_ids(device_ids=device_ids).values():
            medical = device.kind == "medical"
            found[(Target.DEVICE.value, device.pk)] = TargetFacts(
                kind=Target.DEVICE.value,
                id=device.pk,
                label=device.name or device.asset_tag,
                zone=device.segment.zone if device.segment is not None else "",
                department_ids=(device.department_id,) if device.department_id else (),
                patient_impact=("bedside medical device",) if medical else (),
                medical=medical,
                device_class=device.kind,
            )
    return found


def _asset_facts(asset: Any, dependents: Sequence[Any]) -> TargetFacts:
    impact = [str(s) for s in asset.clinical_services or []]
    departments = [int(d) for d in asset.department_ids or [] if isinstance(d, int)]
    for dependent in dependents:
        services = [str(s) for s in dependent.clinical_services or []]
        impact.extend(f"{s} (via {dependent.name})" for s in services)
        departments.extend(int(d) for d in dependent.department_ids or [] if isinstance(d, int))
    if departments and not impact:
        impact.append(f"{len(set(departments))} department(s) rely on it")
    return TargetFacts(
        kind=Target.ASSET.value,
        id=asset.pk,
        label=asset.name,
        zone=asset.network_zone,
        department_ids=tuple(sorted(set(departments))),
        patient_impact=tuple(dict.fromkeys(impact)),
        device_class=asset.kind,
    )


def deadline_rules() -> deadlines.Rules:
    table = dict(deadlines.HICP_TABLE_8)
    for row in DeadlinePolicy.objects.all():
        table[(row.severity, row.exposure)] = row.days
    stored = DeadlineSettings.objects.first() or DeadlineSettings()
    return deadlines.Rules(
        table=table,
        kev_escalates_to_critical=stored.kev_escalates_to_critical,
        kev_max_days=stored.kev_max_days,
        ransomware_max_days=stored.ransomware_max_days,
        epss_percentile=Decimal(str(stored.epss_percentile)),
        epss_max_days=stored.epss_max_days,
        patient_impact_factor=Decimal(str(stored.patient_impact_factor)),
        medical_mitigation_days=stored.medical_mitigation_days,
        medical_fix_days=stored.medical_fix_days,
        discretion_days=stored.discretion_days,
    )


_FEED_CACHE: dict[str, tuple[KevEntry | None, EpssScore | None]] | None = None


@contextmanager
def _feeds_cached(preload: Sequence[Finding] = ()) -> Iterator[None]:
    """Within it `_kev_epss` looks each vulnerability up once; the vulnerabilities
    of `preload` are read beforehand in two queries per chunk of CVE ids, so a
    recompute of many findings does not ask two questions per finding."""
    global _FEED_CACHE
    _FEED_CACHE = {}
    try:
        cves = {f.vuln_id: list(f.cve_ids or f.advisory.cve_ids) for f in preload}
        wanted = {cve for ids in cves.values() for cve in ids}
        kev: dict[str, KevEntry] = {}
        epss: dict[str, EpssScore] = {}
        for chunk in _chunks(wanted):
            kev.update((row.cve_id, row) for row in KevEntry.objects.filter(cve_id__in=chunk))
            epss.update((row.cve_id, row) for row in EpssScore.objects.filter(cve_id__in=chunk))
        for vuln_id, ids in cves.items():
            kevs = [kev[cve] for cve in ids if cve in kev]
            scores = [epss[cve] for cve in ids if cve in epss]
            # As `_kev_epss` picks: the earliest KEV due date, the highest EPSS percentile.
            _FEED_CACHE[vuln_id] = (
                min(kevs, key=lambda row: (row.due_date, row.cve_id)) if kevs else None,
                max(scores, key=lambda row: (row.percentile, row.cve_id)) if scores else None,
            )
        yield
    finally:
        _FEED_CACHE = None


def _kev_epss(cve_ids: Iterable[str], vuln_id: str = "") -> tuple[KevEntry | None, EpssScore | None]:
    """The KEV entry and EPSS score of a vulnerability's CVEs (every alias its
    records carry); inside `_feeds_cached()` each vulnerability is looked up
    once (a match creating thousands of findings)."""
    if _FEED_CACHE is not None and vuln_id in _FEED_CACHE:
        return _FEED_CACHE[vuln_id]
    ids = list(cve_ids)
    if not ids:
        found: tuple[KevEntry | None, EpssScore | None] = (None, None)
    else:
        found = (
            KevEntry.objects.filter(cve_id__in=ids).order_by("due_date").first(),
            EpssScore.objects.filter(cve_id__in=ids).order_by("-percentile").first(),
        )
    if _FEED_CACHE is not None and vuln_id:
        _FEED_CACHE[vuln_id] = found
    return found


def _apply_deadline(finding: Finding, facts: TargetFacts, rules: deadlines.Rules) -> bool:
    """Set the finding's severity, KEV flag, dates and reasons; True when anything moved."""
    advisory = finding.advisory
    kev, epss = _kev_epss(finding.cve_ids or advisory.cve_ids, finding.vuln_id)
    result = deadlines.compute(
        deadlines.Facts(
            severity=advisory.severity,
            zone=facts.zone,
            detected_at=finding.detected_at,
            kev_due=kev.due_date if kev else None,
            ransomware=bool(kev and kev.ransomware),
            epss_percentile=Decimal(str(epss.percentile)) if epss else None,
            patient_impact=facts.patient_impact,
            medical=facts.medical,
        ),
        rules,
    )
    before = (finding.severity, finding.kev, finding.due_at, finding.mitigation_due_at, finding.due_inputs)
    finding.severity = result.severity
    finding.kev = kev is not None
    finding.due_at = result.due_at
    finding.mitigation_due_at = result.mitigation_due_at
    finding.due_reasons = result.reasons
    finding.due_inputs = result.inputs
    finding.department_ids = list(facts.department_ids)
    finding.device_class = facts.device_class[:20]
    return before != (
        finding.severity,
        finding.kev,
        finding.due_at,
        finding.mitigation_due_at,
        finding.due_inputs,
    )


# What a recompute reads of a finding and its advisory, and what it writes back. A
# profile (bench/README.md) put three quarters of a recompute in building whole rows:
# eight JSON columns decoded and seven dates parsed per finding, most never read.
_RECOMPUTE_READS = (
    "target_kind",
    "target_id",
    "state",
    "vuln_id",
    "vuln_ids",
    "detected_at",
    "severity",
    "kev",
    "due_at",
    "mitigation_due_at",
    "due_inputs",
    "advisory__severity",
    "advisory__cve_ids",
)
_RECOMPUTE_WRITES = (
    "severity",
    "kev",
    "due_at",
    "mitigation_due_at",
    "due_reasons",
    "due_inputs",
    "department_ids",
    "device_class",
    "updated_at",
)


def findings_recompute(*, actor: User | None, findings: Iterable[Finding] | None = None) -> int:
    """Recompute the due dates of `findings` (every unresolved one when None)
    from today's severity, KEV, EPSS, zone and patient impact. Returns how
    many moved; each move is audited with the old and new date."""
    rules = deadline_rules()
    moved = 0
    with transaction.atomic():
        if findings is None:
            findings = Finding.objects.filter(state__in=Finding.OPEN_STATES)
        if isinstance(findings, QuerySet):
            findings = findings.select_related("advisory").only(*_RECOMPUTE_READS)
        rows = [finding for finding in findings if finding.state in Finding.OPEN_STATES]
        # Every target's facts and every vulnerability's KEV/EPSS in a fixed number of
        # queries, not a lookup per target and two per finding (issue 17).
        facts_of = targets_facts(keys={(f.target_kind, f.target_id) for f in rows})
        with _feeds_cached(rows):
            for finding in rows:
                facts = facts_of[(finding.target_kind, finding.target_id)]
                if facts is None:
                    continue
                old = finding.due_at
                if not _apply_deadline(finding, facts, rules):
                    continue
                finding.updated_at = clock.now()
                finding.save(update_fields=_RECOMPUTE_WRITES)
                moved += 1
                _audit(
                    Action.UPDATE,
                    actor,
                    FINDING,
                    finding.pk,
                    check="due_recomputed",
                    old_due=old.isoformat() if old else None,
                    new_due=finding.due_at.isoformat() if finding.due_at else None,
                )
    return moved


# --- matching ------------------------------------------------------------------------------------


@dataclass
class MatchStats:
    created: int = 0
    reopened: int = 0
    resolved: int = 0
    unchanged: int = 0
    dropped: int = 0
    evaluated: int = 0
    finding_ids: list[int] = field(default_factory=list)


def _affected_index(
    keys_wanted: Iterable[str], advisory_ids: Iterable[int] | None = None
) -> dict[str, list[AffectedPackage]]:
    rows = AffectedPackage.objects.filter(match_key__in=set(keys_wanted), advisory__withdrawn__isnull=True)
    if advisory_ids is not None:
        rows = rows.filter(advisory_id__in=set(advisory_ids))
    index: dict[str, list[AffectedPackage]] = defaultdict(list)
    # Only what matching reads: the advisory's summary, references and aliases are not
    # decoded for every row (they were a third of an incremental match).
    for row in rows.select_related("advisory").only(
        "match_key", "ranges", "versions", "advisory_id", "advisory__vuln_id", "advisory__osv_id"
    ):
        index[row.match_key].append(row)
    return index


def _matches(
    components: Iterable[Component], index: dict[str, list[AffectedPackage]], stats: MatchStats
) -> dict[tuple[str, str, str], Component]:
    """(component key, version, vulnerability id) -> component, for the ones that
    match: the purl / ecosystem key first, the CPE key only when the first found
    no advisory entry at all. Records of one vulnerability (GHSA, PYSEC, CVE…)
    make one match (ADR 1307)."""
    from safeward.patching.keys import cpe_key

    found: dict[tuple[str, str, str], Component] = {}
    # Each entry's ranges are compiled once for all the components it meets (ADR 1307).
    matchers: dict[tuple[int, str], matching.AffectedMatcher] = {}
    for component in components:
        candidates = index.get(component.match_key, [])
        key = component.match_key
        if not candidates and component.cpe:
            cpe = cpe_key(component.cpe)
            if cpe is not None:
                candidates = index.get(cpe[0], [])
                key = cpe[0]
        for row in candidates:
            vuln_id = row.advisory.vuln_id or row.advisory.osv_id
            hit = (component.match_key, component.version, vuln_id)
            if hit in found:
                continue  # another record of the same vulnerability matched already
            stats.evaluated += 1
            matcher = matchers.get((row.pk, key))
            if matcher is None:
                matcher = matchers[(row.pk, key)] = matching.AffectedMatcher(key, row.ranges, row.versions)
            if matcher.affects(component.version):
                found[hit] = component
    return found


def _component_keys(components: Iterable[Component]) -> set[str]:
    from safeward.patching.keys import cpe_key

    wanted = set()
    for component in components:
        wanted.add(component.match_key)
        if component.cpe:
            cpe = cpe_key(component.cpe)
            if cpe is not None:
                wanted.add(cpe[0])
    return wanted


def _upsert_findings(
    *,
    actor: User | None,
    target: TargetFacts,
    hits: dict[tuple[str, str, str], Component],
    stats: MatchStats,
    rules: deadlines.Rules,
) -> None:
    with _feeds_cached():
        _upsert(actor=actor, target=target, hits=hits, stats=stats, rules=rules, now=clock.now())


def _upsert(
    *,
    actor: User | None,
    target: TargetFacts,
    hits: dict[tuple[str, str, str], Component],
    stats: MatchStats,
    rules: deadlines.Rules,
    now: dt.datetime,
) -> None:
    created: list[Finding] = []
    groups = _groups({k[2] for k in hits})
    existing = {
        (f.component_key, f.component_version, f.vuln_id): f
        for f in Finding.objects.filter(
            target_kind=target.kind,
            target_id=target.id,
            component_key__in={k[0] for k in hits},
            vuln_id__in=groups.keys(),
        ).select_related("advisory")
    }
    for hit_key, component in hits.items():
        if hit_key[2] not in groups:
            continue  # every record of it was withdrawn meanwhile
        advisory, ids = groups[hit_key[2]]
        finding = existing.get(hit_key)
        if finding is None:
            finding = Finding(
                target_kind=target.kind,
                target_id=target.id,
                component_key=component.match_key,
                component_name=component.name[:300],
                component_version=component.version,
                purl=component.purl[:1000],
                advisory=advisory,
                vuln_id=hit_key[2],
                vuln_ids=ids,
                detected_at=now,
                updated_at=now,
            )
            _apply_deadline(finding, target, rules)
            created.append(finding)
            continue
        if finding.state in (Finding.State.RESOLVED, Finding.State.RESOLVED_WITH_PEDIGREE):
            finding.state = Finding.State.IN_TRIAGE
            finding.resolved_at = None
            finding.detected_at = now
            finding.reopened_count += 1
            finding.detail = f"Detected again on {now:%Y-%m-%d}; the clock restarted."
            _apply_deadline(finding, target, rules)
            finding.updated_at = now
            finding.save()
            stats.reopened += 1
            _audit(Action.UPDATE, actor, FINDING, finding.pk, check="reopened", advisory=finding.vuln_id)
        else:
            stats.unchanged += 1
        stats.finding_ids.append(finding.pk)
    if created:
        # One statement for the new findings and one audit event naming them (a large
        # inventory makes thousands at once; ADR 1302).
        Finding.objects.bulk_create(created, batch_size=1000)
        stats.created += len(created)
        stats.finding_ids.extend(f.pk for f in created)
        _audit(
            Action.CREATE,
            actor,
            FINDING,
            created[0].pk,
            check="detected",
            target=f"{target.kind}:{target.id}",
            findings=[f.pk for f in created[:2000]],
            advisories=sorted({f.vuln_id for f in created})[:500],
            count=len(created),
        )


def inventory_match(*, actor: User | None, inventory: Inventory, resolve_missing: bool = True) -> MatchStats:
    """Match one inventory against the advisories for its names only; findings
    of the target that the inventory no longer shows resolve themselves."""
    stats = MatchStats()
    target = target_facts(kind=inventory.target_kind, target_id=inventory.target_id)
    if target is None:
        return stats
    components = list(inventory.components.all())
    index = _affected_index(_component_keys(components))
    hits = _matches(components, index, stats)
    with transaction.atomic():
        _upsert_findings(actor=actor, target=target, hits=hits, stats=stats, rules=deadline_rules())
        if resolve_missing:
            now = clock.now()
            gone = Finding.objects.filter(
                target_kind=target.kind, target_id=target.id, state__in=Finding.OPEN_STATES
            ).exclude(pk__in=stats.finding_ids)
            for finding in gone:
                finding.state = Finding.State.RESOLVED
                finding.resolved_at = now
                finding.excepted = False
                finding.detail = f"Inventory {inventory.pk} no longer shows an affected version."
                finding.updated_at = now
                finding.save()
                stats.resolved += 1
                _audit(
                    Action.UPDATE,
                    actor,
                    FINDING,
                    finding.pk,
                    check="resolved_by_inventory",
                    inventory=inventory.pk,
                )
            if stats.resolved:
                _plans_verify(actor=actor, target_kind=target.kind, target_id=target.id, now=now)
    return stats


def advisories_match(*, actor: User | None, advisory_ids: Iterable[int]) -> MatchStats:
    """Match changed advisories against only the current components with their names."""
    stats = MatchStats()
    advisory_ids = set(advisory_ids)
    if not advisory_ids:
        return stats
    # A changed record re-matches its whole vulnerability: the other records of it
    # may still cover a version this one no longer does.
    vuln_ids = set(Advisory.objects.filter(pk__in=advisory_ids).values_list("vuln_id", flat=True))
    advisory_ids |= set(
        Advisory.objects.filter(vuln_id__in=vuln_ids, withdrawn__isnull=True).values_list("pk", flat=True)
    )
    affected_keys = set(
        AffectedPackage.objects.filter(advisory_id__in=advisory_ids).values_list("match_key", flat=True)
    )
    index = _affected_index(affected_keys, advisory_ids)
    components = Component.objects.filter(
        inventory__current=True, match_key__in=affected_keys
    ).select_related("inventory")
    cpe_keys = {k for k in affected_keys if k.startswith("cpe:")}
    if cpe_keys:
        components = components | Component.objects.filter(inventory__current=True).exclude(
            cpe=""
        ).select_related("inventory")
    by_target: dict[tuple[str, int], list[Component]] = defaultdict(list)
    for component in components.distinct():
        by_target[(component.inventory.target_kind, component.inventory.target_id)].append(component)
    rules = deadline_rules()
    facts = targets_facts(keys=by_target.keys())
    with transaction.atomic():
        for (kind, target_id), items in by_target.items():
            target = facts[(kind, target_id)]
            if target is None:
                continue
            hits = _matches(items, index, stats)
            _upsert_findings(actor=actor, target=target, hits=hits, stats=stats, rules=rules)
            # A changed advisory that no longer covers a version: its open findings there resolve.
            now = clock.now()
            stale = Finding.objects.filter(
                target_kind=kind,
                target_id=target_id,
                vuln_id__in=vuln_ids,
                state__in=Finding.OPEN_STATES,
            ).exclude(pk__in=stats.finding_ids)
            for finding in stale:
                finding.state = Finding.State.RESOLVED
                finding.resolved_at = now
                finding.detail = "The advisory's new version no longer covers this version."
                finding.updated_at = now
                finding.save()
                stats.resolved += 1
    return stats


# --- one vulnerability, many records (ADR 1307) --------------------------------------------------

# Which record of a vulnerability speaks for it: a scored one first, then the most severe.
_SOURCE_RANK = {"CVSS_V4": 0, "CVSS_V3": 1, "database_specific": 2}
_CHUNK = 2000


def _rank(advisory: Advisory) -> tuple[int, int, str]:
    severity_rank = {str(k): v for k, v in SEVERITY_RANK.items()}
    return (
        _SOURCE_RANK.get(advisory.severity_source, 3),
        severity_rank.get(advisory.severity, 9),
        advisory.osv_id,
    )


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _groups(vuln_ids: Iterable[str]) -> dict[str, tuple[Advisory, list[str]]]:
    """vulnerability id -> (the record that speaks for it, every id its live records carry)."""
    members: dict[str, list[Advisory]] = defaultdict(list)
    ids: dict[str, set[str]] = defaultdict(set)
    for chunk in _chunks(set(vuln_ids)):
        for advisory in Advisory.objects.filter(vuln_id__in=chunk, withdrawn__isnull=True):
            members[advisory.vuln_id].append(advisory)
        for vuln_id, alias in AdvisoryAlias.objects.filter(
            advisory__vuln_id__in=chunk, advisory__withdrawn__isnull=True
        ).values_list("advisory__vuln_id", "alias"):
            ids[vuln_id].add(alias)
    return {
        vuln_id: (min(records, key=_rank), sorted(ids[vuln_id] | {vuln_id}))
        for vuln_id, records in members.items()
    }


def _vuln_name(ids: Iterable[str]) -> str:
    """A vulnerability's name: its lowest CVE id (what KEV and EPSS use), else its lowest id."""
    ordered = sorted(ids)
    cves = [i for i in ordered if feeds.CVE.match(i)]
    return (cves or ordered)[0]


@dataclass
class RegroupStats:
    advisories: int = 0
    merged: int = 0
    dropped: int = 0
    moved: int = 0


def advisories_regroup(*, actor: User | None, advisory_ids: Iterable[int] | None = None) -> RegroupStats:
    """Group the records linked by their ids and aliases (transitively) into one
    vulnerability each, starting from `advisory_ids` (every record when None),
    and bring the findings along: findings of one component that now name the
    same vulnerability merge into one (its exceptions and plans kept), a finding
    whose every record was withdrawn is dropped, and the survivors carry all
    the ids, the best record and the deadline its aliases' KEV/EPSS give."""
    stats = RegroupStats()
    rows = (
        Advisory.objects.all() if advisory_ids is None else Advisory.objects.filter(pk__in=set(advisory_ids))
    )
    touched: dict[int, Advisory] = {a.pk: a for a in rows}
    # Their former companions too: a record that lost an alias may split its group.
    old_names = {a.vuln_id for a in touched.values() if a.vuln_id}
    for chunk in _chunks(old_names):
        touched.update((a.pk, a) for a in Advisory.objects.filter(vuln_id__in=chunk))
    links: dict[int, set[str]] = defaultdict(set)
    pending = set(touched)
    while pending:
        seen_aliases: set[str] = set()
        for chunk in _chunks(pending):
            for pk, alias in AdvisoryAlias.objects.filter(advisory_id__in=chunk).values_list(
                "advisory_id", "alias"
            ):
                links[pk].add(alias)
                seen_aliases.add(alias)
        pending = set()
        for chunk in _chunks(seen_aliases):
            found = AdvisoryAlias.objects.filter(alias__in=chunk, advisory__withdrawn__isnull=True)
            pending |= set(found.values_list("advisory_id", flat=True)) - touched.keys()
        for chunk in _chunks(pending):
            touched.update((a.pk, a) for a in Advisory.objects.filter(pk__in=chunk))
    # Union-find over live records and the ids they carry; a withdrawn record links nothing.
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pk, advisory in touched.items():
        if advisory.withdrawn is None:
            for alias in links[pk] | {advisory.osv_id}:
                parent[find(f"#{pk}")] = find(alias)
    components: dict[str, set[str]] = defaultdict(set)
    for node in list(parent):
        if not node.startswith("#"):
            components[find(node)].add(node)
    old = {pk: a.vuln_id for pk, a in touched.items()}
    changed = []
    for pk, advisory in touched.items():
        name = advisory.osv_id if advisory.withdrawn else _vuln_name(components[find(f"#{pk}")])
        if advisory.vuln_id != name:
            advisory.vuln_id = name
            changed.append(advisory)
    Advisory.objects.bulk_update(changed, ["vuln_id"], batch_size=1000)
    stats.advisories = len(changed)
    _regroup_findings(actor=actor, touched=touched, old=old, stats=stats)
    return stats


def _regroup_findings(
    *, actor: User | None, touched: dict[int, Advisory], old: dict[int, str], stats: RegroupStats
) -> None:
    names = set(old.values()) | {a.vuln_id for a in touched.values()}
    findings: dict[int, Finding] = {}
    for chunk in _chunks(names):
        findings.update(
            (f.pk, f) for f in Finding.objects.filter(vuln_id__in=chunk).select_related("advisory")
        )
    for chunk in _chunks(touched):
        findings.update(
            (f.pk, f) for f in Finding.objects.filter(advisory_id__in=chunk).select_related("advisory")
        )
    # Where a withdrawn record's findings go: the group its live companions now form.
    heirs = {old[pk]: a.vuln_id for pk, a in touched.items() if a.withdrawn is None}
    target: dict[int, str] = {}
    for finding in findings.values():
        advisory = touched.get(finding.advisory_id, finding.advisory)
        name = advisory.vuln_id if advisory.withdrawn is None else heirs.get(finding.vuln_id, "")
        target[finding.pk] = name
    groups = _groups({name for name in target.values() if name})
    dropped = [pk for pk, name in target.items() if name not in groups]
    if dropped:
        Finding.objects.filter(pk__in=dropped).delete()
        stats.dropped += len(dropped)
    together: dict[tuple[str, int, str, str, str], list[Finding]] = defaultdict(list)
    for pk, name in target.items():
        if name in groups:
            f = findings[pk]
            together[(f.target_kind, f.target_id, f.component_key, f.component_version, name)].append(f)
    survivors: list[Finding] = []
    for key, same in together.items():
        # The one kept: open before closed, then the earliest detected (its clock is the honest one).
        same.sort(key=lambda f: (f.state not in Finding.OPEN_STATES, f.detected_at, f.pk))
        survivor, losers = same[0], same[1:]
        if losers:
            _merge_findings(actor=actor, survivor=survivor, losers=losers, vuln_id=key[4])
            stats.merged += len(losers)
        survivors.append(survivor)
    moving = [f for f in survivors if f.vuln_id != target[f.pk]]
    # Two steps, so that no two findings hold the same name between the updates.
    for finding in moving:
        finding.vuln_id = f"~{finding.pk}"
    Finding.objects.bulk_update(moving, ["vuln_id"], batch_size=1000)
    now = clock.now()
    rules = deadline_rules()
    facts = targets_facts(keys={(f.target_kind, f.target_id) for f in survivors})
    for finding in survivors:
        advisory, ids = groups[target[finding.pk]]
        before = (finding.vuln_id, finding.advisory_id, finding.vuln_ids)
        finding.vuln_id, finding.advisory, finding.vuln_ids = target[finding.pk], advisory, ids
        if before == (finding.vuln_id, finding.advisory_id, finding.vuln_ids):
            continue
        target_facts_ = facts.get((finding.target_kind, finding.target_id))
        if finding.state in Finding.OPEN_STATES and target_facts_ is not None:
            _apply_deadline(finding, target_facts_, rules)
        finding.updated_at = now
        finding.save()
        stats.moved += 1
    if stats.moved or stats.dropped:
        _audit(
            Action.UPDATE,
            actor,
            FINDING,
            "aliases",
            check="regrouped",
            findings=stats.moved,
            merged=stats.merged,
            dropped=stats.dropped,
        )


def _merge_findings(*, actor: User | None, survivor: Finding, losers: list[Finding], vuln_id: str) -> None:
    """Fold duplicate findings of one vulnerability into `survivor`: their
    exceptions and patch plans move to it, then they go."""
    loser_ids = [f.pk for f in losers]
    RiskException.objects.filter(finding_id__in=loser_ids).update(finding=survivor)
    if any(f.excepted for f in losers if f.state in Finding.OPEN_STATES):
        survivor.excepted = True
        Finding.objects.filter(pk=survivor.pk).update(excepted=True)
    links = PatchPlan.findings.through.objects
    planned = set(links.filter(finding=survivor).values_list("patchplan_id", flat=True))
    for link in links.filter(finding_id__in=loser_ids):
        if link.patchplan_id in planned:
            link.delete()
        else:
            planned.add(link.patchplan_id)
            link.finding_id = survivor.pk
            link.save()
    Finding.objects.filter(pk__in=loser_ids).delete()
    _audit(
        Action.UPDATE, actor, FINDING, survivor.pk, check="merged", vulnerability=vuln_id, merged=loser_ids
    )


# --- inventories ---------------------------------------------------------------------------------


def inventory_import(
    *, actor: User | None, target_kind: str, target_id: int, raw: bytes, fmt: str = ""
) -> tuple[Inventory, MatchStats]:
    """Parse, store (replacing the target's current inventory) and match.
    All or nothing: a bad file raises PatchingError with every problem."""
    _require(actor, Perm.PATCHING_INVENTORY_IMPORT)
    if target_kind not in Target.values:
        raise PatchingError("The target is an asset or a device.")
    if target_facts(kind=target_kind, target_id=target_id) is None:
        raise PatchingError(f"No such {target_kind}.")
    try:
        parsed = sbom.parse(raw, fmt)
    except sbom.InventoryError as error:
        raise PatchingError("The inventory was refused; nothing was saved.", error.errors) from None
    return _inventory_store(actor=actor, target_kind=target_kind, target_id=target_id, raw=raw, parsed=parsed)


def _inventory_store(
    *, actor: User | None, target_kind: str, target_id: int, raw: bytes, parsed: sbom.ParsedInventory
) -> tuple[Inventory, MatchStats]:
    now = clock.now()
    with transaction.atomic():
        Inventory.objects.filter(target_kind=target_kind, target_id=target_id, current=True).update(
            current=False
        )
        inventory = Inventory.objects.create(
            target_kind=target_kind,
            target_id=target_id,
            format=parsed.format,
            spec_version=parsed.spec_version,
            sha256=hashlib.sha256(raw).hexdigest(),
            component_count=len(parsed.components),
            imported_by=actor,
            imported_at=now,
        )
        Component.objects.bulk_create(
            [
                Component(
                    inventory=inventory,
                    name=c.name[:300],
                    version=c.version[:200],
                    ecosystem=c.ecosystem,
                    purl=c.purl,
                    cpe=c.cpe,
                    bom_ref=c.bom_ref,
                    match_key=c.match_key[:400],
                )
                for c in parsed.components
            ],
            batch_size=2000,
        )
        _audit(
            Action.CREATE,
            actor,
            INVENTORY,
            inventory.pk,
            target=f"{target_kind}:{target_id}",
            format=parsed.format,
            components=len(parsed.components),
            sha256=inventory.sha256,
        )
        stats = inventory_match(actor=actor, inventory=inventory)
    return inventory, stats


def self_sbom() -> bytes:
    """SafeWard's own CycloneDX 1.6 JSON SBOM, from the installed distributions."""
    import importlib.metadata

    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    seen: set[str] = set()
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        name = dist.metadata["Name"]
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        purl = PackageURL(type="pypi", name=name.lower(), version=dist.version)
        bom.components.add(
            CdxComponent(
                name=name,
                version=dist.version,
                type=ComponentType.LIBRARY,
                purl=purl,
                bom_ref=f"pypi:{name.lower()}@{dist.version}",
            )
        )
    return JsonV1Dot6(bom).output_as_string(indent=None).encode()


def self_register(*, actor: User | None) -> tuple[Inventory, MatchStats]:
    """Register SafeWard's own stores, make sure its application asset exists,
    and import its own SBOM as that asset's inventory."""
    from safeward.assets import selectors as assets
    from safeward.assets import services as asset_services

    asset_services.assets_register_self(actor=actor)
    name = "SafeWard application"
    asset = next(iter(assets.assets_list(query=name).filter(name=name)), None)
    if asset is None:
        asset = asset_services.asset_create(
            actor=actor,
            values={
                "name": name,
                "kind": "application",
                "description": "The SafeWard application and the Python packages it runs on.",
                "network_zone": "data_centre",
                "criticality": "critical",
            },
            source="safeward",
        )
    raw = self_sbom()
    parsed = sbom.parse(raw, "cyclonedx_json")
    return _inventory_store(actor=actor, target_kind=Target.ASSET, target_id=asset.pk, raw=raw, parsed=parsed)


# --- advisory feeds ------------------------------------------------------------------------------


@dataclass
class FeedStats:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    match: MatchStats = field(default_factory=MatchStats)


def osv_import(
    *, actor: User | None, raw: bytes, filename: str = "", progress: Progress | None = None
) -> FeedStats:
    """Import OSV records: a record already stored with the same or a newer
    `modified` is skipped (idempotent, incremental); a newer one replaces its
    affected entries; a withdrawn one drops its findings. Then only the
    changed advisories are matched, against only the components with their
    names. All or nothing."""
    _require(actor, Perm.PATCHING_INVENTORY_IMPORT)
    stats = FeedStats()
    now = clock.now()
    changed: list[int] = []
    touched: list[int] = []
    aliases: list[AdvisoryAlias] = []
    severity_moved: list[int] = []
    try:
        with transaction.atomic():
            known = dict(Advisory.objects.values_list("osv_id", "modified"))
            for record in feeds.osv_records(raw, filename):
                stats.read += 1
                if progress is not None:
                    progress(1)
                previous = known.get(record.osv_id)
                if previous is not None and previous >= record.modified:
                    stats.unchanged += 1
                    continue
                values = {
                    "aliases": record.aliases,
                    "cve_ids": record.cve_ids,
                    "summary": record.summary,
                    "modified": record.modified,
                    "published": record.published,
                    "withdrawn": record.withdrawn,
                    "cvss_vector": record.cvss_vector,
                    "cvss_score": record.cvss_score,
                    "severity": record.severity,
                    "severity_source": record.severity_source,
                    "references": record.references,
                    "imported_at": now,
                }
                if previous is None:
                    advisory = Advisory.objects.create(osv_id=record.osv_id, vuln_id=record.osv_id, **values)
                    stats.created += 1
                else:
                    advisory = Advisory.objects.get(osv_id=record.osv_id)
                    if advisory.severity != record.severity:
                        severity_moved.append(advisory.pk)
                    for name, value in values.items():
                        setattr(advisory, name, value)
                    advisory.save()
                    advisory.affected.all().delete()
                    advisory.alias_rows.all().delete()
                    stats.updated += 1
                aliases.extend(
                    AdvisoryAlias(advisory=advisory, alias=alias)
                    for alias in dict.fromkeys([record.osv_id, *record.aliases])
                )
                touched.append(advisory.pk)
                known[record.osv_id] = record.modified
                AffectedPackage.objects.bulk_create(
                    [
                        AffectedPackage(
                            advisory=advisory,
                            match_key=entry["key"][:400],
                            ecosystem=entry["ecosystem"][:40],
                            name=entry["name"],
                            ranges=entry["ranges"],
                            versions=entry["versions"],
                        )
                        for entry in record.affected
                    ]
                )
                if record.withdrawn is not None:
                    stats.withdrawn += 1
                else:
                    changed.append(advisory.pk)
            AdvisoryAlias.objects.bulk_create(aliases, batch_size=2000)
            # Records of one vulnerability become one; a withdrawn record's findings
            # go to its remaining records, or are dropped when none is left.
            regrouped = advisories_regroup(actor=actor, advisory_ids=touched)
            stats.match.dropped = regrouped.dropped
            _audit(
                Action.EXECUTE,
                actor,
                ADVISORY_FEED,
                "osv",
                check="osv_import",
                read=stats.read,
                created=stats.created,
                updated=stats.updated,
                withdrawn=stats.withdrawn,
                dropped_findings=stats.match.dropped,
            )
            dropped_count = stats.match.dropped
            stats.match = advisories_match(actor=actor, advisory_ids=changed)
            stats.match.dropped = dropped_count
            if severity_moved:
                findings_recompute(
                    actor=actor,
                    findings=Finding.objects.filter(advisory_id__in=severity_moved).select_related(
                        "advisory"
                    ),
                )
    except feeds.FeedError as error:
        raise PatchingError("The OSV import was refused; nothing was saved.", error.errors) from None
    return stats


def _findings_for_cves(cve_ids: set[str]) -> QuerySet[Finding]:
    """Open findings of the vulnerabilities any record of which carries one of these CVE ids."""
    names = AdvisoryAlias.objects.filter(alias__in=cve_ids).values("advisory__vuln_id")
    return Finding.objects.filter(state__in=Finding.OPEN_STATES, vuln_id__in=names).select_related("advisory")


def kev_import(*, actor: User | None, raw: bytes) -> tuple[int, int]:
    """Replace the KEV catalog; recompute the deadlines of the findings whose
    CVEs entered, left or changed. Returns (entries, findings moved)."""
    _require(actor, Perm.PATCHING_INVENTORY_IMPORT)
    try:
        version, entries = feeds.kev_catalog(raw)
    except feeds.FeedError as error:
        raise PatchingError("The KEV catalog was refused; nothing was saved.", error.errors) from None
    with transaction.atomic():
        before = {row.cve_id: (row.due_date, row.ransomware) for row in KevEntry.objects.all()}
        KevEntry.objects.all().delete()
        KevEntry.objects.bulk_create(
            [
                KevEntry(
                    cve_id=e.cve_id,
                    vendor_project=e.vendor_project,
                    product=e.product,
                    name=e.name,
                    date_added=e.date_added,
                    due_date=e.due_date,
                    ransomware=e.ransomware,
                    required_action=e.required_action,
                    catalog_version=version,
                )
                for e in entries
            ],
            batch_size=2000,
        )
        after = {e.cve_id: (e.due_date, e.ransomware) for e in entries}
        moved_cves = {cve for cve in before.keys() | after.keys() if before.get(cve) != after.get(cve)}
        _audit(
            Action.EXECUTE,
            actor,
            ADVISORY_FEED,
            "kev",
            check="kev_import",
            version=version,
            entries=len(entries),
        )
        moved = findings_recompute(actor=actor, findings=_findings_for_cves(moved_cves))
    return len(entries), moved


def epss_import(*, actor: User | None, raw: bytes) -> tuple[int, int]:
    _require(actor, Perm.PATCHING_INVENTORY_IMPORT)
    try:
        model, date, rows = feeds.epss_csv(raw)
    except feeds.FeedError as error:
        raise PatchingError("The EPSS file was refused; nothing was saved.", error.errors) from None
    with transaction.atomic():
        before = dict(EpssScore.objects.values_list("cve_id", "percentile"))
        EpssScore.objects.all().delete()
        EpssScore.objects.bulk_create(
            [
                EpssScore(
                    cve_id=r.cve_id,
                    epss=r.epss,
                    percentile=r.percentile,
                    model_version=model,
                    score_date=date,
                )
                for r in rows
            ],
            batch_size=5000,
        )
        after = {r.cve_id: r.percentile for r in rows}
        moved_cves = {cve for cve in before.keys() | after.keys() if before.get(cve) != after.get(cve)}
        _audit(Action.EXECUTE, actor, ADVISORY_FEED, "epss", check="epss_import", model=model, rows=len(rows))
        moved = findings_recompute(actor=actor, findings=_findings_for_cves(moved_cves))
    return len(rows), moved


# --- the policy table -----------------------------------------------------------------------------


def deadline_policy_set(*, actor: User | None, severity: str, exposure: str, days: int | None) -> int:
    """Change one cell of the table; every unresolved finding is recomputed."""
    _require(actor, Perm.PATCHING_EXCEPTION_APPROVE)
    if (severity, exposure) not in deadlines.HICP_TABLE_8:
        raise PatchingError("No such cell of the table.")
    if days is not None and not 1 <= days <= 3650:
        raise PatchingError("Days run from 1 to 3650, or blank for 'at discretion'.")
    with transaction.atomic():
        DeadlinePolicy.objects.update_or_create(severity=severity, exposure=exposure, defaults={"days": days})
        _audit(Action.CONFIG_CHANGE, actor, "VulnDeadlinePolicy", f"{severity}/{exposure}", days=days)
        return findings_recompute(actor=actor)


# --- triage, VEX --------------------------------------------------------------------------------


def finding_triage(
    *,
    actor: User | None,
    finding_id: int,
    state: str,
    justification: str = "",
    response: Sequence[str] = (),
    detail: str = "",
) -> Finding:
    _require(actor, Perm.PATCHING_FINDING_TRIAGE)
    if state not in Finding.State.values:
        raise PatchingError("Unknown state.")
    if justification and justification not in Finding.Justification.values:
        raise PatchingError("Unknown justification.")
    if state == Finding.State.NOT_AFFECTED and not justification:
        raise PatchingError("'Not affected' needs a justification.")
    responses = {"can_not_fix", "will_not_fix", "update", "rollback", "workaround_available"}
    if any(r not in responses for r in response):
        raise PatchingError(f"Responses are {', '.join(sorted(responses))}.")
    with transaction.atomic():
        finding = Finding.objects.select_for_update().filter(pk=finding_id).first()
        if finding is None:
            raise PatchingError("No such finding.")
        old = finding.state
        now = clock.now()
        finding.state = state
        finding.justification = justification
        finding.response = list(response)
        finding.detail = detail[:4000]
        finding.resolved_at = now if state not in Finding.OPEN_STATES else None
        finding.updated_at = now
        finding.save()
        _audit(Action.UPDATE, actor, FINDING, finding.pk, check="triage", old_state=old, state=state)
    return finding


def vex_import(*, actor: User | None, raw: bytes) -> int:
    """Apply a CycloneDX VEX or OpenVEX document's analyses to the findings
    it names (vulnerability id x purl or component name). All or nothing;
    returns how many findings changed."""
    from safeward.patching import vex

    _require(actor, Perm.PATCHING_FINDING_TRIAGE)
    try:
        statements = vex.parse(raw)
    except vex.VexError as error:
        raise PatchingError("The VEX document was refused; nothing was saved.", error.errors) from None
    changed = 0
    with transaction.atomic():
        for statement in statements:
            for finding in vex.findings_for(statement):
                finding_triage(
                    actor=actor,
                    finding_id=finding.pk,
                    state=statement.state,
                    justification=statement.justification,
                    response=statement.response,
                    detail=statement.detail,
                )
                changed += 1
    return changed


# --- exceptions ---------------------------------------------------------------------------------


def exception_request(
    *,
    actor: User,
    finding_id: int,
    decision: str,
    justification: str,
    controls: Sequence[tuple[str, str]],
    expires_on: dt.date,
) -> RiskException:
    _require(actor, Perm.PATCHING_FINDING_TRIAGE)
    problems: dict[str, list[str]] = defaultdict(list)
    if decision not in RiskException.Decision.values:
        problems["decision"].append("Decision: accept, reduce, transfer or avoid.")
    if not justification.strip():
        problems["justification"].append("Say why.")
    today = clock.now().date()
    if expires_on <= today:
        problems["expires_on"].append("The expiry must be in the future.")
    elif (expires_on - today).days > MAX_EXCEPTION_DAYS:
        problems["expires_on"].append(f"An exception lasts at most {MAX_EXCEPTION_DAYS} days.")
    if not controls:
        problems["controls"].append(
            "Name at least one compensating control (a control test and the resource it judges)."
        )
    now = clock.now()
    for control_id, resource_id in controls:
        verdict = control_check(control_id, resource_id, now)
        if verdict is None:
            problems["controls"].append(
                f"{control_id[:64]} does not judge {resource_id[:64]} (or no such control)."
            )
        elif not verdict:
            problems["controls"].append(
                f"{control_id[:64]} fails for {resource_id[:64]} now; it cannot compensate."
            )
    if problems:
        raise PatchingError(
            "The exception was refused.",
            [message for messages in problems.values() for message in messages],
            fields={name: " ".join(messages) for name, messages in problems.items()},
        )
    with transaction.atomic():
        finding = Finding.objects.select_for_update().filter(pk=finding_id).first()
        if finding is None:
            raise UnknownObject("No such finding.")
        if finding.state not in Finding.OPEN_STATES:  # nothing left to accept a risk for
            raise Conflict(f"This finding is {finding.get_state_display().lower()}: it needs no exception.")
        if finding.exceptions.filter(status__in=RiskException.OPEN_STATUSES).exists():
            raise Conflict("This finding already has an exception in force or waiting.")
        exception = RiskException.objects.create(
            finding=finding,
            decision=decision,
            justification=justification[:4000],
            controls=[{"control_id": c, "resource_id": r} for c, r in controls],
            expires_on=expires_on,
            requested_by=actor,
            requested_at=now,
        )
        _audit(Action.CREATE, actor, EXCEPTION, exception.pk, finding=finding.pk, decision=decision)
    return exception


def exception_decide(*, actor: User, exception_id: int, approve: bool) -> RiskException:
    _require(actor, Perm.PATCHING_EXCEPTION_APPROVE)
    with transaction.atomic():
        exception = (
            RiskException.objects.select_for_update()
            .select_related("finding")
            .filter(pk=exception_id)
            .first()
        )
        if exception is None:
            raise UnknownObject("No such exception.")
        if exception.status != RiskException.Status.REQUESTED:
            raise Conflict("This exception is not waiting for a decision.")
        if exception.requested_by_id == actor.pk:
            raise NotPermitted("A second person approves: not the one who asked.")
        now = clock.now()
        if approve:
            # Valid only while unexpired and its controls pass: a request left in the queue
            # past its expiry, or whose control has failed since, is not approved into force.
            errors = []
            if exception.expires_on <= now.date():
                errors.append(f"It expired on {exception.expires_on.isoformat()}; file a new one.")
            for control_id, resource_id in refs_of(exception.controls):
                if not control_check(control_id, resource_id, now):
                    errors.append(f"{control_id[:64]} does not pass for {resource_id[:64]} now.")
            if errors:
                raise Conflict("The exception cannot be approved.", errors)
        exception.status = RiskException.Status.APPROVED if approve else RiskException.Status.REJECTED
        exception.approved_by = actor if approve else None
        exception.decided_at = now
        exception.save()
        if approve:
            finding = exception.finding
            finding.excepted = True
            finding.updated_at = now
            finding.save()
        _audit(Action.UPDATE, actor, EXCEPTION, exception.pk, check="approved" if approve else "rejected")
    return exception


def exceptions_evaluate(*, actor: User | None = None, now: dt.datetime | None = None) -> dict[str, int]:
    """Re-test every approved exception: expired ones end; one whose control
    fails (or no longer judges its resource) is voided, its finding reopens
    with its clock restarted, and an event for the `patching_exception_voided`
    detection rule names the requester. Reads take a fixed number of queries
    however many exceptions there are (each control test runs once, the
    targets' facts and KEV/EPSS come in batches); writes are per ended one."""
    now = now or clock.now()
    counts = {"valid": 0, "expired": 0, "voided": 0}
    rules = deadline_rules()
    with transaction.atomic():
        exceptions = list(
            RiskException.objects.select_for_update()
            .filter(status=RiskException.Status.APPROVED)
            .select_related("finding__advisory", "requested_by")
        )
        verdicts = control_checks((ref for e in exceptions for ref in refs_of(e.controls)), now)
        valid: list[int] = []
        ended: list[tuple[RiskException, str, str]] = []
        for exception in exceptions:
            if exception.expires_on < now.date():
                expired = f"expired on {exception.expires_on.isoformat()}"
                ended.append((exception, RiskException.Status.EXPIRED, expired))
                continue
            for control_id, resource_id in refs_of(exception.controls):
                verdict = verdicts[(control_id, resource_id)]
                if not verdict:
                    what = "failed for" if verdict is False else "no longer judges"
                    reason = f"{control_id} {what} {resource_id}"
                    ended.append((exception, RiskException.Status.VOIDED, reason))
                    break
            else:
                valid.append(exception.pk)
        counts["valid"] = len(valid)
        for chunk in _chunks(valid):
            RiskException.objects.filter(pk__in=chunk).update(last_evaluated_at=now)
        findings = [exception.finding for exception, _, _ in ended]
        facts_of = targets_facts(keys={(f.target_kind, f.target_id) for f in findings})
        with _feeds_cached(findings):
            for exception, status, reason in ended:
                counts[str(status)] += 1
                _exception_end(actor, exception, status, reason, now, facts_of, rules)
    return counts


def _exception_end(
    actor: User | None,
    exception: RiskException,
    status: str,
    reason: str,
    now: dt.datetime,
    facts_of: dict[tuple[str, int], TargetFacts | None],
    rules: deadlines.Rules,
) -> None:
    """End an exception (expired or voided): its finding reopens with its clock restarted."""
    exception.status = status
    exception.last_evaluated_at = now
    exception.ended_at = now
    exception.end_reason = reason[:300]
    exception.save()
    finding = exception.finding
    finding.excepted = False
    if finding.state not in Finding.OPEN_STATES:
        finding.state = Finding.State.IN_TRIAGE
    finding.resolved_at = None
    finding.detected_at = now
    finding.reopened_count += 1
    finding.detail = f"Exception {exception.pk} ended: {reason}. The clock restarted."
    facts = facts_of[(finding.target_kind, finding.target_id)]
    if facts is not None:
        _apply_deadline(finding, facts, rules)
    finding.updated_at = now
    finding.save()
    audit_record(
        action=Action.EXECUTE,
        actor=actor,
        actor_username="" if actor else "safeward vulns exceptions",
        resource_type=EXCEPTION,
        resource_id=exception.pk,
        purpose=PurposeOfUse.OPERATIONS,
        detail={
            "check": EXCEPTION_VOIDED_CHECK,
            "status": str(status),
            "reason": reason[:300],
            "finding_id": finding.pk,
            "owner_id": exception.requested_by_id,
            "owner_username": exception.requested_by.username,
        },
    )


# --- patch plans ---------------------------------------------------------------------------------

PLAN_TRANSITIONS: dict[str, set[str]] = {
    PatchPlan.Status.PLANNED: {PatchPlan.Status.SCHEDULED, PatchPlan.Status.CANCELLED},
    # Scheduled again: the window moved, or the change record was replaced.
    PatchPlan.Status.SCHEDULED: {
        PatchPlan.Status.SCHEDULED,
        PatchPlan.Status.APPLIED,
        PatchPlan.Status.CANCELLED,
    },
    # Applied but the next inventory still shows the version: rolled back, or the patch did not take.
    PatchPlan.Status.APPLIED: {PatchPlan.Status.SCHEDULED, PatchPlan.Status.CANCELLED},
}

# What a person may move a plan to (verified is the inventory's to set).
PLAN_TRANSITIONS_TARGETS = {PatchPlan.Status.SCHEDULED, PatchPlan.Status.APPLIED, PatchPlan.Status.CANCELLED}


def _window_errors(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> list[str]:
    if end <= start:
        return ["The window ends after it starts."]
    errors = []
    if end <= now:
        errors.append("The window is over already; plan a window that has not ended.")
    if end - start > dt.timedelta(hours=MAX_WINDOW_HOURS):
        errors.append(f"A maintenance window lasts at most {MAX_WINDOW_HOURS} hours.")
    return errors


def _change_ref_errors(change_ref: str) -> list[str]:
    if change_ref and not CHANGE_REF.fullmatch(change_ref):
        return ["The change record is its reference (2 to 40 letters, digits, . _ / -), e.g. CHG0031234."]
    return []


def plan_create(
    *,
    actor: User,
    target_kind: str,
    target_id: int,
    finding_ids: Sequence[int],
    title: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    change_ref: str = "",
    notes: str = "",
) -> PatchPlan:
    """A plan for open findings of one target. With a change record it is
    scheduled at once; without one it waits in `planned`."""
    _require(actor, Perm.PATCHING_FINDING_TRIAGE)
    now = clock.now()
    title, change_ref = title.strip(), change_ref.strip()
    errors = []
    if not title:
        errors.append("Give the plan a title.")
    elif len(title) > 200:
        errors.append("The title is at most 200 characters.")
    if target_kind not in Target.values or target_facts(kind=target_kind, target_id=target_id) is None:
        errors.append("No such asset or device.")
    wanted = set(finding_ids)
    if not wanted:
        errors.append("Choose at least one open finding.")
    elif len(wanted) > MAX_PLAN_FINDINGS:
        errors.append(f"A plan covers at most {MAX_PLAN_FINDINGS} findings.")
    errors += _window_errors(window_start, window_end, now)
    errors += _change_ref_errors(change_ref)
    if errors:
        raise PatchingError("The plan was refused; nothing was saved.", errors)
    with transaction.atomic():
        findings = list(
            Finding.objects.select_for_update().filter(
                pk__in=wanted, target_kind=target_kind, target_id=target_id
            )
        )
        found = {f.pk for f in findings}
        errors = [f"Finding {pk} is not one of this target's." for pk in sorted(wanted - found)]
        errors += [f"Finding {f.pk} is not open." for f in findings if f.state not in Finding.OPEN_STATES]
        busy = (
            PatchPlan.findings.through.objects.filter(
                finding_id__in=found, patchplan__status__in=PatchPlan.OPEN_STATUSES
            )
            .values_list("finding_id", "patchplan_id")
            .order_by("finding_id")
        )
        errors += [f"Finding {finding} is already in plan {plan}." for finding, plan in busy]
        if errors:
            raise PatchingError("The plan was refused; nothing was saved.", errors)
        plan = PatchPlan.objects.create(
            title=title,
            target_kind=target_kind,
            target_id=target_id,
            window_start=window_start,
            window_end=window_end,
            change_ref=change_ref,
            status=PatchPlan.Status.SCHEDULED if change_ref else PatchPlan.Status.PLANNED,
            notes=notes.strip()[:4000],
            owner=actor,
            created_at=now,
            updated_at=now,
        )
        plan.findings.set(findings)
        _audit(
            Action.CREATE,
            actor,
            PLAN,
            plan.pk,
            target=f"{target_kind}:{target_id}",
            findings=len(findings),
            status=plan.status,
            change_ref=change_ref,
        )
    return plan


def plan_update(
    *,
    actor: User | None,
    plan_id: int,
    status: str,
    change_ref: str = "",
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    note: str = "",
) -> PatchPlan:
    """Move a plan on: schedule it under a change record (optionally in a new
    window), mark it applied, send it back to scheduled after a rollback, or
    cancel it. `verified` is never set by hand: an inventory sets it."""
    _require(actor, Perm.PATCHING_FINDING_TRIAGE)
    now = clock.now()
    change_ref = change_ref.strip()
    with transaction.atomic():
        plan = PatchPlan.objects.select_for_update().filter(pk=plan_id).first()
        if plan is None:
            raise PatchingError("No such plan.")
        allowed = PLAN_TRANSITIONS.get(plan.status, set())
        if status not in allowed:
            shown = ", ".join(sorted(allowed)) or "nothing (the plan is closed)"
            raise PatchingError(f"A plan that is {plan.status} can become: {shown}.")
        errors = _change_ref_errors(change_ref)
        if status == PatchPlan.Status.SCHEDULED and not (change_ref or plan.change_ref):
            errors.append("Scheduling needs the change record's reference.")
        if window_start is not None or window_end is not None:
            if status != PatchPlan.Status.SCHEDULED:
                errors.append("A new window goes with scheduling.")
            else:
                errors += _window_errors(
                    window_start or plan.window_start, window_end or plan.window_end, now
                )
        rescheduled = window_start is not None or window_end is not None or change_ref
        if plan.status == status == PatchPlan.Status.SCHEDULED and not rescheduled:
            errors.append("The plan is scheduled already: give a new window or change record.")
        if status == PatchPlan.Status.APPLIED and plan.window_start > now:
            errors.append("The window has not started yet.")
        if errors:
            raise PatchingError("The plan was not changed.", errors)
        previous = plan.status
        plan.status = status
        if change_ref:
            plan.change_ref = change_ref
        if window_start is not None:
            plan.window_start = window_start
        if window_end is not None:
            plan.window_end = window_end
        if note.strip():
            stamp = now.strftime("%Y-%m-%d %H:%M")
            author = actor.username if actor else "operator (safeward vulns)"
            plan.notes = f"{plan.notes}\n{stamp} {author}: {note.strip()}".strip()[:8000]
        plan.updated_at = now
        plan.save()
        _audit(
            Action.UPDATE,
            actor,
            PLAN,
            plan.pk,
            check=f"{previous}->{status}",
            change_ref=plan.change_ref,
        )
    return plan


def _plans_verify(*, actor: User | None, target_kind: str, target_id: int, now: dt.datetime) -> None:
    """Open plans of the target whose findings are all closed now are verified
    (inside the import's transaction)."""
    plans = PatchPlan.objects.filter(
        target_kind=target_kind, target_id=target_id, status__in=PatchPlan.OPEN_STATUSES
    ).exclude(findings__state__in=Finding.OPEN_STATES)
    for plan in plans.select_for_update():
        plan.status = PatchPlan.Status.VERIFIED
        plan.verified_at = now
        plan.updated_at = now
        plan.save(update_fields=["status", "verified_at", "updated_at"])
        _audit(Action.UPDATE, actor, PLAN, plan.pk, check="verified_by_inventory")
