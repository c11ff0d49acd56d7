"""`safeward incidents` — incident cases from the command line.

list [--status S]                          cases, newest first, with their breach clocks
show ID [--hhs]                            one case: tasks, timeline, evidence, deadlines;
                                           --hhs prints the HHS breach report fields
scope ID --actor U --start T --end T       compute the breach scope from the audit trail:
      [--user U ...] [--client C ...]      compromised accounts, OAuth clients, sessions,
      [--session S ...] [--file-hash H ...]  exported files' SHA-256
letters ID --actor U [--mailing-list F]    one encrypted PDF letter per affected patient
                                           (manifested); optionally the mailing list CSV
attach-drill ID --actor U --text T         attach a `safeward drill` result to an exercise
check-deadlines [--dry-run]                breach notices and task due dates near or past:
                                           recorded for `safeward detect` to alert (cron, hourly)"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from safeward import clock
from safeward.clinical.types import SessionContext
from safeward.detection.triage import TriageError
from safeward.identity.models import User
from safeward.identity.selectors import user_by_username
from safeward.incidents import case_services, letters, selectors
from safeward.incidents.deadlines import deadlines_due, deadlines_sweep
from safeward.incidents.models import Incident


def _when(value: str, name: str) -> dt.datetime:
    parsed = parse_datetime(value) or (parse_datetime(value + "T00:00:00") if len(value) == 10 else None)
    if parsed is None:
        raise CommandError(f"--{name}: give an ISO date or time, such as 2026-11-02 or 2026-11-02T09:00:00Z.")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Incident cases: list, show, compute a breach scope, generate notification letters."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        listing = commands.add_parser("list", help="List the cases.")
        listing.add_argument("--status", choices=Incident.Status.values)
        show = commands.add_parser("show", help="Show one case.")
        show.add_argument("incident_id", type=int)
        show.add_argument("--hhs", action="store_true", help="Print the HHS breach report fields.")
        scope = commands.add_parser("scope", help="Compute the breach scope from the audit trail.")
        scope.add_argument("incident_id", type=int)
        scope.add_argument("--actor", required=True, help="Your username (an incident or breach manager).")
        scope.add_argument("--start", required=True)
        scope.add_argument("--end", required=True)
        scope.add_argument("--user", action="append", default=[], help="A compromised account's username.")
        scope.add_argument("--client", action="append", default=[], help="A compromised OAuth client id.")
        scope.add_argument(
            "--session", action="append", default=[], help="A session id (a device's sessions)."
        )
        scope.add_argument("--file-hash", action="append", default=[], help="SHA-256 of an exported file.")
        scope.add_argument("--gdpr", action="store_true", help="GDPR applies (72-hour notice).")
        letter = commands.add_parser("letters", help="Generate the notification letters.")
        letter.add_argument("incident_id", type=int)
        letter.add_argument("--actor", required=True, help="Your username (the privacy officer).")
        letter.add_argument("--mailing-list", type=Path, help="Also write the mailing list CSV here.")
        drill = commands.add_parser("attach-drill", help="Attach a drill result to an exercise.")
        drill.add_argument("incident_id", type=int)
        drill.add_argument("--actor", required=True)
        drill.add_argument("--text", required=True, help="The drill's summary, e.g. its run id and result.")

        deadlines = commands.add_parser(
            "check-deadlines", help="Record near and overdue deadlines; `safeward detect` alerts on them."
        )
        deadlines.add_argument(
            "--dry-run", action="store_true", help="List them only; record nothing (no alerts)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "list":
                self._list(options.get("status") or "")
            elif action == "show":
                self._show(self._incident(options["incident_id"]), hhs=options["hhs"])
            elif action == "scope":
                self._scope(options)
            elif action == "letters":
                self._letters(options)
            elif action == "check-deadlines":
                self._check_deadlines(dry_run=options["dry_run"])
            elif action == "attach-drill":
                case_services.exercise_record(
                    actor=self._actor(options["actor"]),
                    incident_id=options["incident_id"],
                    kind="drill",
                    text=options["text"],
                )
                self.stdout.write(f"Drill result attached to exercise {options['incident_id']}.")
        except TriageError as error:
            raise CommandError(str(error)) from None
        except PermissionDenied as error:
            raise CommandError(f"Not permitted: {error}") from None

    def _check_deadlines(self, *, dry_run: bool) -> None:
        now = clock.now()
        items = deadlines_due(now=now) if dry_run else deadlines_sweep(now=now)
        for item in items:
            self.stdout.write(
                f"#{item.incident_id:<5} {item.state:<8} {item.due:%Y-%m-%d %H:%M} UTC  {item.label}"
            )
        overdue = sum(1 for item in items if item.state == "overdue")
        summary = f"{len(items)} deadline(s) near or past, {overdue} overdue"
        if dry_run:
            self.stdout.write(f"{summary}; nothing recorded (--dry-run).")
        else:
            self.stdout.write(
                f"{summary}; recorded" + ("; `safeward detect` raises their alerts." if items else ".")
            )

    def _actor(self, username: str) -> User:
        user = user_by_username(username=username)
        if user is None or not user.is_active:
            raise CommandError(f"No active account {username!r}: give your own username with --actor.")
        return user

    def _incident(self, incident_id: int) -> Incident:
        incident = selectors.incident_get(incident_id=incident_id)
        if incident is None:
            raise CommandError(f"No incident {incident_id}: `safeward incidents list` shows them.")
        return incident

    def _list(self, status: str) -> None:
        rows, _ = selectors.incidents_page(status=status, before_id=None, size=500)
        for incident in rows:
            breach = selectors.case_breach(incident_id=int(incident.pk))
            clock_text = f"{breach.affected} affected" if breach else "no breach clock"
            self.stdout.write(
                f"#{incident.pk:<5} {incident.status:<10} {incident.severity:<8} {incident.category:<12} "
                f"{'exercise ' if incident.is_exercise else ''}{incident.title} ({clock_text})"
            )
        self.stdout.write(f"{len(rows)} case(s).")

    def _show(self, incident: Incident, *, hhs: bool) -> None:
        self.stdout.write(f"Incident #{incident.pk}: {incident.title}")
        self.stdout.write(
            f"  {incident.get_status_display()} · {incident.get_category_display()} · {incident.severity}"
            f"{' · exercise' if incident.is_exercise else ''}"
        )
        tasks = selectors.case_tasks(incident_id=int(incident.pk))
        done = sum(1 for task in tasks if task.done_at)
        self.stdout.write(f"Tasks: {done}/{len(tasks)} done")
        for task in tasks:
            self.stdout.write(f"  [{'x' if task.done_at else ' '}] {task.title}")
        self.stdout.write("Timeline:")
        for entry in selectors.case_timeline(incident_id=int(incident.pk)):
            star = "*" if entry.for_report else " "
            when = f"{entry.occurred_at:%Y-%m-%d %H:%M} UTC ({entry.time_zone})"
            self.stdout.write(f" {star}{when} {entry.kind}: {entry.text}")
        for item in selectors.case_evidence(incident_id=int(incident.pk)):
            self.stdout.write(f"Evidence #{item.pk} {item.title}: {item.size} bytes, sha256 {item.sha256}")
        breach = selectors.case_breach(incident_id=int(incident.pk))
        if breach is None:
            self.stdout.write("No breach clock yet (`safeward incidents scope`).")
            return
        self.stdout.write(
            f"Breach: {breach.affected} affected; by state {breach.by_state}; "
            f"{breach.stale_contacts} out-of-date contacts"
        )
        now = clock.now()
        for deadline in case_services.breach_deadlines(breach):
            note = " (example rule: legal review)" if deadline.example else ""
            self.stdout.write(
                f"  {deadline.due:%Y-%m-%d} {deadline.state(now):<8} {deadline.label} "
                f"[{deadline.basis}]{note}"
            )
        if hhs:
            for field, value in letters.hhs_report_fields(breach).items():
                self.stdout.write(f"  {field}: {value}")

    def _scope(self, options: dict[str, Any]) -> None:
        actor = self._actor(options["actor"])
        self._incident(options["incident_id"])
        self.stderr.write("Reading the audit trail and the export manifests...")
        assessment = case_services.breach_scope_compute(
            actor=actor,
            session=SessionContext.system(),
            incident_id=options["incident_id"],
            window_start=_when(options["start"], "start"),
            window_end=_when(options["end"], "end"),
            usernames=options["user"],
            client_ids=options["client"],
            session_ids=options["session"],
            file_hashes=options["file_hash"],
            gdpr=options["gdpr"],
        )
        deadlines = case_services.breach_deadlines(assessment)
        self.stdout.write(
            f"Breach scope of incident {options['incident_id']}: {assessment.affected} patients affected, "
            f"{len(assessment.by_state)} state(s), {assessment.stale_contacts} out-of-date contacts; "
            f"{len(deadlines)} notice(s) due, the first by "
            + (f"{deadlines[0].due:%Y-%m-%d}" if deadlines else "nobody")
            + "."
        )

    def _letters(self, options: dict[str, Any]) -> None:
        actor = self._actor(options["actor"])
        incident = self._incident(options["incident_id"])
        if options.get("mailing_list") and options["mailing_list"].exists():
            raise CommandError(f"{options['mailing_list']} exists; choose a new file for the mailing list.")
        breach = selectors.case_breach(incident_id=int(incident.pk))
        total = breach.affected if breach else 0
        from tqdm import tqdm

        with tqdm(total=total, unit="letter", file=sys.stderr, disable=total < 2) as bar:
            batch = letters.letters_generate(
                actor=actor,
                session=SessionContext.system(),
                incident_id=int(incident.pk),
                progress=bar.update,
            )
        self.stdout.write(
            f"{batch.letters} letters written, encrypted, to {batch.directory} "
            f"({batch.undeliverable} without a deliverable address: substitute notice if 10 or more)."
        )
        if options.get("mailing_list"):
            target: Path = options["mailing_list"]
            if target.exists():
                raise CommandError(f"{target} exists; choose a new file for the mailing list.")
            with target.open("x", encoding="utf-8", newline="") as handle:
                for line in letters.mailing_list(
                    actor=actor, session=SessionContext.system(), incident_id=int(incident.pk)
                ):
                    handle.write(line)
            target.chmod(0o600)
            self.stdout.write(f"Mailing list written to {target} (manifested).")
