"""The periodic jobs in one place (issue 19, ADR 1504).

Every command that docs/operations.md, docs/continuity.md and the other
apps' docs ask to be run from cron is listed here with its cadence, so one
cron line (`*/5 * * * * safeward schedule run-due`) runs whatever is due and
each run is recorded (`ScheduledRun`). The `continuity.scheduled_jobs_current`
control fails when a job has not run successfully within its cadence plus
SAFEWARD_SCHEDULE_GRACE_MINUTES.

Long-running followers (`safeward detect --follow`, `audit seal --follow`,
`notify --follow`) are services, not jobs, and `safeward drill run` needs the
web server and the detection worker: they stay out of the list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.core.management.base import CommandError

from safeward.assets.discovery_selectors import (
    NO_SHARE_REGISTERED,
    file_shares_registered,
    not_scanned_note,
    unscannable_shares,
)

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Job:
    code: str
    argv: tuple[str, ...]  # the `safeward` command and its arguments
    every: dt.timedelta
    what: str
    # What the job has to say in the present state (nothing to do, part of its
    # work not done), else None: asked after a successful run, so the run is a
    # success with a note.
    note: Callable[[], Note | None] | None = None

    @property
    def command(self) -> str:
        return "safeward " + " ".join(self.argv)

    @property
    def every_label(self) -> str:
        minutes = int(self.every.total_seconds() // 60)
        if minutes >= 1440:
            return f"{minutes // 1440} d"
        return f"{minutes // 60} h" if minutes >= 60 else f"{minutes} min"


@dataclass(frozen=True)
class Note:
    """What a job that succeeded has to say to the operator: a reason code
    for the run's closing audit event, the text for the run's `note` (reason
    texts, asset ids and names; never patient data)."""

    code: str
    text: str


def _share_scan_note() -> Note | None:
    """A hospital without file shares has nothing for the scanner, which is
    no failure, but the operator is told how to register one; a registered
    share not mounted here is named, the readable ones were scanned."""
    if not file_shares_registered():
        return Note("no_file_share", NO_SHARE_REGISTERED)
    missed = unscannable_shares()
    return Note("shares_not_scanned", not_scanned_note(missed)) if missed else None


JOBS: tuple[Job, ...] = (
    Job("kits", ("continuity", "kits"), 15 * MINUTE, "downtime kits for every unit"),
    Job("deadlines", ("incidents", "check-deadlines"), HOUR, "breach notices and task due dates"),
    Job("assets_sweep", ("assets", "sweep"), DAY, "lapsed asset reviews and risk assessments"),
    Job("backup", ("backup", "create"), DAY, "encrypted, signed backup (rotates old ones)"),
    Job("backup_verify", ("backup", "verify"), DAY, "the newest backup against its signed manifest"),
    Job(
        "share_scan",
        ("scan", "shares", "--no-progress"),
        DAY,
        "PHI discovery on registered file shares",
        note=_share_scan_note,
    ),
    Job("controls", ("controls", "run", "--scheduled"), DAY, "every control test, signed"),
    Job("vendors", ("vendors", "check"), DAY, "agreement lapses, tacit renewals, reminders"),
    Job("devices", ("devices", "controls", "--sweep"), DAY, "failing compensating controls for detection"),
    Job(
        "devices_consents",
        ("devices", "purge-consents"),
        DAY,
        "consent devices of authorization codes never exchanged",
    ),
    Job("partitions", ("audit", "partitions", "--ahead", "3"), DAY, "audit partitions ahead (PostgreSQL)"),
    Job("restore_test", ("backup", "restore-test"), 7 * DAY, "restore the newest backup and check it"),
)

BY_CODE = {job.code: job for job in JOBS}


# Why a job could not do its work yet, by a code the run row keeps (never a
# message): the operator's next step, shown by `schedule list`, the schedule
# page and the control's evidence.
WAITING_REASONS = {
    "no_backup": "No backup exists yet: run the first backup "
    "(`safeward schedule run-due --only backup --force`, or Run now on the backup job).",
    "no_kit_unit": "No ward is enrolled for downtime kits yet: enrol each ward that keeps a downtime "
    "workstation (`safeward continuity kit-key WARD --out FILE`).",
}


def job_note(job: Job) -> Note | None:
    """What the job has to say in the present state, after a success."""
    return job.note() if job.note is not None else None


class Waiting(CommandError):
    """A job whose prerequisite does not exist yet, e.g. `backup verify` on a
    fresh install: recorded as `waiting` with its reason code, not as failed.
    Its own exit status (3) tells a cron wrapper it is not a failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(WAITING_REASONS[reason], returncode=3)
        self.reason = reason
