"""The continuity control tests: each fails with nothing or something stale and passes when fresh."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock, compliance
from safeward.continuity import controls, schedule, services
from safeward.continuity.models import Backup, RestoreTest, ScheduledRun
from tests.continuity.conftest import enrol as _enrol

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "continuity.backup_recent": "test_backup_recent_fails_without_a_fresh_backup",
    "continuity.restore_test_within_90_days": "test_restore_test_fails_when_none_passed_within_90_days",
    "continuity.downtime_kits_fresh": "test_kit_freshness_control",
    "continuity.bia_complete": "test_bia_complete_fails_on_a_service_asset_without_objectives",
    "continuity.scheduled_jobs_current": "test_scheduled_jobs_fail_when_one_has_not_run_in_its_cadence",
}

NOW = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)


def test_the_controls_are_registered_with_their_catalog_entries():
    found = {cid: test for cid, test in compliance.discover().items() if cid.startswith("continuity.")}
    assert set(found) == set(COVERED_CONTROLS)
    assert "hipaa:164.308(a)(7)(ii)(A)" in found["continuity.backup_recent"].maps


def _backup(at):
    return Backup.objects.create(
        created_at=at, engine="sqlite", state=Backup.State.VERIFIED, file_name="x.swb"
    )


def test_backup_recent_fails_without_a_fresh_backup():
    assert not next(controls.backup_recent(NOW)).passed
    _backup(NOW - dt.timedelta(days=3))
    assert not next(controls.backup_recent(NOW)).passed
    _backup(NOW - dt.timedelta(hours=2))
    assert next(controls.backup_recent(NOW)).passed


def _test(backup, *, days, passed):
    RestoreTest.objects.create(
        backup=backup, started_at=NOW - dt.timedelta(days=days), duration_seconds=3, passed=passed
    )


def test_restore_test_fails_when_none_passed_within_90_days():
    assert not next(controls.restore_test_within_90_days(NOW)).passed
    backup = _backup(NOW - dt.timedelta(days=1))
    RestoreTest.objects.create(
        backup=backup, started_at=NOW - dt.timedelta(days=1), duration_seconds=3, passed=False
    )
    assert not next(controls.restore_test_within_90_days(NOW)).passed
    RestoreTest.objects.create(
        backup=backup, started_at=NOW - dt.timedelta(days=100), duration_seconds=3, passed=True
    )
    assert not next(controls.restore_test_within_90_days(NOW)).passed
    RestoreTest.objects.create(
        backup=backup, started_at=NOW - dt.timedelta(days=2), duration_seconds=3, passed=True
    )
    assert next(controls.restore_test_within_90_days(NOW)).passed


def test_kit_freshness_control(ward_with_patient, tmp_path):
    unit, _key = _enrol(tmp_path)
    now = clock.now()
    assert not next(controls.downtime_kits_fresh(now)).passed
    services.kit_generate(unit=unit)
    assert next(controls.downtime_kits_fresh(clock.now())).passed
    assert not next(controls.downtime_kits_fresh(clock.now() + dt.timedelta(minutes=31))).passed


def test_bia_complete_fails_on_a_service_asset_without_objectives():
    from safeward.assets import services as asset_services

    assert list(controls.bia_complete(NOW)) == []
    values = {"name": "EHR database", "kind": "database", "clinical_services": ["Inpatient care"]}
    asset = asset_services.asset_create(actor=None, values=values)
    results = list(controls.bia_complete(NOW))
    assert [(c.label, c.passed) for c in results] == [("Inpatient care", False)]
    asset_services.asset_update(
        actor=None, asset_id=asset.pk, values={**values, "rto_minutes": 240, "rpo_minutes": 1440}
    )
    assert [c.passed for c in controls.bia_complete(NOW)] == [True]


def _ran(job: str, *, ago: dt.timedelta, outcome: str = "succeeded") -> None:
    ScheduledRun.objects.create(job=job, started_at=NOW - ago, finished_at=NOW - ago, outcome=outcome)


def test_scheduled_jobs_fail_when_one_has_not_run_in_its_cadence(settings):
    settings.SAFEWARD_SCHEDULE_GRACE_MINUTES = 30
    checks = {check.resource_id: check for check in controls.scheduled_jobs_current(NOW)}
    assert set(checks) == {job.code for job in schedule.JOBS}
    assert not any(check.passed for check in checks.values())

    for job in schedule.JOBS:
        _ran(job.code, ago=job.every)
    assert all(check.passed for check in controls.scheduled_jobs_current(NOW))

    # The daily backup last succeeded 25 h ago; since then only failures.
    ScheduledRun.objects.filter(job="backup").delete()
    _ran("backup", ago=dt.timedelta(hours=25))
    _ran("backup", ago=dt.timedelta(hours=1), outcome="failed")
    checks = {check.resource_id: check for check in controls.scheduled_jobs_current(NOW)}
    assert not checks["backup"].passed
    assert checks["backup"].evidence["last_outcome"] == "failed"
    assert [code for code, check in checks.items() if not check.passed] == ["backup"]
