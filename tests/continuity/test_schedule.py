"""The schedule (ADR 1504): one list of periodic jobs, `safeward schedule
run-due` runs what is due and records each run, and the control fails when a
job has not succeeded within its cadence."""

from __future__ import annotations

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

from safeward.audit.models import AuditEvent
from safeward.continuity import schedule, services
from safeward.continuity.models import ScheduledRun

pytestmark = pytest.mark.django_db

ALL = {job.code for job in schedule.JOBS}


class Recorder:
    def __init__(self, failing: dict[tuple[str, ...], Exception] | None = None) -> None:
        self.ran: list[tuple[str, ...]] = []
        self.failing = failing or {}

    def __call__(self, argv: tuple[str, ...]) -> None:
        self.ran.append(argv)
        if argv in self.failing:
            raise self.failing[argv]


def test_every_job_is_a_real_command_with_arguments_it_accepts():
    commands = get_commands()
    for job in schedule.JOBS:
        assert job.argv[0] in commands, job.code
        parser = load_command_class(commands[job.argv[0]], job.argv[0]).create_parser("safeward", job.argv[0])
        parser.parse_args(list(job.argv[1:]))  # exits on an argument the command does not take
    assert len(ALL) == len(schedule.JOBS)
    # The documented cron work is all here (docs/operations.md, docs/continuity.md).
    assert {"kits", "backup", "backup_verify", "restore_test", "deadlines", "vendors", "controls"} <= ALL


def test_run_due_runs_each_job_once_then_only_what_falls_due(frozen_clock):
    first = Recorder()
    runs = services.schedule_run_due(actor=None, runner=first)
    assert {run.job for run in runs} == ALL
    assert all(run.outcome == ScheduledRun.Outcome.SUCCEEDED and run.finished_at for run in runs)
    assert sorted(first.ran) == sorted(job.argv for job in schedule.JOBS)

    again = Recorder()
    assert services.schedule_run_due(actor=None, runner=again) == []
    assert again.ran == []

    frozen_clock.advance(minutes=16)
    assert [run.job for run in services.schedule_run_due(actor=None, runner=Recorder())] == ["kits"]
    frozen_clock.advance(hours=1)
    assert {run.job for run in services.schedule_run_due(actor=None, runner=Recorder())} == {
        "kits",
        "deadlines",
    }
    frozen_clock.advance(days=1)
    due = {run.job for run in services.schedule_run_due(actor=None, runner=Recorder())}
    assert due == ALL - {"restore_test"}
    assert AuditEvent.objects.filter(resource_type="continuity.scheduled_run", action="execute").count() == (
        ScheduledRun.objects.count()
    )


def test_a_failing_job_is_recorded_and_the_others_still_run(frozen_clock):
    backup = schedule.BY_CODE["backup"].argv
    verify = schedule.BY_CODE["backup_verify"].argv
    runner = Recorder(
        {backup: CommandError("disk full at /srv/backups", returncode=3), verify: KeyError("x")}
    )
    runs = {run.job: run for run in services.schedule_run_due(actor=None, runner=runner)}
    assert len(runs) == len(ALL)
    assert (runs["backup"].outcome, runs["backup"].exit_code, runs["backup"].error) == (
        "failed",
        3,
        "CommandError",
    )
    assert (runs["backup_verify"].exit_code, runs["backup_verify"].error) == (1, "KeyError")
    assert runs["kits"].outcome == "succeeded"
    # The message never reaches the record (it may name a patient or a path).
    event = AuditEvent.objects.filter(resource_id=str(runs["backup"].pk), action="update").get()
    assert "disk full" not in str(event.detail)

    # A failure is retried within the hour, not at every run-due, and not the successes.
    frozen_clock.advance(minutes=30)
    assert {run.job for run in services.schedule_run_due(actor=None, runner=Recorder())} == {"kits"}
    frozen_clock.advance(minutes=31)
    retried = {run.job for run in services.schedule_run_due(actor=None, runner=Recorder())}
    assert {"backup", "backup_verify"} <= retried
    assert "vendors" not in retried


def test_a_job_running_elsewhere_is_not_started_twice_until_it_goes_stale(frozen_clock):
    from safeward import clock

    ScheduledRun.objects.create(job="backup", started_at=clock.now())
    runner = Recorder()
    services.schedule_run_due(actor=None, runner=runner, only=["backup"], force=True)
    assert runner.ran == []
    frozen_clock.advance(hours=13)
    runs = services.schedule_run_due(actor=None, runner=runner, only=["backup"], force=True)
    assert [run.job for run in runs] == ["backup"]
    stale = ScheduledRun.objects.filter(job="backup").order_by("started_at").first()
    assert (stale.outcome, stale.error) == ("failed", "Stale")


