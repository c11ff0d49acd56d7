"""`safeward import fhir PATH...`: load FHIR R4 transaction bundles (Synthea)."""  # noqa: N999 - the command is named `import`

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.audit import context as audit_context
from safeward.clinical.importer import bundle_paths, import_bundles


class Command(BaseCommand):
    help = "Import clinical data. `safeward import fhir PATH...` loads FHIR R4 bundles (files or folders)."

    def add_arguments(self, parser: CommandParser) -> None:
        kinds = parser.add_subparsers(dest="kind", required=True, metavar="{fhir}")
        fhir = kinds.add_parser("fhir", help="FHIR R4 transaction bundles, e.g. Synthea output.")
        fhir.add_argument(
            "paths", nargs="+", metavar="PATH", help="Bundle files or folders of *.json bundles."
        )
        fhir.add_argument("--no-progress", action="store_true", help="No progress bar.")
        fhir.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Processes that read and validate bundles while this one writes "
            "(default: one less than the CPUs, at least 0; 0 = all in this process).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths = bundle_paths(options["paths"])
        if not paths:
            raise CommandError("No bundle files found.")
        token = audit_context.bind(audit_context.AuditContext(source="cli"))
        try:
            workers = options["workers"]
            if workers is None:
                workers = max(0, (os.cpu_count() or 1) - 1)
            if workers < 0:
                raise CommandError("--workers must be 0 or more.")
            self._run(paths, progress=not options["no_progress"] and sys.stderr.isatty(), workers=workers)
        finally:
            audit_context.reset(token)

    def _run(self, paths: list[Any], *, progress: bool, workers: int) -> None:
        from tqdm import tqdm

        started = time.monotonic()
        imported = already = failed = empty = 0
        counts: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        bar = tqdm(total=len(paths), unit="bundle", disable=not progress, file=sys.stderr)
        for result in import_bundles(paths, workers=workers):
            bar.update(1)
            skipped.update(result.skipped)
            if result.error:
                failed += 1
                self.stderr.write(f"SKIPPED {result.path}: {result.error} (nothing of it was saved)")
            elif result.imported:
                imported += 1
                counts.update(result.counts)
            elif result.already_present:
                already += 1
            else:
                empty += 1
        bar.close()
        elapsed = max(time.monotonic() - started, 1e-9)
        resources = sum(counts.values())
        self.stdout.write(
            f"{len(paths)} bundle(s): {imported} imported, {already} already present, "
            f"{empty} without a patient, {failed} failed."
        )
        if counts:
            self.stdout.write("Imported: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        if skipped:
            self.stdout.write(
                "Skipped (not modelled): " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
            )
        self.stdout.write(
            f"{resources} resources in {elapsed:.1f} s ({resources / elapsed:.0f} resources/s)."
        )
        if failed:
            raise CommandError(f"{failed} bundle(s) could not be imported; see the messages above.")
