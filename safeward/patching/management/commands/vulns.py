"""`safeward vulns` — software inventories and vulnerabilities from the command line.

import-sbom SOURCE (--asset ID | --device ID) [--format F]   an SBOM or package list for one target
import-osv SOURCE          OSV records: a zip or tar.gz export, a JSON or YAML file (incremental)
import-kev SOURCE          CISA's known_exploited_vulnerabilities.json
import-epss SOURCE         the EPSS daily CSV
self-sbom [--output FILE]  SafeWard's own CycloneDX SBOM, registered as its application's inventory
match [--inventory ID]     re-match one inventory; always: group advisories by alias (ADR 1307), re-test
                           exceptions (ending the ones whose controls fail or that expired) and recompute
                           the due dates that moved
report [--json]            open findings by severity, overdue, KEV, due this week, the most urgent,
                           and remediation (mean days, share within deadline) per severity
plans [--status S]         patch plans by maintenance window (default: the open ones)
plan-update ID --status S [--change-ref REF] [--note TEXT]
                           schedule a plan under its change record, mark it applied, or cancel it

SOURCE is a file path or an https:// URL. Long imports show a progress bar on stderr."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.patching import feeds, sbom, selectors, services
from safeward.patching.models import PatchPlan

MAX_DOWNLOAD = feeds.MAX_FEED_BYTES


def read_source(source: str, limit: int = MAX_DOWNLOAD) -> tuple[bytes, str]:
    """(bytes, name) of a file path or an https URL, at most `limit` bytes."""
    if source.startswith("https://"):
        try:
            with urllib.request.urlopen(source, timeout=60) as response:  # noqa: S310 - https only, checked above
                data = response.read(limit + 1)
        except OSError as error:
            raise CommandError(f"could not download {source}: {error}") from None
        if len(data) > limit:
            raise CommandError(f"{source} is larger than {limit:,} bytes.")
        return data, source.rsplit("/", 1)[-1]
    if "://" in source:
        raise CommandError("only https:// URLs or file paths are read.")
    path = Path(source)
    if not path.is_file():
        raise CommandError(f"no file {source}.")
    if path.stat().st_size > limit:
        raise CommandError(f"{source} is larger than {limit:,} bytes.")
    return path.read_bytes(), path.name


class Command(BaseCommand):
    help = "Software inventories, advisories (OSV, KEV, EPSS), matching, exceptions and reports."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        imp = commands.add_parser(
            "import-sbom", help="Import an SBOM or package list for an asset or a device."
        )
        imp.add_argument("source")
        target = imp.add_mutually_exclusive_group(required=True)
        target.add_argument("--asset", type=int)
        target.add_argument("--device", type=int)
        imp.add_argument("--format", default="", choices=["", *sbom.PARSERS])
        for name, text in (
            ("import-osv", "Import OSV records (zip, tar.gz, JSON, YAML)."),
            ("import-kev", "Import the CISA KEV catalog."),
            ("import-epss", "Import the EPSS daily CSV."),
        ):
            commands.add_parser(name, help=text).add_argument("source")
        self_sbom = commands.add_parser("self-sbom", help="SafeWard's own SBOM, registered as its inventory.")
        self_sbom.add_argument("--output", type=Path, help="Also write the CycloneDX JSON here.")
        match = commands.add_parser(
            "match", help="Re-test exceptions, recompute due dates; --inventory re-matches one."
        )
        match.add_argument("--inventory", type=int)
        report = commands.add_parser("report", help="Open findings: counts and the most urgent.")
        report.add_argument("--json", action="store_true")
        plans = commands.add_parser("plans", help="Patch plans by maintenance window.")
        plans.add_argument("--status", default="open", choices=["open", *PatchPlan.Status.values])
        update = commands.add_parser("plan-update", help="Move a patch plan on.")
        update.add_argument("plan", type=int)
        update.add_argument("--status", required=True, choices=sorted(services.PLAN_TRANSITIONS_TARGETS))
        update.add_argument("--change-ref", default="")
        update.add_argument("--note", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, "_" + action.replace("-", "_"))(options)
        except services.PatchingError as error:
            details = "\n  ".join(error.errors)
            raise CommandError(f"{error}\n  {details}") from None

    def _import_sbom(self, options: dict[str, Any]) -> None:
        raw, _ = read_source(options["source"], sbom.MAX_BYTES)
        kind, target = ("asset", options["asset"]) if options["asset"] else ("device", options["device"])
        inventory, stats = services.inventory_import(
            actor=None, target_kind=kind, target_id=target, raw=raw, fmt=options["format"]
        )
        self.stdout.write(
            f"inventory {inventory.pk}: {inventory.component_count} components for {kind} {target};"
            f" {stats.created} new findings, {stats.reopened} reopened, {stats.resolved} resolved."
        )

    def _import_osv(self, options: dict[str, Any]) -> None:
        from tqdm import tqdm

        raw, name = read_source(options["source"])
        with tqdm(desc="OSV records", unit=" records", file=sys.stderr, disable=None) as bar:
            stats = services.osv_import(actor=None, raw=raw, filename=name, progress=bar.update)
        self.stdout.write(
            f"{stats.read} records: {stats.created} new, {stats.updated} updated,"
            f" {stats.unchanged} unchanged, {stats.withdrawn} withdrawn;"
            f" findings: {stats.match.created} new, {stats.match.reopened} reopened,"
            f" {stats.match.resolved} resolved, {stats.match.dropped} dropped (withdrawn)."
        )

    def _import_kev(self, options: dict[str, Any]) -> None:
        raw, _ = read_source(options["source"])
        count, moved = services.kev_import(actor=None, raw=raw)
        self.stdout.write(f"{count} KEV entries; {moved} due dates moved.")

    def _import_epss(self, options: dict[str, Any]) -> None:
        raw, _ = read_source(options["source"])
        count, moved = services.epss_import(actor=None, raw=raw)
        self.stdout.write(f"{count} EPSS scores; {moved} due dates moved.")

    def _self_sbom(self, options: dict[str, Any]) -> None:
        inventory, stats = services.self_register(actor=None)
        if options.get("output"):
            options["output"].write_bytes(services.self_sbom())
        self.stdout.write(
            f"SafeWard's own SBOM: {inventory.component_count} components as the inventory of asset"
            f" {inventory.target_id}; {stats.created} new findings."
        )

    def _match(self, options: dict[str, Any]) -> None:
        if options.get("inventory"):
            inventory = selectors.inventory_get(inventory_id=options["inventory"])
            if inventory is None:
                raise CommandError(f"no inventory {options['inventory']}.")
            stats = services.inventory_match(actor=None, inventory=inventory)
            self.stdout.write(
                f"inventory {inventory.pk}: {stats.created} new, {stats.reopened} reopened,"
                f" {stats.resolved} resolved."
            )
        regrouped = services.advisories_regroup(actor=None)
        self.stdout.write(
            f"aliases: {regrouped.advisories} records regrouped,"
            f" {regrouped.merged} duplicate findings merged."
        )
        counts = services.exceptions_evaluate()
        moved = services.findings_recompute(actor=None)
        self.stdout.write(
            f"exceptions: {counts['valid']} valid, {counts['voided']} voided, {counts['expired']} expired;"
            f" {moved} due dates recomputed."
        )

    def _report(self, options: dict[str, Any]) -> None:
        board = selectors.dashboard()
        urgent = selectors.findings_urgent(limit=20)
        if options["json"]:
            body = {
                "open": board.by_severity,
                "overdue": board.overdue,
                "kev": board.kev,
                "due_this_week": board.due_this_week,
                "sla_met": board.sla_met,
                "remediation_by_severity": [
                    {"severity": name, "fixed": count, "mean_days": round(days, 1), "within_deadline": met}
                    for name, count, days, met in board.mttr_by_severity
                ],
                "most_urgent": [
                    {
                        "id": f.pk,
                        "advisory": f.advisory.osv_id,
                        "aliases": f.advisory.aliases,
                        "severity": f.severity,
                        "kev": f.kev,
                        "target": f"{f.target_kind}:{f.target_id}",
                        "component": f"{f.component_name} {f.component_version}",
                        "due": f.due_at.date().isoformat() if f.due_at else None,
                    }
                    for f in urgent
                ],
            }
            self.stdout.write(json.dumps(body, indent=2))
            return
        counts = ", ".join(f"{count} {severity}" for severity, count in board.by_severity.items())
        self.stdout.write(
            f"open: {counts}; overdue {board.overdue}; KEV {board.kev}; due this week {board.due_this_week}"
        )
        for name, count, days, met in board.mttr_by_severity:
            self.stdout.write(f"  fixed {name}: {count}, mean {days:.1f} days, {met:.0%} within deadline")
        for f in urgent:
            due = f.due_at.date().isoformat() if f.due_at else "-"
            kev = " KEV" if f.kev else ""
            self.stdout.write(
                f"  {due}  {f.severity:<8}{kev:<4} {f.advisory.osv_id:<22}"
                f" {f.component_name} {f.component_version}"
                f"  ({f.target_kind} {f.target_id})"
            )

    def _plans(self, options: dict[str, Any]) -> None:
        shown = list(selectors.plans_list(status=options["status"])[:500])
        for plan in shown:
            late = len(selectors.plan_late_finding_ids(plan=plan))
            self.stdout.write(
                f"  {plan.pk:>6}  {plan.window_start:%Y-%m-%d %H:%M}-{plan.window_end:%H:%M}"
                f"  {plan.status:<9}"
                f" {plan.change_ref or '-':<14} {plan.target_kind}:{plan.target_id}  {plan.title}"
                + (f"  ({late} due before the window ends)" if late else "")
            )
        self.stdout.write(
            f"{len(shown)} plan{'' if len(shown) == 1 else 's'} ({options['status'] or 'all'})."
        )

    def _plan_update(self, options: dict[str, Any]) -> None:
        plan = services.plan_update(
            actor=None,
            plan_id=options["plan"],
            status=options["status"],
            change_ref=options["change_ref"],
            note=options["note"],
        )
        self.stdout.write(
            f"plan {plan.pk}: {plan.get_status_display()}; change record {plan.change_ref or '-'}."
        )
