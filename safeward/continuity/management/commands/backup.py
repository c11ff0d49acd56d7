"""safeward backup create|verify|restore-test|list — encrypted, signed backups
and the restore test that proves them (docs/continuity.md).

Run `create` nightly and `restore-test` weekly (cron or a systemd timer, see
docs/continuity.md). `check-restored` is internal: the restore test runs it
in a child process whose only database is the scratch copy."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from safeward.continuity import conf, engine, schedule, selectors, services
from safeward.continuity.bundle import BackupError


class Command(BaseCommand):
    help = "Encrypted, signed backups: create, verify, restore-test, list."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="operation", required=True)
        create = sub.add_parser(
            "create", help="Dump the database and document store into an encrypted, signed backup."
        )
        create.add_argument(
            "--target",
            metavar="s3://BUCKET/PREFIX",
            help="Upload to this S3-compatible bucket "
            "(default: SAFEWARD_BACKUP_TARGET, else the backup folder).",
        )
        verify = sub.add_parser("verify", help="Check a backup against its signed manifest (offline).")
        verify.add_argument("file", nargs="?", help="The .swb file (default: the newest backup).")
        verify.add_argument("--deep", action="store_true", help="Also decrypt every member (needs the KEK).")
        verify.add_argument("--public-key", help="PEM file of the signing key: verify with no database.")
        restore = sub.add_parser(
            "restore-test", help="Restore the newest backup into a scratch database and check it."
        )
        restore.add_argument("--sample", type=int, default=20, help="Values decrypted per encrypted field.")
        restore.add_argument(
            "--exercise",
            type=int,
            help="Attach the result to this exercise (default: the quarter's restore-drill exercise).",
        )
        sub.add_parser("list", help="The backups and restore tests on record.")
        check = sub.add_parser("check-restored", help="(internal) check this process's database, print JSON.")
        check.add_argument("--sample", type=int, default=20)

    def handle(self, *args: Any, **options: Any) -> None:
        operation = options["operation"]
        try:
            if operation == "create":
                self._create(options.get("target"))
            elif operation == "verify":
                self._verify(options)
            elif operation == "restore-test":
                self._restore_test(options["sample"], options.get("exercise"))
            elif operation == "list":
                self._list()
            else:
                self.stdout.write(json.dumps(engine.checks_here(sample=max(1, options["sample"]))))
        except BackupError as error:
            raise CommandError(f"{error}") from None

    def _progress(self, total: int) -> Any:
        return tqdm(total=total, file=sys.stderr, unit="step", disable=not sys.stderr.isatty())

    def _create(self, target: str | None) -> None:
        with self._progress(3) as bar:
            backup = services.backup_create(
                actor=None,
                progress=lambda message: (bar.set_description(message), bar.update(1)),
                target=target,
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {backup.file_name}: {backup.tables} tables, {backup.rows} rows, "
                f"{backup.documents} documents, {backup.size_bytes} bytes encrypted, "
                f"{backup.duration_seconds:.1f} s; manifest signed ({backup.signature_key_id}). "
                f"In {backup.location or conf.backup_dir()}; the newest {conf.backup_keep()} are kept."
            )
        )

    def _verify(self, options: dict[str, Any]) -> None:
        pem = None
        if options.get("public_key"):
            try:
                pem = Path(options["public_key"]).read_text(encoding="ascii")
            except OSError as error:
                raise CommandError(f"Cannot read the public key file: {error.strerror}") from None
        if options.get("file"):
            path = Path(options["file"])
            body = services.backup_verify_file(path, deep=options["deep"], public_key_pem=pem)
        else:
            newest = services.backup_newest()
            if newest is None:
                # A fresh install, not a broken backup: its own outcome in the schedule (exit 3).
                raise schedule.Waiting("no_backup")
            # In the backup folder, or streamed back from its S3 target (ADR 1507).
            with services.backup_file(newest) as path:
                body = services.backup_verify_file(path, deep=options["deep"], public_key_pem=pem)
        self.stdout.write(
            self.style.SUCCESS(
                f"{path.name}: signature and hash verified"
                f"{' and every member decrypted' if options['deep'] else ''}; {len(body['tables'])} tables, "
                f"{sum(body['tables'].values())} rows, created {body['created_at']}."
            )
        )

    def _restore_test(self, sample: int, exercise: int | None) -> None:
        if sample < 1:
            raise CommandError("--sample must be at least 1.")
        with self._progress(2) as bar:
            result = services.backup_restore_test(
                actor=None,
                sample=sample,
                progress=lambda message: (bar.set_description(message), bar.update(1)),
                exercise_id=exercise,
            )
        summary = (
            f"Restore test of {result.backup.file_name}: {result.tables_checked} tables / "
            f"{result.rows_checked} rows matched, {result.audit_events_verified} audit events verified, "
            f"{result.phi_values_decrypted} values decrypted in {result.phi_fields_checked} encrypted "
            "fields; "
            f"{result.duration_seconds:.1f} s (RTO evidence), attached to exercise #{result.exercise_id}."
        )
        if not result.passed:
            raise CommandError(summary + " FAILED: " + "; ".join(result.problems[:5]))
        self.stdout.write(self.style.SUCCESS(summary))

    def _list(self) -> None:
        for backup in selectors.backups_recent(limit=50):
            self.stdout.write(
                f"{backup.created_at:%Y-%m-%d %H:%M} {backup.state:9} {backup.engine:10} "
                f"{backup.size_bytes:>12} {backup.file_name or backup.error}"
                f"{' in ' + backup.location if backup.location else ''}"
            )
        status = selectors.continuity_status()
        last = status.last_restore_test
        self.stdout.write(
            f"Last restore test: {last.started_at:%Y-%m-%d %H:%M} {'passed' if last.passed else 'FAILED'}"
            if last
            else "No restore test yet: run `safeward backup restore-test`."
        )
