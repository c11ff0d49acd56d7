"""The demo hospital's continuity record (issue 19): the last seven nightly
backups at 02:00 and a restore test of the night before last that passed in
41 s, so the dashboard and the controls `continuity.backup_recent` and
`continuity.restore_test_within_90_days` have a history to show.

These are records only (``file_name`` says so). The real backup and restore
test come from the schedule's first tick, `seed_scheduled_runs` (ADR 1506).
Idempotent: the demo rows are replaced on every run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from safeward import clock
from safeward.continuity import services
from safeward.continuity.selectors import schedule_states

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext


KIT_WARDS = 2
CONTROLS_JOB = "controls"


def seed_continuity(ctx: SeedContext) -> None:
    nights = services.backup_history_seed_demo(now=clock.now())
    ctx.write(f"Continuity: {nights} nightly backup records, one restore test passed.")
    for code, key_path in services.kits_seed_demo(wards=KIT_WARDS):
        ctx.write(f"Downtime kit for ward {code}; its workstation key (demo only): {key_path}")


def seed_scheduled_runs(ctx: SeedContext) -> None:
    """The schedule's first tick, for real (ADR 1506): each periodic job that
    has never succeeded runs once through the scheduler, as cron's first
    `schedule run-due` would, so the schedule page and
    `continuity.scheduled_jobs_current` show true runs of this demo hospital.
    The `controls` job goes last, so its control run sees the others' runs.

    Jobs that already succeeded are left alone, however long ago: seeding
    again runs nothing (a seed step leaves the database as it found it), and
    keeping the schedule current afterwards is cron's job (`safeward schedule
    run-due`, or Run now on the schedule page)."""
    never = [state.job.code for state in schedule_states() if state.last_success is None]
    first = [code for code in never if code != CONTROLS_JOB]
    runs = services.schedule_run_due(actor=None, only=first, force=True) if first else []
    if CONTROLS_JOB in never:
        runs += services.schedule_run_due(actor=None, only=[CONTROLS_JOB], force=True)
    for run in runs:
        ctx.write(f"Scheduled job {run.job}: {run.outcome} in {run.duration_seconds:.1f} s.")
