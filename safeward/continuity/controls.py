"""The continuity control tests (safeward/compliance.py, issue 19).

* `continuity.backup_recent`: the newest verified backup is younger than
  SAFEWARD_BACKUP_MAX_AGE_HOURS (26 h: a nightly backup with slack).
* `continuity.restore_test_within_90_days`: a restore test passed within
  SAFEWARD_RESTORE_TEST_MAX_AGE_DAYS (90).
* `continuity.scheduled_jobs_current`: each periodic job of the schedule
  (continuity/schedule.py) succeeded within its cadence plus
  SAFEWARD_SCHEDULE_GRACE_MINUTES (ADR 1504).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.compliance import Check, control
from safeward.continuity import conf, selectors


@control(
    "continuity.backup_recent",
    title="A verified, encrypted backup was made within the last day",
    maps=(
        "hipaa:164.308(a)(7)(ii)(A)",
        "hipaa:164.310(d)(2)(iv)",
        "hicp:4.M.D",
        "iso27001-2022:A.8.13",
        "csf2:PR.DS-11",
    ),
)
def backup_recent(now: dt.datetime) -> Iterator[Check]:
    from safeward.continuity.schedule import WAITING_REASONS

    backup = selectors.backup_last_verified()
    limit = dt.timedelta(hours=conf.backup_max_age_hours())
    evidence = {
        "created_at": backup.created_at.isoformat() if backup else None,
        "sha256": backup.sha256 if backup else None,
        "max_age_hours": conf.backup_max_age_hours(),
    }
    if backup is None and not selectors.backups_recent(limit=1).exists():
        evidence["next_step"] = WAITING_REASONS["no_backup"]  # a fresh install, not a broken backup
    yield Check(
        "backup",
        str(backup.pk) if backup else "none",
        backup.file_name if backup else "no verified backup",
        passed=backup is not None and now - backup.created_at <= limit,
        evidence=evidence,
    )


@control(
    "continuity.restore_test_within_90_days",
    title="A backup was restored and checked within the last 90 days",
    maps=(
        "hipaa:164.308(a)(7)(ii)(B)",
        "hipaa:164.308(a)(7)(ii)(D)",
        "hicp:4.M.D",
        "iso27001-2022:A.8.13",
        "iso27001-2022:A.5.30",
        "csf2:RC.RP-03",
    ),
)
def restore_test_within_90_days(now: dt.datetime) -> Iterator[Check]:
    test = selectors.restore_test_last_passed()
    limit = dt.timedelta(days=conf.restore_test_max_age_days())
    yield Check(
        "restore_test",
        str(test.pk) if test else "none",
        f"restore test {test.started_at:%Y-%m-%d}" if test else "no passed restore test",
        passed=test is not None and now - test.started_at <= limit,
        evidence={
            "started_at": test.started_at.isoformat() if test else None,
            "duration_seconds": round(test.duration_seconds, 2) if test else None,
            "rows_checked": test.rows_checked if test else 0,
            # The exercise the drill's result is attached to (incidents.annual_exercise counts it).
            "exercise": test.exercise_id if test else None,
            "max_age_days": conf.restore_test_max_age_days(),
        },
    )


@control(
    "continuity.downtime_kits_fresh",
    title="Every downtime unit has a kit younger than 30 minutes",
    maps=(
        "hipaa:164.308(a)(7)(ii)(C)",
        "hipaa:164.308(a)(7)(ii)(B)",
        "iso27001-2022:A.5.29",
        "iso27001-2022:A.5.30",
        "csf2:RC.RP-01",
        "hicp:4.M.D",
    ),
)
def downtime_kits_fresh(now: dt.datetime) -> Iterator[Check]:
    from safeward.continuity.kits import kit_max_age_minutes

    limit = dt.timedelta(minutes=kit_max_age_minutes())
    for item in selectors.kits_freshness():
        last = item.last
        yield Check(
            "downtime_unit",
            str(item.unit.pk),
            item.unit.ward_code,
            passed=last is not None and now - last.generated_at <= limit,
            evidence={
                "last_kit": last.generated_at.isoformat() if last else None,
                "max_age_minutes": kit_max_age_minutes(),
                "sha256": last.sha256 if last else None,
            },
        )


@control(
    "continuity.bia_complete",
    title="Every asset a clinical service depends on has its RTO and RPO recorded",
    maps=("hipaa:164.308(a)(7)(ii)(E)", "iso27001-2022:A.5.30", "csf2:RC.RP-01"),
)
def bia_complete(now: dt.datetime) -> Iterator[Check]:
    from safeward.continuity.bia import impact_analysis

    for impact in impact_analysis():
        missing = [a.name for a in impact.assets if a.rto_minutes is None or a.rpo_minutes is None]
        yield Check(
            "clinical_service",
            impact.service,
            impact.service,
            passed=not missing,
            evidence={
                "assets": [a.name for a in impact.assets],
                "missing_objectives": missing,
                "rto_minutes": impact.rto_minutes,
                "rpo_minutes": impact.rpo_minutes,
            },
        )


@control(
    "continuity.scheduled_jobs_current",
    title="Every periodic job ran successfully within its cadence",
    maps=(
        "hipaa:164.308(a)(7)(ii)(A)",
        "hipaa:164.308(a)(8)",
        "iso27001-2022:A.8.13",
        "iso27001-2022:A.5.30",
        "csf2:ID.IM-02",
    ),
)
def scheduled_jobs_current(now: dt.datetime) -> Iterator[Check]:
    grace = dt.timedelta(minutes=conf.schedule_grace_minutes())
    for state in selectors.schedule_states():
        success = state.last_success
        evidence = {
            "every_minutes": int(state.job.every.total_seconds() // 60),
            "last_success": success.started_at.isoformat() if success else None,
            "last_outcome": state.last.outcome if state.last else None,
            "last_error": state.last.error if state.last else "",
        }
        if state.waiting_for:
            evidence["next_step"] = state.waiting_for
        yield Check(
            "scheduled_job",
            state.job.code,
            state.job.command,
            passed=not state.overdue(now, grace),
            evidence=evidence,
        )
