"""PHI discovery workflows (ADR 0810): scans from the command line, the
schedule and the findings page; the exact match of what a file holds
against our own patients through the clinical gateway; findings, their
asset and their alert; and triage.

A scan never stores a matched value: the engine's candidates are turned
into keyed hashes here, handed to `gateway.discovery_match`, and dropped
with the file's result. A finding keeps the path, the counts per category,
the matched patient ids (what the gateway answered, audited there), the
file's SHA-256 and whether it was encrypted. Audit events name findings
and scans by id, never by path (a path can carry a patient's name).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from safeward import clock
from safeward.assets.discovery.detectors import CATEGORIES, DEFAULT_MRN_PATTERN
from safeward.assets.discovery.engine import Entry, FileResult, Prior, Scanner, Status, plan
from safeward.assets.discovery.formats import Limits
from safeward.assets.models import Asset, DiscoveryFinding, DiscoveryScan, ScannedFile
from safeward.assets.services import register_discovered_share
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import PATIENT_DISCOVERY_INDEXES, DiscoveryMatch, SessionContext, SystemActor
from safeward.crypto.fields import blind_index_keys, canonical_indexer
from safeward.crypto.normalise import normalise
from safeward.detection.rules import Code
from safeward.detection.selectors import rule_config
from safeward.detection.services import Finding as AlertFinding
from safeward.detection.services import alerts_raise
from safeward.identity.models import User
from safeward.identity.permissions import Perm

# The scheduled and command-line scans' identity in the gateway's audit trail.
SCANNER_ACTOR = SystemActor("phi-discovery")
_BATCH = 500
# The identifiers that can name a patient (a birth date only confirms a phone match).
IDENTIFYING_KINDS = {"mrn", "national_id", "phone", "name_dob"}


class DiscoveryError(Exception):
    """A scan or triage request that cannot be done; the message says why and what to do."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _require(actor: User | None, perm: Perm) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise PermissionError(f"{perm} is required")


