"""Reads of the continuity app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import OuterRef, QuerySet, Subquery

from safeward.continuity import schedule
from safeward.continuity.models import (
    Backup,
    Downtime,
    DowntimeNumberRange,
    Kit,
    KitUnit,
    PaperEntry,
    RestoreTest,
    ScheduledRun,
)

DOWNTIME_CACHE_KEY = "continuity:downtime:active"
DOWNTIME_CACHE_SECONDS = 15


@dataclass(frozen=True)
class DowntimeState:
    id: int
    kind: str
    state: str
    reason: str
    started_at: str | None


def backups_recent(*, limit: int = 20) -> QuerySet[Backup]:
    return Backup.objects.select_related("created_by").order_by("-created_at")[:limit]


def restore_tests_recent(*, limit: int = 20) -> QuerySet[RestoreTest]:
    return RestoreTest.objects.select_related("backup", "run_by").order_by("-started_at")[:limit]


def backup_last_verified() -> Backup | None:
    return Backup.objects.filter(state__in=[Backup.State.VERIFIED]).order_by("-created_at").first()


def restore_test_last() -> RestoreTest | None:
    return RestoreTest.objects.select_related("backup").order_by("-started_at").first()


def restore_test_last_passed() -> RestoreTest | None:
    return RestoreTest.objects.filter(passed=True).select_related("backup").order_by("-started_at").first()


def downtime_open() -> Downtime | None:
    """The downtime declared or waiting for confirmation, if any."""
    return (
        Downtime.objects.filter(state__in=[Downtime.State.PENDING, Downtime.State.ACTIVE])
        .select_related("declared_by", "confirmed_by")
        .first()
    )


def downtime_by_id(*, downtime_id: int) -> Downtime | None:
    return Downtime.objects.filter(pk=downtime_id).first()


def downtimes_recent(*, limit: int = 20) -> QuerySet[Downtime]:
    return Downtime.objects.select_related("declared_by", "confirmed_by", "ended_by").order_by(
        "-declared_at"
    )[:limit]


def downtime_active_cached() -> DowntimeState | None:
    """The active downtime, from the cache: one lookup per request (the
    services clear it on every change; it expires after 15 s in any case)."""
    found = cache.get(DOWNTIME_CACHE_KEY)
    if found is None:
        row = Downtime.objects.filter(state=Downtime.State.ACTIVE).first()
        found = (
            DowntimeState(
                row.pk,
                row.kind,
                row.state,
                row.reason,
                row.started_at.isoformat() if row.started_at else None,
            )
            if row
            else False
        )
        cache.set(DOWNTIME_CACHE_KEY, found, DOWNTIME_CACHE_SECONDS)
    return found or None


@dataclass(frozen=True)
class ContinuityStatus:
    last_backup: Backup | None
    last_restore_test: RestoreTest | None
    downtime: Downtime | None


def continuity_status() -> ContinuityStatus:
    return ContinuityStatus(backup_last_verified(), restore_test_last(), downtime_open())


def kit_units() -> list[KitUnit]:
    return list(KitUnit.objects.order_by("ward_code"))


def kit_last(*, unit: KitUnit) -> Kit | None:
    return Kit.objects.filter(unit=unit).order_by("-generated_at").first()


@dataclass(frozen=True)
class KitFreshness:
    unit: KitUnit
    last: Kit | None


def kits_freshness() -> list[KitFreshness]:
    return [KitFreshness(unit, kit_last(unit=unit)) for unit in kit_units()]


def kit_units_for_department(*, department_id: int | None) -> list[KitUnit]:
    if department_id is None:
        return []
    return list(KitUnit.objects.filter(department_id=department_id).order_by("ward_code"))


def kit_unit_by_code(*, ward_code: str) -> KitUnit | None:
    return KitUnit.objects.filter(ward_code=ward_code).first()


def paper_entries(*, state: str | None = None) -> QuerySet[PaperEntry]:
    entries = PaperEntry.objects.select_related(
        "downtime", "performed_by", "entered_by", "verified_by", "charted_by"
    )
    return entries.filter(state=state) if state else entries


def paper_entry_by_id(*, entry_id: int) -> PaperEntry | None:
    return PaperEntry.objects.select_related("downtime", "performed_by").filter(pk=entry_id).first()


def downtimes_for_recovery() -> QuerySet[Downtime]:
    return Downtime.objects.filter(state__in=[Downtime.State.ACTIVE, Downtime.State.ENDED]).order_by(
        "-declared_at"
    )


def number_ranges() -> QuerySet[DowntimeNumberRange]:
    return DowntimeNumberRange.objects.select_related("unit").order_by("prefix", "first")


@dataclass(frozen=True)
class JobState:
    """A periodic job with its newest attempt and newest success."""

    job: schedule.Job
    last: ScheduledRun | None
    last_success: ScheduledRun | None

    def due(self, now: dt.datetime) -> bool:
        """Due when it has not succeeded within its cadence; a failed attempt is
        retried after at most an hour (not at every `run-due`), a running one never."""
        if self.last is not None and self.last.outcome == ScheduledRun.Outcome.RUNNING:
            return False
        if self.last_success is not None and now - self.last_success.started_at < self.job.every:
            return False
        retry = min(self.job.every, dt.timedelta(hours=1))
        return self.last is None or now - self.last.started_at >= retry

    def next_due_at(self) -> dt.datetime | None:
        """When `run-due` runs it next (the moment `due` turns true), or None:
        never run (due at once) or running now."""
        if self.last is None or self.last.outcome == ScheduledRun.Outcome.RUNNING:
            return None
        after_success = self.last_success.started_at + self.job.every if self.last_success else None
        if self.last.outcome == ScheduledRun.Outcome.SUCCEEDED:
            return after_success
        retry = self.last.started_at + min(self.job.every, dt.timedelta(hours=1))
        return max(retry, after_success) if after_success else retry

    def overdue(self, now: dt.datetime, grace: dt.timedelta) -> bool:
        """No success within its cadence plus the grace: the control fails on it."""
        return self.last_success is None or now - self.last_success.started_at > self.job.every + grace

    @property
    def failed(self) -> bool:
        return self.last is not None and self.last.outcome == ScheduledRun.Outcome.FAILED

    @property
    def waiting_for(self) -> str:
        """The operator's next step when the newest run is waiting, else ""."""
        if self.last is None or self.last.outcome != ScheduledRun.Outcome.WAITING:
            return ""
        return schedule.WAITING_REASONS.get(self.last.error, "")


def schedule_states() -> list[JobState]:
    """Every job of the schedule with its newest run and newest success (two queries)."""
    codes = [job.code for job in schedule.JOBS]
    newest = ScheduledRun.objects.filter(job=OuterRef("job")).order_by("-started_at").values("pk")[:1]
    last = {run.job: run for run in ScheduledRun.objects.filter(job__in=codes, pk=Subquery(newest))}
    newest_ok = (
        ScheduledRun.objects.filter(job=OuterRef("job"), outcome=ScheduledRun.Outcome.SUCCEEDED)
        .order_by("-started_at")
        .values("pk")[:1]
    )
    ok = {run.job: run for run in ScheduledRun.objects.filter(job__in=codes, pk=Subquery(newest_ok))}
    return [JobState(job, last.get(job.code), ok.get(job.code)) for job in schedule.JOBS]


def scheduled_runs_since(*, since: dt.datetime) -> list[ScheduledRun]:
    """The runs started at or after `since`, oldest first (a tick's summary)."""
    return list(ScheduledRun.objects.filter(started_at__gte=since).order_by("started_at", "pk"))


def schedule_state(*, code: str) -> JobState | None:
    return next((state for state in schedule_states() if state.job.code == code), None)
