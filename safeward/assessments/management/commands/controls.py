"""`safeward controls` — the control tests from the command line (issue 18).

list                              the registered control tests and what they map to
run [--only ID ...] [--scheduled] run them (all, or some), sign the run, print a summary
report FRAMEWORK --pdf PATH | --csv PATH | --entries-csv PATH | --oscal PATH
                                  a framework's report from the latest results
verify RUN_ID [--snapshot FILE --public-key PEM]
                                  check a run's signed snapshot (from the database, or
                                  offline from an exported file and the public key)
snapshot RUN_ID PATH [--public-key PEM]
                                  export a run's signed snapshot (and the key) for offline verification
exceptions                        the exceptions and their states

Cron, daily at 02:30: `30 2 * * * safeward controls run --scheduled` (docs/operations.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward.assessments import reports, selectors, services, snapshot
from safeward.assessments.maturity import current_maturity
from safeward.assessments.models import ControlRun
from safeward.audit.signing import PublicKeyVerifier, get_signer
from safeward.compliance import ControlTest, discover


class Command(BaseCommand):
    help = "Control tests: list, run, report per framework, verify a run's signed snapshot, exceptions."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("list", help="List the registered control tests.")
        run = commands.add_parser("run", help="Run the control tests and sign the run.")
        run.add_argument("--only", nargs="+", default=[], metavar="ID", help="Run only these control ids.")
        run.add_argument("--scheduled", action="store_true", help="Record the run as scheduled (cron).")
        report = commands.add_parser("report", help="A framework's report from the latest results.")
        report.add_argument("framework")
        report.add_argument("--pdf", type=Path)
        report.add_argument("--csv", type=Path, help="The per-clause table.")
        report.add_argument("--entries-csv", type=Path, help="Every entry's status.")
        report.add_argument("--oscal", type=Path, help="OSCAL 1.1 assessment results (JSON).")
        verify = commands.add_parser("verify", help="Verify a run's signed snapshot.")
        verify.add_argument("run_id", type=int)
        verify.add_argument("--snapshot", type=Path, help="An exported snapshot file (offline).")
        verify.add_argument("--public-key", type=Path, help="The signing key's public PEM (offline).")
        export = commands.add_parser("snapshot", help="Export a run's signed snapshot.")
        export.add_argument("run_id", type=int)
        export.add_argument("path", type=Path)
        export.add_argument("--public-key", type=Path, help="Also write the signing key's public PEM here.")
        commands.add_parser("exceptions", help="List the exceptions.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list()
        elif action == "run":
            self._run(options["only"], options["scheduled"])
        elif action == "report":
            self._report(options)
        elif action == "verify":
            self._verify(options["run_id"], options["snapshot"], options["public_key"])
        elif action == "snapshot":
            self._snapshot(options["run_id"], options["path"], options["public_key"])
        else:
            self._exceptions()

    def _list(self) -> None:
        tests = discover()
        for test in tests.values():
            self.stdout.write(f"{test.id}\t{test.title}\t{' '.join(test.maps)}")
        self.stdout.write(f"{len(tests)} control test(s).")

    def _run(self, only: list[str], scheduled: bool) -> None:
        def progress(number: int, total: int, test: ControlTest, outcome: str, seconds: float) -> None:
            self.stdout.write(f"[{number}/{total}] {test.id}: {outcome} ({seconds:.2f} s)")

        trigger = ControlRun.Trigger.SCHEDULED if scheduled else ControlRun.Trigger.ON_DEMAND
        try:
            run = services.controls_run(actor=None, trigger=trigger, only=only, progress=progress)
        except services.AssessmentError as error:
            raise CommandError(str(error)) from None
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
        self.stdout.write(
            f"Run {run.pk}: {run.controls_total} test(s) in {seconds:.1f} s — {run.controls_passed} passed, "
            f"{run.controls_failed} failed, {run.controls_error} in error, "
            f"{run.controls_not_applicable} not applicable; {run.resources_failed} of "
            f"{run.resources_total} resource(s) failing."
        )
        self.stdout.write(f"Signed: SHA-256 {run.snapshot_sha256}, key {run.key_id}.")
        if run.controls_error:
            self.stderr.write(
                f"{run.controls_error} test(s) raised: their class names are on the run page"
                f" (/compliance/runs/{run.pk}/)."
            )

    def _report(self, options: dict[str, Any]) -> None:
        key = options["framework"]
        outputs = {name: options[name] for name in ("pdf", "csv", "entries_csv", "oscal") if options[name]}
        if not outputs:
            raise CommandError(
                "Say what to write: --pdf PATH, --csv PATH, --entries-csv PATH or --oscal PATH."
            )
        from safeward.assessments.scoring import catalog

        frameworks = catalog().frameworks
        if key not in frameworks:
            raise CommandError(f"No framework {key!r}; one of: {', '.join(frameworks)}.")
        report = reports.framework_report(key, current_maturity())
        writers = {
            "pdf": lambda: reports.report_pdf(report),
            "csv": lambda: reports.clauses_csv(report.table).encode("utf-8"),
            "entries_csv": lambda: reports.entries_csv(report.table).encode("utf-8"),
            "oscal": lambda: json.dumps(reports.oscal_assessment_results(report), indent=1).encode("utf-8"),
        }
        for name, path in outputs.items():
            try:
                path.write_bytes(writers[name]())
            except OSError as error:
                raise CommandError(f"cannot write {path}: {error.strerror}") from None
            self.stdout.write(f"Wrote {path}.")
        total = report.table.total
        score = "not assessed" if total.score is None else f"{total.score} %"
        self.stdout.write(
            f"{report.table.name}: {score}; {total.assessed} of {total.count} entries assessed, "
            f"{total.passing} passing, {total.failing} failing, {total.excepted} excepted."
        )

    def _run_or_error(self, run_id: int) -> ControlRun:
        run = selectors.run_get(run_id=run_id)
        if run is None:
            raise CommandError(f"No control run {run_id}; `safeward controls run` makes one.")
        return run

    def _verify(self, run_id: int, snapshot_path: Path | None, public_key: Path | None) -> None:
        if (snapshot_path is None) != (public_key is None):
            raise CommandError("Offline verification needs both --snapshot FILE and --public-key PEM.")
        if snapshot_path is not None and public_key is not None:
            try:
                exported = json.loads(snapshot_path.read_text(encoding="utf-8"))
                verifier = PublicKeyVerifier.from_pem([public_key.read_bytes()])
            except OSError as error:
                raise CommandError(f"cannot read {error.filename}: {error.strerror}") from None
            except ValueError as error:
                raise CommandError(f"not a snapshot or not an Ed25519 public key: {error}") from None
            document = exported.get("document", {}) if isinstance(exported, dict) else {}
            if isinstance(document, dict) and document.get("run") != run_id:
                raise CommandError(
                    f"{snapshot_path} is the snapshot of run {document.get('run')}, not {run_id}."
                )
            problems = snapshot.verify_document(exported, verifier)
        else:
            problems = list(services.run_verify_recorded(actor=None, run=self._run_or_error(run_id)).problems)
        if problems:
            raise CommandError(f"Run {run_id} does NOT verify: " + "; ".join(problems))
        self.stdout.write(f"Run {run_id} verifies: its content matches the signed SHA-256 and the signature.")

    def _snapshot(self, run_id: int, path: Path, public_key: Path | None) -> None:
        run = self._run_or_error(run_id)
        if public_key is not None:
            pems = get_signer().public_keys_pem()
            pem = pems.get(run.key_id) or "".join(pems.values())
            if not pem:
                raise CommandError("The signer exports no public key.")
            try:
                public_key.write_text(pem, encoding="ascii")
            except OSError as error:
                raise CommandError(f"cannot write {public_key}: {error.strerror}") from None
            self.stdout.write(f"Wrote the public key to {public_key}.")
        try:
            path.write_text(
                json.dumps(snapshot.export(run), indent=1, sort_keys=True, ensure_ascii=False),
                encoding="utf-8",
            )
        except OSError as error:
            raise CommandError(f"cannot write {path}: {error.strerror}") from None
        self.stdout.write(f"Wrote the signed snapshot of run {run.pk} to {path} (key {run.key_id}).")

    def _exceptions(self) -> None:
        exceptions = selectors.exceptions_list()
        for e in exceptions:
            self.stdout.write(
                f"{e.pk}\t{e.state}\t{e.control_id}\t{e.resource_type} {e.resource_id}\t"
                f"until {e.expires_on.isoformat()}\t{e.requested_by.username}"
                + (f" / {e.approved_by.username}" if e.approved_by else "")
            )
        self.stdout.write(f"{len(exceptions)} exception(s).")
