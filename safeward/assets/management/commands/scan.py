"""`safeward scan phi PATH...` and `safeward scan shares`: the PHI discovery scanner (ADR 0810)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.assets.discovery.engine import Entry, FileResult
from safeward.assets.discovery.formats import Protection
from safeward.assets.discovery_selectors import (
    NO_SHARE_REGISTERED,
    file_shares_registered,
    not_scanned_note,
    unscannable_shares,
)
from safeward.assets.discovery_services import (
    DiscoveryError,
    ScanSummary,
    scan_run,
    scanner_from_settings,
    shares_scan,
)
from safeward.assets.models import DiscoveryScan
from safeward.audit import context as audit_context


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    value = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        if value and value[-1] in units:
            return int(float(value[:-1]) * units[value[-1]])
        return int(value)
    except ValueError:
        raise CommandError(f"{text!r} is not a size; write e.g. 500M or 2G.") from None


class Command(BaseCommand):
    help = (
        "Find patient data in files. `safeward scan phi PATH...` scans folders or files; "
        "`safeward scan shares` scans every registered file-share asset (run it from cron or a timer)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        kinds = parser.add_subparsers(dest="kind", required=True, metavar="{phi,shares}")
        phi = kinds.add_parser("phi", help="Scan these folders or files.")
        phi.add_argument("paths", nargs="+", metavar="PATH")
        shares = kinds.add_parser("shares", help="Scan every registered file share with a local path.")
        for sub in (phi, shares):
            sub.add_argument(
                "--max-file-size",
                default=None,
                help="Files larger than this are recorded, not read (e.g. 2G).",
            )
            sub.add_argument("--no-progress", action="store_true", help="No progress bar.")
            sub.add_argument(
                "--workers",
                type=int,
                default=None,
                help="Processes reading files at once (default: SAFEWARD_DISCOVERY_WORKERS, else one "
                "per core, at most 8).",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["kind"] == "shares" and not file_shares_registered():
            self.stdout.write(NO_SHARE_REGISTERED)
            return
        overrides = {}
        if options["max_file_size"]:
            overrides["max_file_bytes"] = _size(options["max_file_size"])
        if options["workers"] is not None:
            if not 1 <= options["workers"] <= 64:
                raise CommandError("--workers takes a number of processes from 1 to 64.")
            overrides["workers"] = options["workers"]
        scanner = scanner_from_settings(**overrides)
        progress = not options["no_progress"] and sys.stderr.isatty()
        token = audit_context.bind(audit_context.AuditContext(source="cli"))
        started = time.monotonic()
        try:
            hooks = _Progress(enabled=progress)
            if options["kind"] == "phi":
                summaries = [
                    scan_run(
                        actor=None,
                        roots=options["paths"],
                        trigger=DiscoveryScan.Trigger.COMMAND,
                        scanner=scanner,
                        on_plan=hooks.plan,
                        on_file=hooks.file,
                    )
                ]
            else:
                summaries = shares_scan(actor=None, scanner=scanner, on_plan=hooks.plan, on_file=hooks.file)
                if not summaries:
                    # Shares are registered but none is readable here: an unmounted share is a failure.
                    raise CommandError(
                        "No registered file share has a local directory as its location: mount each share "
                        "on this server and set its asset's location to that folder, or retire the asset."
                    )
            hooks.close()
            missed = unscannable_shares() if options["kind"] == "shares" else []
        except DiscoveryError as error:
            raise CommandError(error.message) from None
        finally:
            audit_context.reset(token)
        for summary in summaries:
            self._report(summary)
        elapsed = max(time.monotonic() - started, 1e-9)
        read = sum(summary.scan.bytes_read for summary in summaries)
        self.stdout.write(f"Read {read / 1e6:,.1f} MB in {elapsed:.1f} s ({read / 1e6 / elapsed:,.1f} MB/s).")
        # A registered share not mounted here (a UNC path, a share kept in the
        # register only) is named, not a failure: the readable ones were scanned.
        if missed:
            self.stdout.write("  " + not_scanned_note(missed))

    def _report(self, summary: ScanSummary) -> None:
        scan = summary.scan
        self.stdout.write(
            f"Scan {scan.pk} of {', '.join(scan.roots)}: {scan.files_seen} file(s) and links, "
            f"{scan.files_read} read, {scan.files_unchanged} unchanged since the last scan, "
            f"{scan.files_skipped} not read, {scan.files_protected} encrypted."
        )
        for finding in summary.findings:
            if finding.encrypted:
                label = Protection.LABELS.get(finding.protection, finding.protection)
                self.stdout.write(f"  protected  {finding.path} ({label})")
                continue
            counts = ", ".join(f"{name} {count}" for name, count in finding.counts.items())
            self.stdout.write(
                f"  FINDING {finding.pk}  {finding.path}: holds {finding.patients_matched:,} of our "
                f"patients; {counts or 'no pattern hits'}"
            )
        reasons = Counter(result.code for result in summary.skipped)
        if reasons:
            self.stdout.write(
                "  Not read: " + ", ".join(f"{code} {count}" for code, count in sorted(reasons.items()))
            )
            for result in summary.skipped[:20]:
                self.stdout.write(f"    {result.path}: {result.reason}")
            if len(summary.skipped) > 20:
                self.stdout.write(f"    ... and {len(summary.skipped) - 20} more (see the scan page).")
        opened = scan.findings_opened
        self.stdout.write(
            f"  {opened} finding(s) opened holding {scan.patients_matched:,} patient match(es)"
            + ("; alerts raised for plaintext PHI." if opened else ".")
        )


class _Progress:
    """A bytes progress bar over the planned files."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def plan(self, entries: list[Entry]) -> None:
        from tqdm import tqdm

        if self.bar is not None:
            self.bar.close()
        total = sum(entry.size for entry in entries)
        self.bar = tqdm(
            total=total, unit="B", unit_scale=True, disable=not self.enabled, file=sys.stderr, desc="scan"
        )

    def file(self, result: FileResult) -> None:
        if self.bar is not None:
            self.bar.update(result.size)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
