"""`safeward assets` — the information-asset register from the command line.

list                 the register, one asset a line
register-self        register SafeWard's own stores, classified from the model metadata
sweep                record lapsed reviews and assessments (run daily; detection raises the alerts)
import FILE          apply an asset inventory CSV (all rows or none)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.assets import importer, selectors, services


class Command(BaseCommand):
    help = "The information-asset register: list, register SafeWard's stores, sweep lapsed reviews, import."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("list", help="List the registered assets.")
        commands.add_parser(
            "register-self", help="Register SafeWard's own stores, classified from the metadata."
        )
        commands.add_parser("sweep", help="Record lapsed reviews and assessments for detection to alert on.")
        imports = commands.add_parser("import", help="Import an asset inventory CSV (all rows or none).")
        imports.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            assets = selectors.assets_list()
            for asset in assets:
                self.stdout.write(
                    f"{asset.pk}\t{asset.kind}\t{asset.classification or 'unclassified'}\t"
                    f"{asset.review_state}\t{asset.name}"
                )
            self.stdout.write(f"{len(assets)} asset(s).")
        elif action == "register-self":
            for asset in services.assets_register_self(actor=None):
                categories = ", ".join(asset.phi_categories) or "no PHI"
                self.stdout.write(f"{asset.pk}\t{asset.classification}\t{asset.name} ({categories})")
        elif action == "sweep":
            lapsed = services.assets_sweep_lapsed()
            self.stdout.write(
                f"{lapsed} asset(s) with a lapsed review or assessment recorded"
                + ("; `safeward detect` raises their alerts." if lapsed else ".")
            )
        else:
            self._import(options["file"])

    def _import(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        result = importer.csv_import(actor=None, data=data)
        if not result.ok:
            for row_error in result.errors:
                self.stderr.write(f"line {row_error.line}: {row_error.reason}")
            raise CommandError(
                f"{len({e.line for e in result.errors})} bad line(s); nothing applied; fix them, run again."
            )
        self.stdout.write(f"applied: {result.created} registered, {result.updated} updated.")
