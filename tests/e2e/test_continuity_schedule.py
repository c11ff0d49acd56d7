"""The periodic jobs in a real browser (ADR 1505): the IT administrator opens
the schedule from the continuity dashboard, sees a fresh install's backup
verification waiting for the first backup and the kits job waiting for a
ward to be enrolled, with the commands to run shown as code, and runs a job
now.
Screenshots: test-artifacts/screenshots/continuity-schedule*.png."""

from __future__ import annotations

import pytest

from safeward.continuity import services
from safeward.continuity.models import ScheduledRun
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_admin_sees_the_schedule_and_runs_a_job_now(
    browser, page, live_server, screenshot, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    settings.SAFEWARD_BACKUP_DIR = str(tmp_path / "backups")
    services.schedule_run_due(actor=None, only=["backup_verify", "kits", "vendors"], force=True)
    admin = UserFactory(username="it.rafa", first_name="Rafa", roles=["it_admin"], totp_secret=True)
    sign_in_browser(page, admin)
    page.goto(f"{live_server.url}/continuity/")
    page.click("text=Periodic jobs")
    page.wait_for_selector("h1:has-text('Periodic jobs')")
    verify = page.locator("#job-backup_verify")
    assert "waiting" in verify.inner_text()
    assert "run the first backup" in verify.inner_text()
    assert "`" not in verify.inner_text()
    assert "safeward schedule run-due --only backup --force" in verify.locator("td code").all_inner_texts()
    assert "overdue" in page.locator("#job-deadlines").inner_text()
    kits = page.locator("#job-kits")
    assert "waiting" in kits.inner_text()  # no ward enrolled for kits
    assert "last run failed" not in kits.inner_text()
    assert "safeward continuity kit-key WARD --out FILE" in kits.locator("td code").all_inner_texts()
    assert "current" in page.locator("#job-vendors").inner_text()
    screenshot(page, "continuity-schedule")

    page.locator("#job-deadlines button:has-text('Run now')").click()
    page.wait_for_selector("text=deadlines succeeded in")
    row = page.locator("#job-deadlines").inner_text()
    assert "succeeded" in row
    assert "overdue" not in row
    run = ScheduledRun.objects.get(job="deadlines")
    assert (run.outcome, run.exit_code) == ("succeeded", 0)
    screenshot(page, "continuity-schedule-run-now")