def test_a_job_interrupted_mid_run_is_closed_as_failed_and_the_interrupt_goes_on(frozen_clock):
    # The demo server stops its run-due tick with SIGINT (ADR 1654): the job it
    # was in must not stay `running` (due again only once stale, 12 h later).
    runner = Recorder({schedule.BY_CODE["backup"].argv: KeyboardInterrupt()})
    with pytest.raises(KeyboardInterrupt):
        services.schedule_run_due(actor=None, runner=runner, only=["kits", "backup", "vendors"])
    runs = {run.job: run for run in ScheduledRun.objects.all()}
    assert (runs["backup"].outcome, runs["backup"].exit_code, runs["backup"].error) == (
        "failed",
        130,
        "Interrupted",
    )
    assert runs["backup"].finished_at is not None
    assert "vendors" not in runs  # the interrupt stops the tick, as Ctrl-C would
    frozen_clock.advance(hours=1)
    assert "backup" in {run.job for run in services.schedule_run_due(actor=None, runner=Recorder())}


def test_only_and_force_run_a_job_that_is_not_due(frozen_clock):
    services.schedule_run_due(actor=None, runner=Recorder())
    runner = Recorder()
    assert services.schedule_run_due(actor=None, runner=runner, only=["vendors"]) == []
    runs = services.schedule_run_due(actor=None, runner=runner, only=["vendors"], force=True)
    assert [run.job for run in runs] == ["vendors"]
    assert runner.ran == [("vendors", "check")]
    with pytest.raises(ValueError, match="unknown job nope"):
        services.schedule_run_due(actor=None, runner=runner, only=["nope"])


def test_the_command_runs_a_real_job_and_lists_it(capsys):
    call_command("schedule", "run-due", "--only", "deadlines", "--force")
    assert "1 job(s) run, none failed." in capsys.readouterr().out
    run = ScheduledRun.objects.get(job="deadlines")
    assert (run.outcome, run.exit_code) == ("succeeded", 0)
    call_command("schedule", "list")
    out = capsys.readouterr().out
    assert "safeward incidents check-deadlines" in out
    assert "never" in out
    line = next(line for line in out.splitlines() if line.startswith("deadlines "))
    assert "succeeded" in line
    assert line.split()[-4] == "no"


def test_the_command_refuses_bad_arguments_and_exits_1_on_a_failed_job(monkeypatch):
    with pytest.raises(CommandError) as unknown:
        call_command("schedule", "run-due", "--only", "nope")
    assert unknown.value.returncode == 2
    with pytest.raises(CommandError) as forced:
        call_command("schedule", "run-due", "--force")
    assert forced.value.returncode == 2
    assert not ScheduledRun.objects.exists()

    def broken(argv):
        raise CommandError("nope", returncode=1)

    monkeypatch.setattr(services, "_call", broken)
    with pytest.raises(CommandError, match="1 of 1 job"):
        call_command("schedule", "run-due", "--only", "vendors", "--force")
    assert ScheduledRun.objects.get(job="vendors").outcome == "failed"


def test_a_due_share_scan_with_no_share_is_a_success_with_a_note(capsys, tmp_path):
    """The real `scan shares` job on an installation without file shares
    (ADR 1504's schedule): succeeded, exit 0, the note on the run-due line
    and its reason code on the run's closing audit event; nothing scanned."""
    from safeward.assets.models import DiscoveryScan
    from safeward.assets.services import register_discovered_share

    call_command("schedule", "run-due", "--only", "share_scan", "--force")
    out = capsys.readouterr().out
    run = ScheduledRun.objects.get(job="share_scan")
    assert (run.outcome, run.exit_code, run.error) == ("succeeded", 0, "")
    line = next(line for line in out.splitlines() if line.startswith("share_scan "))
    assert "nothing to scan" in line
    assert "1 job(s) run, none failed." in out
    closing = AuditEvent.objects.get(resource_id=str(run.pk), action="update")
    assert closing.detail["note"] == "no_file_share"
    assert not DiscoveryScan.objects.exists()

    register_discovered_share(actor=None, path=str(tmp_path))
    call_command("schedule", "run-due", "--only", "share_scan", "--force")
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("share_scan "))
    assert "succeeded" in line
    assert "nothing to scan" not in line
    latest = ScheduledRun.objects.filter(job="share_scan").order_by("-started_at", "-pk").first()
    assert "note" not in AuditEvent.objects.get(resource_id=str(latest.pk), action="update").detail
    assert DiscoveryScan.objects.count() == 1
