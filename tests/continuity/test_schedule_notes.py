"""A job that succeeded with something to say (the share scan: no share
registered, or registered shares it could not read here) keeps it on its run
(`ScheduledRun.note`): the operator reads it on the schedule page, in the REST
output and in `safeward schedule list`, not only in the run-due line that
cron mails to nobody. Notes carry reason texts and asset names, never PHI;
the closing audit event keeps the reason code only."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward.assets.discovery_selectors import NO_SHARE_REGISTERED
from safeward.assets.services import register_discovered_share
from safeward.audit.models import AuditEvent
from safeward.continuity.models import ScheduledRun

pytestmark = pytest.mark.django_db


def _newest() -> ScheduledRun:
    run = ScheduledRun.objects.filter(job="share_scan").order_by("-started_at", "-pk").first()
    assert run is not None
    return run


def _closing_detail(run: ScheduledRun) -> dict:
    return dict(AuditEvent.objects.get(resource_id=str(run.pk), action="update").detail)


def test_shares_not_mounted_here_are_named_on_the_run_and_shown_everywhere(
    signed_in, client, capsys, tmp_path
):
    mounted = tmp_path / "radiology"
    mounted.mkdir()
    register_discovered_share(actor=None, path=str(mounted))
    register_discovered_share(actor=None, path="//fileserver/finance")
    call_command("schedule", "run-due", "--only", "share_scan", "--force")
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("share_scan "))
    run = _newest()
    assert (run.outcome, run.exit_code) == ("succeeded", 0)
    assert "Not scanned: asset" in run.note
    assert "(//fileserver/finance): no local directory here" in run.note
    assert str(mounted) not in run.note  # the scanned share is not a note
    assert "Not scanned: asset" in line
    assert _closing_detail(run)["note"] == "shares_not_scanned"  # the code, not the text

    call_command("schedule", "list")
    listed = capsys.readouterr().out
    assert "(//fileserver/finance): no local directory here" in listed

    signed_in("auditor")
    page = client.get("/continuity/schedule/").content.decode()
    assert "(//fileserver/finance): no local directory here" in page
    jobs = {job["code"]: job for job in client.get("/api/v1/continuity/schedule/").json()}
    assert jobs["share_scan"]["last_run"]["note"] == run.note
    assert jobs["deadlines"]["last_run"] is None


def test_no_share_registered_is_kept_as_the_runs_note_and_a_clean_scan_has_none(signed_in, client, tmp_path):
    call_command("schedule", "run-due", "--only", "share_scan", "--force")
    run = _newest()
    assert run.note == NO_SHARE_REGISTERED
    assert _closing_detail(run)["note"] == "no_file_share"
    signed_in("it_admin")
    page = client.get("/continuity/schedule/").content.decode()
    assert "No file share is registered, so there is nothing to scan." in page
    assert "<code>safeward assets import FILE.csv</code>" in page  # commands set as code, as the hints are

    register_discovered_share(actor=None, path=str(tmp_path))
    call_command("schedule", "run-due", "--only", "share_scan", "--force")
    clean = _newest()
    assert (clean.outcome, clean.note) == ("succeeded", "")
    assert "note" not in _closing_detail(clean)
    created = client.post(
        "/api/v1/continuity/schedule/", {"job": "share_scan"}, content_type="application/json"
    )
    assert created.status_code == 201
    assert created.json()["note"] == ""
