"""The demo hospital's continuity record (issue 19): the last seven nightly
backups at 02:00 and a restore test of the night before last that passed in
41 s, so the dashboard and the controls `continuity.backup_recent` and
`continuity.restore_test_within_90_days` have a history to show.

These are records only (``file_name`` says so): the demo seed runs in one
transaction, which a dump cannot see. `safeward backup create` and
`safeward backup restore-test` make and test a real one on the demo server.
Idempotent: the demo rows are replaced on every run."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
