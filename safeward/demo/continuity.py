"""The demo hospital's continuity record (issue 19): the last seven nightly
backups at 02:00 and a restore test of the night before last that passed in
41 s, so the dashboard and the controls `continuity.backup_recent` and
`continuity.restore_test_within_90_days` have a history to show.

These are records only (``file_name`` says so): the demo seed runs in one
transaction, which a dump cannot see. `safeward backup create` and
`safeward backup restore-test` make and test a real one on the demo server.
Idempotent: the demo rows are replaced on every run.

After the seed commits, `seed_schedule` runs the periodic jobs that are due
through the scheduler, for real (ADR 1505): a real backup of the seeded
hospital, its verification and restore test, the kits, the sweeps and a
control run, each recorded as a `ScheduledRun`, so
`continuity.scheduled_jobs_current` judges real runs. A second seed runs
only what has fallen due since."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from safeward import clock
from safeward.continuity import services

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext


KIT_WARDS = 2


def seed_continuity(ctx: SeedContext) -> None:
    nights = services.backup_history_seed_demo(now=clock.now())
    ctx.write(f"Continuity: {nights} nightly backup records, one restore test passed.")
    for code, key_path in services.kits_seed_demo(wards=KIT_WARDS):
        ctx.write(f"Downtime kit for ward {code}; its workstation key (demo only): {key_path}")


def seed_schedule(ctx: SeedContext) -> None:
    started = time.monotonic()

    def said(run: Any) -> None:  # a ScheduledRun (the demo reads continuity through its services)
        line = f"Scheduled job {run.job}: {run.outcome} in {run.duration_seconds:.1f} s"
        if run.outcome == "failed":
            line += f" (exit {run.exit_code}, {run.error}): run-due --only {run.job} --force shows why"
        ctx.write(line)

    runs = services.schedule_run_due(actor=None, on_run=said)
    ctx.write(f"Periodic jobs: {len(runs)} run through the scheduler in {time.monotonic() - started:.1f} s.")
