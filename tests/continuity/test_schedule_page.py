"""The schedule on a page and over REST (ADR 1505): each job's cadence, last
run, next due and its overdue / failed / waiting flags; Run now for the IT
administrator, through the same service as `schedule run-due --only JOB
--force`, audited under the operator's name. A fresh install's `backup
verify` is waiting for the first backup, not failed, and says so."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.continuity import controls, schedule, selectors, services
from safeward.continuity.models import ScheduledRun
from tests.api.test_error_shape import assert_error_shape

pytestmark = pytest.mark.django_db

GRACE = dt.timedelta(minutes=60)


def _ok(argv):
    return None


def _state(code: str) -> selectors.JobState:
    found = selectors.schedule_state(code=code)
    assert found is not None
    return found


def test_next_due_and_flags_follow_the_runs(frozen_clock):
    never = _state("vendors")
    assert (never.next_due_at(), never.overdue(clock.now(), GRACE), never.failed) == (None, True, False)
    started = clock.now()
    services.schedule_run_due(actor=None, only=["vendors"], force=True, runner=_ok)
    done = _state("vendors")
    assert done.next_due_at() == started + dt.timedelta(days=1)
    assert not done.overdue(clock.now(), GRACE)
    frozen_clock.advance(days=1, minutes=61)
    assert _state("vendors").overdue(clock.now(), GRACE)

    def broken(argv):
        raise RuntimeError("x")

    failed_at = clock.now()
    services.schedule_run_due(actor=None, only=["vendors"], force=True, runner=broken)
    failed = _state("vendors")
    assert failed.failed
    # Retried within the hour (the success is older than a day already).
    assert failed.next_due_at() == failed_at + dt.timedelta(hours=1)


def test_backup_verify_on_a_fresh_install_waits_for_the_first_backup(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    settings.SAFEWARD_BACKUP_DIR = str(tmp_path / "backups")
    with pytest.raises(CommandError, match="No backup exists yet: run the first backup") as waiting:
        call_command("backup", "verify")
    assert waiting.value.returncode == 3

    call_command("schedule", "run-due", "--only", "backup_verify", "--force")  # no failure: exit 0
    out = capsys.readouterr().out
    assert "waiting" in out
    assert "run the first backup" in out
    run = ScheduledRun.objects.get(job="backup_verify")
    assert (run.outcome, run.error, run.exit_code) == ("waiting", "no_backup", 3)
    state = _state("backup_verify")
    assert not state.failed
    assert state.waiting_for == schedule.WAITING_REASONS["no_backup"]

    now = clock.now()
    check = next(c for c in controls.scheduled_jobs_current(now) if c.resource_id == "backup_verify")
    assert not check.passed
    assert check.evidence["last_outcome"] == "waiting"
    assert "run the first backup" in check.evidence["next_step"]
    backup = next(controls.backup_recent(now))
    assert (backup.passed, backup.label) == (False, "no verified backup")
    assert "run the first backup" in backup.evidence["next_step"]


def test_the_kits_job_with_no_ward_enrolled_waits_for_one(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("schedule", "run-due", "--only", "kits", "--force")  # no failure: exit 0
    assert "kit-key WARD" in capsys.readouterr().out
    run = ScheduledRun.objects.get(job="kits")
    assert (run.outcome, run.error, run.exit_code) == ("waiting", "no_kit_unit", 3)
    state = _state("kits")
    assert not state.failed
    assert state.waiting_for == schedule.WAITING_REASONS["no_kit_unit"]
    check = next(c for c in controls.scheduled_jobs_current(clock.now()) if c.resource_id == "kits")
    assert not check.passed
    assert "kit-key WARD" in check.evidence["next_step"]


def test_the_page_shows_each_job_and_run_now_is_for_the_it_administrator(signed_in, client):
    services.schedule_run_due(actor=None, only=["vendors"], force=True, runner=_ok)
    signed_in("auditor")
    page = client.get("/continuity/schedule/").content.decode()
    for job in schedule.JOBS:
        assert f'id="job-{job.code}"' in page
        assert job.command in page
    assert "Run now" not in page
    assert "overdue" in page  # every job but vendors has never run
    assert client.post("/continuity/schedule/deadlines/run/").status_code == 403

    _, admin = signed_in("it_admin")
    page = client.get("/continuity/schedule/").content.decode()
    assert page.count("Run now<span") == len(schedule.JOBS)
    response = client.post("/continuity/schedule/deadlines/run/", follow=True)
    assert "deadlines succeeded in" in response.content.decode()
    run = ScheduledRun.objects.get(job="deadlines")
    assert run.outcome == "succeeded"
    events = AuditEvent.objects.filter(resource_type="continuity.scheduled_run", resource_id=str(run.pk))
    assert {event.actor_id for event in events} == {admin.pk}
    assert client.post("/continuity/schedule/nope/run/").status_code == 404
    assert client.get("/continuity/schedule/deadlines/run/").status_code == 405


def test_the_page_shows_the_commands_of_a_waiting_hint_as_code(signed_in, client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    signed_in("it_admin")
    page = client.post("/continuity/schedule/kits/run/", follow=True).content.decode()
    assert "kits is waiting: No ward is enrolled" in page  # the message after Run now
    assert page.count("<code>safeward continuity kit-key WARD --out FILE</code>") == 2  # message and row
    assert "`safeward" not in page


def test_run_now_of_the_share_scan_with_no_share_succeeds_with_the_note(signed_in, client):
    signed_in("it_admin")
    page = client.post("/continuity/schedule/share_scan/run/", follow=True).content.decode()
    assert "share_scan succeeded in" in page
    assert "No file share is registered, so there is nothing to scan." in page
    assert "<code>safeward assets import FILE.csv</code>" in page
    assert "last run failed" not in page


def test_run_now_on_a_failing_job_says_where_to_look(signed_in, client, monkeypatch):
    def broken(argv):
        raise CommandError("disk full at /srv", returncode=4)

    monkeypatch.setattr(services, "_call", broken)
    signed_in("it_admin")
    page = client.post("/continuity/schedule/backup/run/", follow=True).content.decode()
    assert "backup failed (exit 4, CommandError)" in page
    assert "run <code>safeward schedule run-due --only backup --force</code> on the server" in page
    assert "disk full" not in page
    assert "last run failed" in page


def test_the_api_lists_the_jobs_and_runs_one_now(signed_in, client, frozen_clock):
    signed_in("it_admin")
    jobs = {job["code"]: job for job in client.get("/api/v1/continuity/schedule/").json()}
    assert set(jobs) == {job.code for job in schedule.JOBS}
    assert jobs["kits"] | {"last_run": None} == {
        "code": "kits",
        "command": "safeward continuity kits",
        "what": "downtime kits for every unit",
        "every_minutes": 15,
        "last_run": None,
        "last_success_at": None,
        "next_due_at": None,
        "due": True,
        "overdue": True,
        "failed": False,
        "waiting_for": "",
    }
    created = client.post(
        "/api/v1/continuity/schedule/", {"job": "deadlines"}, content_type="application/json"
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["job"], body["outcome"], body["exit_code"]) == ("deadlines", "succeeded", 0)
    deadlines = next(j for j in client.get("/api/v1/continuity/schedule/").json() if j["code"] == "deadlines")
    assert deadlines["last_run"]["id"] == body["id"]
    assert (deadlines["due"], deadlines["overdue"]) == (False, False)
    assert deadlines["next_due_at"] == (clock.now() + dt.timedelta(hours=1)).isoformat().replace(
        "+00:00", "Z"
    )

    bad = assert_error_shape(
        client.post("/api/v1/continuity/schedule/", {"job": "nope"}, content_type="application/json"), 400
    )
    assert "job" in bad["errors"]
    ScheduledRun.objects.create(job="vendors", started_at=clock.now())
    busy = client.post("/api/v1/continuity/schedule/", {"job": "vendors"}, content_type="application/json")
    assert assert_error_shape(busy, 409) == {"detail": "vendors is running already."}
    assert ScheduledRun.objects.filter(job="vendors").count() == 1
