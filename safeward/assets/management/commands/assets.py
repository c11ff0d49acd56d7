"""`safeward assets` — the information-asset register from the command line.

list                 the register, one asset a line
register-self        register SafeWard's own stores, classified from the model metadata
sweep                record lapsed reviews and assessments (run daily; detection raises the alerts)
import FILE          apply an asset inventory CSV (all rows or none)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.assets import importer, manifests, selectors, services
from safeward.clinical import gateway
from safeward.clinical.types import Forbidden, SessionContext
from safeward.identity.selectors import user_by_username


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
        whence = commands.add_parser(
            "whence", help="Which export a file came from and which patients it holds."
        )
        whence.add_argument("file", type=Path)
        whence.add_argument(
            "--as",
            dest="username",
            required=True,
            help="Your SafeWard username: the patients' record numbers are read in your name, audited.",
        )

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
        elif action == "whence":
            self._whence(options["file"], options["username"])
        else:
            self._import(options["file"])

    def _whence(self, path: Path, username: str) -> None:
        actor = user_by_username(username=username)
        if actor is None or not actor.is_active:
            raise CommandError(f"no active SafeWard account {username!r}; give your own username with --as.")
        try:
            with path.open("rb") as handle:
                digest = manifests.file_sha256(handle)
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        found = list(manifests.manifests_for_hash(sha256=digest))
        self.stdout.write(f"{path}: SHA-256 {digest}")
        if not found:
            self.stdout.write(
                "No export manifest has this hash: the file did not leave SafeWard as it is now."
            )
            return
        for manifest in found:
            try:
                mrns = gateway.manifest_patient_identifiers(
                    actor=actor,
                    session=SessionContext.system(),
                    manifest_id=manifest.pk,
                    patient_ids=manifest.patient_ids,
                )
            except Forbidden:
                raise CommandError(
                    f"{username} may not read export manifests (assets:manifest:read)."
                ) from None
            self.stdout.write(
                f"export manifest {manifest.pk}: {manifest.kind} from {manifest.route} "
                f"at {manifest.created_at:%Y-%m-%d %H:%M} UTC by {manifest.actor_username or 'system'} "
                f"for {manifest.purpose}; sections {', '.join(manifest.sections) or '-'}; "
                f"destination {manifest.destination.name if manifest.destination else 'not recorded'}"
                + (f"; OAuth client {manifest.client_id}" if manifest.client_id else "")
                + ("" if manifest.complete else "; the download was cut short")
            )
            self.stdout.write(f"  {manifest.patient_count} patient(s):")
            for patient_id in manifest.patient_ids:
                self.stdout.write(f"  {patient_id}\t{mrns.get(patient_id, '(no longer on record)')}")
            if not manifests.manifest_verify(manifest=manifest):
                self.stderr.write(
                    f"  manifest {manifest.pk} no longer matches its audited hash: it was altered."
                )

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
