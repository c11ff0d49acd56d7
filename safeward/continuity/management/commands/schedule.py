"""safeward schedule list|run-due — the periodic jobs in one place (ADR 1504).

    safeward schedule list                       # each job, its cadence, last run and whether it is due
    safeward schedule run-due                    # run what is due, record each run
    safeward schedule run-due --only backup --force   # run one job now, due or not

One cron line runs everything: `*/5 * * * * safeward schedule run-due`.
Exit status 1 when a job it ran failed (each run is recorded either way), 2
for an unknown job. A job waiting for a prerequisite (no backup to verify
yet) is no failure: its line says what to do."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safeward import clock
from safeward.continuity import schedule, selectors, services
from safeward.continuity.models import ScheduledRun


class Command(BaseCommand):
    help = "The periodic jobs: list them with their cadence and last run, or run those that are due."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="operation", required=True)
        sub.add_parser("list", help="Each job, its cadence, its last run and whether it is due.")
        due = sub.add_parser("run-due", help="Run every job that is due (cron: every 5 minutes).")
        due.add_argument("--only", nargs="+", metavar="JOB", help="Only these jobs (codes from `list`).")
        due.add_argument("--force", action="store_true", help="With --only: run them even if not due.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["operation"] == "list":
            self._list()
        else:
            self._run_due(options)

    def _list(self) -> None:
        now = clock.now()
        self.stdout.write(f"{'job':14} {'every':7} {'last run':18} {'outcome':10} {'due':4} command")
        for state in selectors.schedule_states():
            last = state.last
            self.stdout.write(
                f"{state.job.code:14} {state.job.every_label:7} "
                f"{f'{last.started_at:%Y-%m-%d %H:%M}' if last else 'never':18} "
                f"{last.outcome if last else '-':10} {'yes' if state.due(now) else 'no':4} "
                f"{state.job.command}"
            )
            if state.waiting_for:
                self.stdout.write(f"{'':14} {state.waiting_for}")
            elif last is not None and last.note:
                self.stdout.write(f"{'':14} {last.note}")

    def _run_due(self, options: dict[str, Any]) -> None:
        if options["force"] and not options["only"]:
            raise CommandError("--force runs the jobs named with --only, not every job.", returncode=2)

        def said(run: ScheduledRun) -> None:
            line = f"{run.job:14} {run.outcome:10} {run.duration_seconds:8.1f} s"
            if run.outcome == ScheduledRun.Outcome.FAILED:
                line += f"  exit {run.exit_code} ({run.error})"
            elif run.outcome == ScheduledRun.Outcome.WAITING:
                line += "  " + schedule.WAITING_REASONS.get(run.error, run.error)
            elif run.note:
                line += "  " + run.note
            self.stdout.write(line)
            self.stdout.flush()

        try:
            runs = services.schedule_run_due(
                actor=None, only=options["only"], force=options["force"], on_run=said
            )
        except ValueError as unknown:
            raise CommandError(str(unknown), returncode=2) from None
        failed = [run.job for run in runs if run.outcome == ScheduledRun.Outcome.FAILED]
        if failed:
            raise CommandError(f"{len(failed)} of {len(runs)} job(s) failed: {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS(f"{len(runs)} job(s) run, none failed."))