def path_key(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


def scanner_from_settings(**overrides: Any) -> Scanner:
    """The engine with the deployment's limits, MRN format and worker count
    (settings SAFEWARD_DISCOVERY_LIMITS, SAFEWARD_DISCOVERY_MRN_PATTERN,
    SAFEWARD_DISCOVERY_WORKERS; `workers` may be overridden)."""
    workers = overrides.pop("workers", None) or getattr(settings, "SAFEWARD_DISCOVERY_WORKERS", None)
    limits = Limits(**{**getattr(settings, "SAFEWARD_DISCOVERY_LIMITS", {}), **overrides})
    pattern = getattr(settings, "SAFEWARD_DISCOVERY_MRN_PATTERN", None)
    return Scanner(
        limits=limits,
        mrn_pattern=pattern or DEFAULT_MRN_PATTERN,
        workers=int(workers) if workers else default_workers(),
    )


def default_workers() -> int:
    """One worker per core the process may use, at most eight."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(8, usable))


# Distinct values keyed in one scan, at most (the memory of a scan's caches stays bounded).
MAX_CACHED = 2_000_000


class Keying:
    """Keyed hashes of candidates for one scan (ADR 1641): the indexers are
    made once a scan, a value found in several files is keyed once, and a
    name + birth date pair is normalised from its parts, each normalised
    once a scan (a page of patients holds few distinct names and dates but
    as many pairs as rows). Values the normaliser refuses are dropped: not
    ours to match."""

    def __init__(self) -> None:
        keys = blind_index_keys()
        self._indexers = {
            kind: [canonical_indexer(scope=scope, key=key) for key in keys]
            for kind, (_normaliser, scope) in PATIENT_DISCOVERY_INDEXES.items()
        }
        self._hashes: dict[tuple[str, str], tuple[bytes, ...] | None] = {}
        self._names: dict[str, str | None] = {}
        self._dates: dict[str, str | None] = {}

    def probes(self, candidates: dict[str, set[str]]) -> dict[str, list[bytes]]:
        """Each candidate's blind index under every usable blind-index key."""
        probes: dict[str, list[bytes]] = {}
        cache = self._hashes
        for kind, values in candidates.items():
            indexers = self._indexers[kind]
            normaliser = PATIENT_DISCOVERY_INDEXES[kind][0]
            keyed: list[bytes] = []
            for value in values:
                hashes = cache.get((kind, value), ())
                if hashes == ():
                    canonical = self._pair(value) if kind == "name_dob" else _canonical(normaliser, value)
                    hashes = None if canonical is None else tuple(index(canonical) for index in indexers)
                    if len(cache) < MAX_CACHED:
                        cache[(kind, value)] = hashes
                if hashes:
                    keyed.extend(hashes)
            if keyed:
                probes[kind] = keyed
        return probes

    def _pair(self, value: str) -> str | None:
        """`normalise_name_dob((name, date))` of a "Name|YYYY-MM-DD" candidate:
        the name's and the date's normal forms joined by "|"."""
        name, _bar, date = value.partition("|")
        name_form = self._part(self._names, "name", name)
        date_form = self._part(self._dates, "date", date)
        if name_form is None or date_form is None:
            return None
        return f"{name_form}|{date_form}"

    @staticmethod
    def _part(cache: dict[str, str | None], normaliser: str, value: str) -> str | None:
        if value in cache:
            return cache[value]
        form = _canonical(normaliser, value)
        if len(cache) < MAX_CACHED:
            cache[value] = form
        return form


def _canonical(normaliser: str, value: str) -> str | None:
    try:
        return normalise(normaliser, value)
    except ValidationError:
        return None


@dataclass
class ScanSummary:
    scan: DiscoveryScan
    findings: list[DiscoveryFinding] = field(default_factory=list)
    skipped: list[FileResult] = field(default_factory=list)


def _scan_start(
    *, actor: User | None, trigger: str, roots: Sequence[str], asset: Asset | None
) -> DiscoveryScan:
    with transaction.atomic():
        scan = DiscoveryScan.objects.create(
            trigger=trigger,
            started_by_id=actor.pk if actor else None,
            asset=asset,
            roots=list(roots),
            started_at=clock.now(),
        )
        audit_record(
            action=Action.EXECUTE,
            actor=actor,
            actor_username="" if actor else f"system:{SCANNER_ACTOR.name}",
            resource_type="DiscoveryScan",
            resource_id=scan.pk,
            purpose=PurposeOfUse.SECURITY,
            detail={"trigger": trigger, "roots": len(roots), "asset": asset.pk if asset else None},
        )
    return scan


def _priors(entries: Sequence[Entry]) -> dict[str, Prior]:
    keys = {path_key(entry.path): entry.path for entry in entries if not entry.code}
    priors: dict[str, Prior] = {}
    key_list = list(keys)
    for start in range(0, len(key_list), _BATCH):
        for row in ScannedFile.objects.filter(path_key__in=key_list[start : start + _BATCH]):
            if row.sha256:
                priors[keys[row.path_key]] = Prior(row.size, row.mtime_ns, row.sha256)
    return priors


def _remember(scan: DiscoveryScan, result: FileResult) -> None:
    ScannedFile.objects.update_or_create(
        path_key=path_key(result.path),
        defaults={
            "path": result.path,
            "size": result.size,
            "mtime_ns": result.mtime_ns,
            "sha256": result.sha256,
            "status": result.status,
            "protection": result.protection,
            "reason_code": result.code,
            "reason": result.reason[:300],
            "last_scan": scan,
            "seen_at": clock.now(),
        },
    )


def _raise_alert(finding: DiscoveryFinding, event_id: int, at: Any) -> int | None:
    config = rule_config(code=Code.PHI_DISCOVERED)
    if not config.enabled:
        return None
    ((alert_id, _),) = alerts_raise(
        [
            AlertFinding(
                rule=Code.PHI_DISCOVERED,
                severity=config.severity,
                title=f"Plaintext PHI in {finding.asset.name}"[:200],
                subject=f"asset:{finding.asset_id}",
                evidence=[(event_id, at)],
                detail={
                    "finding_id": finding.pk,
                    "asset_id": finding.asset_id,
                    "patients_matched": finding.patients_matched,
                },
            )
        ]
    )
    return alert_id


def _record_finding(
    *, actor: User | None, scan: DiscoveryScan, asset: Asset, result: FileResult, match: DiscoveryMatch
) -> DiscoveryFinding | None:
    counts = {category: result.counts[category] for category in CATEGORIES if result.counts[category]}
    if not (counts or match.patient_ids or result.encrypted):
        return None
    now = clock.now()
    key = path_key(result.path)
    existing = DiscoveryFinding.objects.filter(path_key=key, sha256=result.sha256).first()
    if existing is not None:
        return None  # this content at this path is already a finding
    finding = DiscoveryFinding.objects.create(
        asset=asset,
        scan=scan,
        path=result.path,
        path_key=key,
        sha256=result.sha256,
        size=result.size,
        encrypted=result.encrypted,
        protection=result.protection,
        formats=result.kinds,
        counts=counts,
        matched_by=dict(match.by_kind),
        patient_ids=sorted(match.patient_ids),
        patients_matched=len(match.patient_ids),
        notes=result.notes[:20],
        status=DiscoveryFinding.Status.PROTECTED if result.encrypted else DiscoveryFinding.Status.OPEN,
        created_at=now,
        updated_at=now,
    )
    event = audit_record(
        action=Action.CREATE,
        actor=actor,
        actor_username="" if actor else f"system:{SCANNER_ACTOR.name}",
        resource_type="DiscoveryFinding",
        resource_id=finding.pk,
        purpose=PurposeOfUse.SECURITY,
        detail={
            "scan": scan.pk,
            "asset": asset.pk,
            "encrypted": result.encrypted,
            "categories": sorted(counts),
            "pattern_hits": sum(counts.values()),
            "patients_matched": finding.patients_matched,
        },
    )
    if not result.encrypted:
        alert_id = _raise_alert(finding, event.pk, event.occurred_at)
        if alert_id is not None:
            finding.alert_id = alert_id
            finding.save(update_fields=["alert_id"])
    return finding


def _match(actor: User | None, scan: DiscoveryScan, result: FileResult, keying: Keying) -> DiscoveryMatch:
    probes = keying.probes(result.candidates)
    if not probes.keys() & IDENTIFYING_KINDS:  # a birth date alone names nobody: no lookup
        return DiscoveryMatch(patient_ids=frozenset(), by_kind={})
    return gateway.discovery_match(
        actor=actor or SCANNER_ACTOR,
        session=SessionContext.system(),
        scan_ref=f"scan:{scan.pk}:file:{result.sha256[:16]}",
        probes=probes,
    )


def scan_run(
    *,
    actor: User | None,
    roots: Sequence[str],
    trigger: str,
    asset: Asset | None = None,
    scanner: Scanner | None = None,
    on_plan: Callable[[list[Entry]], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> ScanSummary:
    """Scan `roots` (every file under them, links never followed), match what
    each file holds against our patients, and record findings on `asset` or,
    for a root that is no registered share, on a new unreviewed asset.
    `actor` None is the system (command line, schedule)."""
    _require(actor, Perm.ASSETS_DISCOVERY_RUN)
    if not roots:
        raise DiscoveryError("Give at least one path to scan.", "roots")
    scanner = scanner or scanner_from_settings()
    scan = _scan_start(actor=actor, trigger=trigger, roots=roots, asset=asset)
    summary = ScanSummary(scan)
    entries = list(plan(roots))
    if on_plan:
        on_plan(entries)
    priors = _priors(entries)
    assets_by_root: dict[str, Asset] = {}
    keying = Keying()
    try:
        for result in scanner.scan_all(entries, priors):
            scan.files_seen += 1
            if result.status == Status.UNCHANGED:
                scan.files_unchanged += 1
            elif result.status == Status.SKIPPED:
                scan.files_skipped += 1
                summary.skipped.append(result)
                _remember(scan, result)
            else:
                scan.files_read += 1
                scan.bytes_read += result.size
                scan.files_protected += int(result.encrypted)
                match = _match(actor, scan, result, keying)
                with transaction.atomic():
                    target = asset or assets_by_root.get(result.root)
                    if target is None:
                        target = assets_by_root[result.root] = register_discovered_share(
                            actor=actor, path=result.root
                        )
                    finding = _record_finding(
                        actor=actor, scan=scan, asset=target, result=result, match=match
                    )
                    _remember(scan, result)
                if finding is not None:
                    summary.findings.append(finding)
                    scan.findings_opened += int(finding.status == DiscoveryFinding.Status.OPEN)
                    scan.patients_matched += finding.patients_matched
            if on_file:
                on_file(result)
    except Exception as error:
        scan.status, scan.error = DiscoveryScan.Status.FAILED, f"Stopped by {type(error).__name__}."[:300]
        scan.finished_at = clock.now()
        scan.save()
        raise
    scan.status, scan.finished_at = DiscoveryScan.Status.DONE, clock.now()
    scan.save()
    return summary


def shares_scan(
    *, actor: User | None, trigger: str = DiscoveryScan.Trigger.SCHEDULE, **kwargs: Any
) -> list[ScanSummary]:
    """Scan every registered file share with a local path (the scheduled scan)."""
    from safeward.assets.discovery_selectors import scannable_shares

    return [
        scan_run(actor=actor, roots=[share.location], trigger=trigger, asset=share, **kwargs)
        for share in scannable_shares()
    ]


def share_scan(*, actor: User, asset_id: int) -> ScanSummary:
    """Scan one registered share now (the findings page's button)."""
    from safeward.assets.discovery_selectors import scannable_shares

    share = next((item for item in scannable_shares() if item.pk == asset_id), None)
    if share is None:
        raise DiscoveryError("That asset is not a registered file share with a readable local path.", "asset")
    return scan_run(actor=actor, roots=[share.location], trigger=DiscoveryScan.Trigger.WEB, asset=share)


# --- triage ----------------------------------------------------------------------------------------
TRIAGE_ACTIONS = ("confirm", "remediate", "false_positive")
_TRIAGEABLE = (DiscoveryFinding.Status.OPEN, DiscoveryFinding.Status.CONFIRMED)


def _quarantine_dir() -> Path:
    return Path(getattr(settings, "SAFEWARD_DISCOVERY_QUARANTINE", Path(settings.VAR_DIR) / "quarantine"))


def _same_file(path: Path, sha256: str) -> bool:
    """The file at `path` is a regular file (not a link) with this content."""
    if path.is_symlink() or not path.is_file():
        return False
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == sha256


def _remediate(finding: DiscoveryFinding, how: str) -> str:
    """Carry out or verify the remediation; returns where a moved file went."""
    path = Path(finding.path)
    if how == DiscoveryFinding.Remediation.ENCRYPTED:
        if path.exists() or path.is_symlink():
            result = scanner_from_settings().scan_entry(Entry(str(path), str(path.parent)))
            if not result.encrypted:
                raise DiscoveryError(
                    "The file is still there unencrypted: encrypt or remove it, then mark it again.",
                    "remediation",
                )
        return ""
    if not (path.exists() or path.is_symlink()):
        return ""  # already gone: the custodian removed it
    if not _same_file(path, finding.sha256):
        raise DiscoveryError(
            "The file changed since the scan: scan the share again before removing it.", "remediation"
        )
    if how == DiscoveryFinding.Remediation.DELETED:
        path.unlink()
        return ""
    quarantine = _quarantine_dir()
    quarantine.mkdir(mode=0o700, parents=True, exist_ok=True)
    destination = quarantine / f"finding-{finding.pk}-{path.name}"
    shutil.move(str(path), destination)
    return str(destination)


def finding_triage(
    *, actor: User, finding_id: int, action: str, remediation: str = "", note: str = ""
) -> DiscoveryFinding:
    """confirm / remediate (encrypted, deleted, moved) / false_positive (a reason is required)."""
    _require(actor, Perm.ASSETS_FINDING_TRIAGE)
    note = note.strip()
    if action not in TRIAGE_ACTIONS:
        raise DiscoveryError(f"Choose one of: {', '.join(TRIAGE_ACTIONS)}.", "action")
    if len(note) > 500:
        raise DiscoveryError("Keep the note under 500 characters.", "note")
    if action == "false_positive" and not note:
        raise DiscoveryError("Say why this is a false positive.", "note")
    remediations = [value for value in DiscoveryFinding.Remediation.values if value]
    if action == "remediate" and remediation not in remediations:
        raise DiscoveryError(f"Choose how it was remediated: {', '.join(remediations)}.", "remediation")
    with transaction.atomic():
        finding = DiscoveryFinding.objects.select_for_update().filter(pk=finding_id).first()
        if finding is None:
            raise DiscoveryError("No such finding.", "finding")
        if finding.status not in _TRIAGEABLE:
            raise DiscoveryError(f"The finding is already {finding.get_status_display().lower()}.", "action")
        before = finding.status
        if action == "confirm":
            finding.status = DiscoveryFinding.Status.CONFIRMED
        elif action == "false_positive":
            finding.status = DiscoveryFinding.Status.FALSE_POSITIVE
        else:
            finding.moved_to = _remediate(finding, remediation)
            finding.status, finding.remediation = DiscoveryFinding.Status.REMEDIATED, remediation
        finding.resolution_note = note
        finding.triaged_by_id, finding.triaged_at = actor.pk, clock.now()
        finding.updated_at = finding.triaged_at
        finding.save()
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type="DiscoveryFinding",
            resource_id=finding.pk,
            purpose=PurposeOfUse.SECURITY,
            detail={"from": before, "to": finding.status, "remediation": finding.remediation},
        )
    return finding
