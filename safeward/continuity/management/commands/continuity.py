"""safeward continuity kits|kit-key|open-kit — downtime kits (docs/continuity.md).

`kits` is meant to run every 15 minutes (cron: `*/15 * * * * safeward
continuity kits`, or the systemd timer in docs/continuity.md): it writes
each unit's encrypted kit to its downtime folder. `kit-key WARD` enrols a
ward and writes its private key for the downtime workstation. `open-kit`
decrypts a kit with that key; with SafeWard stopped use the standalone
`python -m safeward.continuity.offline` instead (no Django, no database)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from safeward.continuity import offline, schedule, selectors, services


class Command(BaseCommand):
    help = "Downtime kits: generate them, enrol a unit's key, open a kit."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="operation", required=True)
        sub.add_parser("kits", help="Write every unit's encrypted downtime kit (run every 15 minutes).")
        key = sub.add_parser("kit-key", help="Enrol a ward as a downtime unit; write its workstation key.")
        key.add_argument("ward", help="The ward's code.")
        key.add_argument("--out", required=True, help="Where to write the private key (for the workstation).")
        key.add_argument(
            "--folder", default="", help="The unit's downtime folder (default under the var dir)."
        )
        numbers = sub.add_parser("numbers", help="Pre-assign downtime encounter numbers to a unit.")
        numbers.add_argument("ward", help="The ward's code (an enrolled unit).")
        numbers.add_argument("--prefix", required=True, help="e.g. DTM1-")
        numbers.add_argument("--count", type=int, default=200)
        opened = sub.add_parser("open-kit", help="Decrypt a kit into a PDF.")
        opened.add_argument("file")
        opened.add_argument("--key", required=True, help="The unit's private key file.")
        opened.add_argument("--out", help="The PDF to write (default: beside the kit).")

    def handle(self, *args: Any, **options: Any) -> None:
        operation = options["operation"]
        if operation == "kits":
            self._kits()
        elif operation == "kit-key":
            self._kit_key(options)
        elif operation == "numbers":
            self._numbers(options)
        else:
            argv = [options["file"], "--key", options["key"]]
            if options.get("out"):
                argv += ["--out", options["out"]]
            if offline.main(argv) != 0:
                raise CommandError("The kit could not be opened (see the message above).")

    def _kits(self) -> None:
        units = selectors.kit_units()
        if not units:
            # Nothing enrolled is a step the operator has not taken yet, not a
            # broken job: its own outcome in the schedule (exit 3, ADR 1505).
            raise schedule.Waiting("no_kit_unit")
        with tqdm(total=len(units), file=sys.stderr, unit="unit", disable=not sys.stderr.isatty()) as bar:
            try:
                kits = services.kits_generate_all(on_unit=lambda _unit: bar.update(1))
            except services.KitRefused as refused:
                raise CommandError(str(refused)) from None
        patients = sum(kit.patients for kit in kits)
        self.stdout.write(self.style.SUCCESS(f"{len(kits)} downtime kits written ({patients} patients)."))

    def _kit_key(self, options: dict[str, Any]) -> None:
        out = Path(options["out"])
        if out.exists():
            raise CommandError(f"{out} exists: choose a new file (a key is never overwritten).")
        try:
            unit, private = services.kit_unit_enrol(
                actor=None, ward_code=options["ward"], folder=options["folder"]
            )
        except services.KitRefused as refused:
            raise CommandError(str(refused)) from None
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(private)
        self.stdout.write(
            self.style.SUCCESS(
                f"Ward {unit.ward_code} enrolled; kits go to {unit.folder}. Its private key is in {out}: "
                "move it to the ward's downtime workstation and delete it here."
            )
        )

    def _numbers(self, options: dict[str, Any]) -> None:
        unit = selectors.kit_unit_by_code(ward_code=options["ward"])
        if unit is None:
            raise CommandError(f"{options['ward']} is no downtime unit: enrol it with `kit-key` first.")
        try:
            assigned = services.number_range_assign(
                actor=None, unit=unit, prefix=options["prefix"], count=options["count"]
            )
        except services.RecoveryRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Ward {unit.ward_code}: downtime encounter numbers {assigned.prefix}{assigned.first} "
                f"to {assigned.prefix}{assigned.last}. Print them on the ward's paper forms."
            )
        )
