"""`safeward audit ...`: seal, verify, export, partitions, archive, and the
database role and key set-up. See docs/audit.md for how to run each in
production (systemd units for the two `--follow` loops)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from safeward import clock
from safeward.audit import conf, signing


def _parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date or time (2026-01-31)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# A range longer than this is far more likely a typo (--to 2204-01) than a
# trail: 50 years, 600 partitions of each table.
MAX_MONTHS = 600


def _parse_month(value: str) -> dt.datetime:
    matched = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if matched and int(matched[1]) >= 1970 and 1 <= int(matched[2]) <= 12:
        return dt.datetime(int(matched[1]), int(matched[2]), 1, tzinfo=dt.UTC)
    raise argparse.ArgumentTypeError(f"{value!r} is not a month: YYYY-MM, from 1970-01 (2024-01)")


def _months_between(first: dt.datetime, last: dt.datetime) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


class Command(BaseCommand):
    help = "The audit trail: seal, verify, export, partitions, archive, db-role, seal-key."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        seal = sub.add_parser("seal", help="seal unsealed events into signed blocks")
        seal.add_argument("--follow", action="store_true", help="keep sealing every --interval seconds")
        seal.add_argument("--interval", type=float, default=1.0)

        verify = sub.add_parser("verify", help="verify the whole trail against seals and checkpoints")
        verify.add_argument("--since", type=_parse_time, help="start at the first seal sealed at or after")
        verify.add_argument("--checkpoints", type=Path, help="checkpoint file (default: the configured one)")
        verify.add_argument("--no-progress", action="store_true")
        verify.add_argument(
            "--workers",
            type=int,
            help="processes verifying segments in parallel (PostgreSQL; default: the CPU count)",
        )

        export = sub.add_parser("export", help="send sealed events to the SIEM")
        export.add_argument("--sink", choices=("syslog", "jsonl"), default="syslog")
        export.add_argument("--name", help="cursor name (default: the sink)")
        export.add_argument("--host", default="127.0.0.1")
        export.add_argument("--port", type=int, default=6514)
        export.add_argument("--tls", action="store_true", help="RFC 5425 TLS (IHE ATNA)")
        export.add_argument("--ca-file")
        export.add_argument("--cert-file")
        export.add_argument("--key-file")
        export.add_argument("--body", choices=("fhir", "cef"), default="fhir")
        export.add_argument("--path", type=Path, help="jsonl file")
        export.add_argument("--follow", action="store_true")
        export.add_argument("--interval", type=float, default=1.0)

        partitions = sub.add_parser(
            "partitions",
            help="create monthly partitions ahead, or for an older trail with --from (PostgreSQL)",
        )
        partitions.add_argument(
            "--from",
            dest="first",
            type=_parse_month,
            metavar="YYYY-MM",
            help="first month to create (default: the current one); for loading or restoring an older trail",
        )
        last = partitions.add_mutually_exclusive_group()
        last.add_argument("--ahead", type=int, help="months after the current one (default 3)")
        last.add_argument(
            "--to", dest="last", type=_parse_month, metavar="YYYY-MM", help="last month to create"
        )

        archive = sub.add_parser("archive", help="archive sealed periods older than the retention")
        archive.add_argument("--before", type=_parse_time, help="archive seals before this time instead")
        archive.add_argument("--dry-run", action="store_true")

        verify_archive = sub.add_parser("verify-archive", help="verify an archive file offline")
        verify_archive.add_argument("file", type=Path)
        verify_archive.add_argument("--public-key", type=Path, action="append", required=True)
        verify_archive.add_argument("--checkpoints", type=Path)

        load = sub.add_parser("load-archive", help="decrypt an archive into a JSON-lines file")
        load.add_argument("file", type=Path)
        load.add_argument("--output", type=Path, required=True)

        sub.add_parser("seal-key", help="create the local Ed25519 seal key and print its public key")
        role = sub.add_parser("db-role", help="print SQL for a PostgreSQL role without UPDATE/DELETE")
        role.add_argument("--role", default="safeward_app")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        getattr(self, f"do_{action}")(**options)

    # --- seal --------------------------------------------------------------

    def _loop(self, interval: float, work: Any) -> None:
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            work()
            time.sleep(interval)

    def do_seal(self, *, follow: bool, interval: float, **_: Any) -> None:
        from safeward.audit.sealing import audit_seal_pending

        def once() -> None:
            seals = audit_seal_pending()
            if seals and not follow:
                count = sum(seal.event_count for seal in seals)
                self.stdout.write(
                    f"sealed {count} events in {len(seals)} blocks (up to seal {seals[-1].number})"
                )
            elif not follow:
                self.stdout.write("nothing to seal")

        if follow:
            self._loop(interval, once)
        else:
            once()

    # --- verify --------------------------------------------------------------

    def do_verify(
        self,
        *,
        since: dt.datetime | None,
        checkpoints: Path | None,
        no_progress: bool,
        workers: int | None,
        **_: Any,
    ) -> None:
        from django.db.models import Sum
        from tqdm import tqdm

        from safeward.audit.models import AuditSeal
        from safeward.audit.verification import audit_verify

        total = AuditSeal.objects.aggregate(total=Sum("event_count"))["total"] or 0
        started = time.monotonic()
        with tqdm(
            total=total, unit="ev", disable=no_progress or not sys.stderr.isatty(), file=sys.stderr
        ) as bar:
            report = audit_verify(
                since=since,
                checkpoint_path=checkpoints,
                progress=bar.update,
                workers=max(1, workers or os.cpu_count() or 1),
            )
        elapsed = time.monotonic() - started
        summary = (
            f"{report.seals} seals, {report.events} events, {report.checkpoints} external checkpoints "
            f"checked in {elapsed:.1f} s; {report.unsealed} events not sealed yet"
        )
        if report.archived_seals:
            summary += f"; seals up to {report.archived_seals} are archived"
        self._record_verification(report)
        if report.ok:
            self.stdout.write(f"OK: {summary}")
            return
        for problem in sorted(report.problems)[:20]:
            self.stderr.write(problem.describe())
        first = report.first_bad
        assert first is not None
        raise CommandError(
            f"FAILED: first bad sequence number {first.event_id} ({first.kind}); "
            f"{len(report.problems)} problems; {summary}"
        )

    def _record_verification(self, report: Any) -> None:
        """The verification is itself audited; a failure is what the
        detection rule `audit_chain_failure` alerts on."""
        from django.db import transaction

        from safeward.audit.services import audit_record
        from safeward.audit.vocabulary import Action, Outcome

        with transaction.atomic():
            audit_record(
                action=Action.AUDIT_VERIFY,
                outcome=Outcome.SUCCESS if report.ok else Outcome.ERROR,
                actor_username="system:cli",
                resource_type="AuditTrail",
                detail={"seals": report.seals, "events": report.events, "problems": len(report.problems)},
                source="cli",
            )

    # --- export --------------------------------------------------------------

    def do_export(self, **options: Any) -> None:
        from safeward.audit import export

        sink: export.SiemSink
        name = options["name"] or options["sink"]
        if options["sink"] == "jsonl":
            path = options["path"] or conf.audit_dir() / "export.jsonl"
            sink = export.JsonLinesSink(path, name=name)
            encode = export.item_json_line
        else:
            tls = (
                export.syslog_tls_context(
                    ca_file=options["ca_file"], cert_file=options["cert_file"], key_file=options["key_file"]
                )
                if options["tls"]
                else None
            )
            sink = export.SyslogSink(host=options["host"], port=options["port"], tls=tls, name=name)
            host = export.hostname()

            def encode(item: export.ExportItem) -> bytes:
                return export.item_syslog(item, hostname=host, body_format=options["body"])

        delay = options["interval"]

        def once() -> None:
            nonlocal delay
            try:
                sent = export.audit_export_pending(sink=sink, encode=encode, limit=conf.export_batch())
            except OSError as error:
                # Retried until acknowledged: back off up to a minute.
                self.stderr.write(f"export to {name} failed ({type(error).__name__}); retrying")
                delay = min(max(delay * 2, 1.0), 60.0)
                time.sleep(delay)
                return
            delay = options["interval"]
            if sent and not options["follow"]:
                self.stdout.write(f"exported {sent} messages to {name}")

        if options["follow"]:
            self._loop(options["interval"], once)
        else:
            once()

    # --- partitions ----------------------------------------------------------

    def do_partitions(
        self, *, first: dt.datetime | None, last: dt.datetime | None, ahead: int | None, **_: Any
    ) -> None:
        """Idempotent: months that exist are counted and skipped, so a run cut
        short is finished by running it again. Not audited: creating storage
        for months discloses and changes no event (rows moved out of DEFAULT
        are copied unchanged and still verify), and no partition operation
        is (ADR 1653)."""
        from safeward.audit.partitions import partitions_ensure_between

        this_month = clock.now().astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if ahead is not None and ahead < 0:
            raise CommandError("--ahead must be 0 or more months")
        first = first or this_month
        if last is None:
            last = this_month
            for _month in range(3 if ahead is None else ahead):
                last = (last + dt.timedelta(days=32)).replace(day=1)
        if first > last:
            raise CommandError(
                f"--from {first:%Y-%m} is after the last month, {last:%Y-%m}: nothing to create"
            )
        months = _months_between(first, last)
        if months > MAX_MONTHS:
            raise CommandError(
                f"{first:%Y-%m} to {last:%Y-%m} is {months} months, more than {MAX_MONTHS}; "
                "check the months, or create them in several runs"
            )
        if connection.vendor != "postgresql":
            self.stdout.write("partitions exist only on PostgreSQL; nothing to do")
            return

        def step(table: str, names: list[str], moved: int) -> None:
            line = f"{table}: created {names[0]}" + (f" .. {names[-1]}" if len(names) > 1 else "")
            self.stdout.write(line + (f", moved {moved} rows out of DEFAULT" if moved else ""))

        result = partitions_ensure_between(first=first, last=last, progress=step)
        self.stdout.write(
            f"created {len(result.created)} partitions for {first:%Y-%m} to {last:%Y-%m} "
            f"({months} months, 2 tables); {result.existing} existed already; "
            f"{result.moved} rows moved out of DEFAULT"
        )

    # --- archive -------------------------------------------------------------

    def do_archive(self, *, before: dt.datetime | None, dry_run: bool, **_: Any) -> None:
        from safeward.audit.archive import audit_archive_create

        cutoff = before or clock.now() - dt.timedelta(days=conf.retention_days())
        result = audit_archive_create(actor=None, before=cutoff, dry_run=dry_run)
        if result is None:
            self.stdout.write(f"nothing sealed before {cutoff.isoformat()} to archive")
            return
        self.stdout.write(
            f"{'would archive' if dry_run else 'archived'} seals {result.first_seal}-{result.last_seal} "
            f"({result.event_count} events) to {result.file_name}"
        )

    def do_verify_archive(
        self, *, file: Path, public_key: list[Path], checkpoints: Path | None, **_: Any
    ) -> None:
        from safeward.audit.archive import archive_verify_offline

        verifier = signing.PublicKeyVerifier.from_pem([path.read_bytes() for path in public_key])
        problems = archive_verify_offline(path=file, verifier=verifier, checkpoint_path=checkpoints)
        if problems:
            for line in problems[:20]:
                self.stderr.write(line)
            raise CommandError(f"FAILED: {problems[0]}")
        self.stdout.write(f"OK: {file.name} verifies")

    def do_load_archive(self, *, file: Path, output: Path, **_: Any) -> None:
        from safeward.audit.archive import archive_load

        count = archive_load(path=file, output=output)
        self.stdout.write(f"wrote {count} events to {output}")

    # --- set-up --------------------------------------------------------------

    def do_seal_key(self, **_: Any) -> None:
        path = conf.seal_key_file()
        signer = signing.LocalEd25519Signer(path, create=True)
        for key_id, pem in signer.public_keys_pem().items():
            self.stdout.write(f"# {key_id}\n{pem}")

    def do_db_role(self, *, role: str, **_: Any) -> None:
        from safeward.audit.dbguard import APPEND_ONLY_TABLES, LINK_TABLE

        if not role.replace("_", "").isalnum():
            raise CommandError("the role name may hold letters, digits and underscores only")
        tables = ", ".join((*APPEND_ONLY_TABLES, LINK_TABLE))
        self.stdout.write(
            f"-- Run as the database owner. The application connects as {role}.\n"
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {tables} FROM {role};\n"
            f"GRANT SELECT, INSERT ON {tables} TO {role};\n"
            f"GRANT USAGE ON SEQUENCE audit_auditevent_seq, {LINK_TABLE}_seq TO {role};\n"
            f"GRANT SELECT, INSERT, UPDATE ON audit_auditexportcursor TO {role};\n"
        )
