"""`safeward workforce apply-due` — apply terminations whose moment has come
and escalate overdue access-review items (run it every minute from cron or
the task runner; the request path refuses an ended account even if it is late).

`safeward workforce import FILE` — apply an HR CSV export as a whole, or
report every bad line and apply nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.workforce import importer, services


class Command(BaseCommand):
    help = "Workforce lifecycle: apply due terminations and escalations, import HR changes."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("apply-due", help="Apply due terminations; escalate overdue review items.")
        imports = commands.add_parser("import", help="Import an HR CSV export (all rows or none).")
        imports.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "apply-due":
            terminated = services.terminations_apply_due()
            escalated = services.review_items_escalate_due()
            self.stdout.write(f"terminations applied: {terminated}; review items escalated: {escalated}")
            return
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        result = importer.csv_import(actor=None, data=data, source="cli")
        if not result.ok:
            for row_error in result.errors:
                self.stderr.write(f"line {row_error.line}: {row_error.reason}")
            raise CommandError(f"{len({e.line for e in result.errors})} bad line(s); nothing was applied.")
        summary = ", ".join(f"{key} {value}" for key, value in result.summary().items())
        self.stdout.write(f"applied: {summary}")
