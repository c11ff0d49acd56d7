"""`safeward incidents` and the notification letters (issue 19)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.crypto import streams
from safeward.incidents import case_services, letters
from tests.clinical.conftest import WARD, purpose_for, relate
from tests.incidents.test_breach_scope import patient_in

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("incidents", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_scope_show_and_letters_from_the_command_line(settings, tmp_path, make_user, frozen_clock):
    settings.VAR_DIR = tmp_path
    snoop = make_user("nurse")
    officer = make_user("security_officer")
    privacy = make_user("privacy_officer")
    patients = [patient_in("TX", 21), patient_in("TX", 22, deliverable=False)]
    for patient_id in patients:
        relate(snoop, patient_id, "care_team")
    start = clock.now()
    for patient_id in patients:
        gateway.chart_read(actor=snoop, session=WARD, purpose=purpose_for("nurse"), patient_id=patient_id)
    frozen_clock.advance(hours=1)
    incident = case_services.incident_create(
        actor=officer, title="Snoop", category="snooping", severity="high"
    )
    out = run(
        "scope",
        str(incident.pk),
        "--actor",
        officer.username,
        "--start",
        start.isoformat(),
        "--end",
        clock.now().isoformat(),
        "--user",
        snoop.username,
    )
    assert "2 patients affected" in out
    shown = run("show", str(incident.pk), "--hhs")
    assert "Notify 2 individuals" in shown
    assert "approximate_individuals_affected: 2" in shown
    assert "#" in run("list")
    mailing = tmp_path / "mailing.csv"
    out = run("letters", str(incident.pk), "--actor", privacy.username, "--mailing-list", str(mailing))
    assert "2 letters written" in out
    assert "1 without a deliverable address" in out
    files = sorted(letters.letters_dir(incident.pk).glob("*.swf"))
    assert len(files) == 2
    assert b"%PDF" not in files[0].read_bytes()
    plain = io.BytesIO()
    with files[0].open("rb") as source:
        streams.decrypt_stream(source, plain, associated_data=letters.letter_associated_data(files[0]))
    assert plain.getvalue().startswith(b"%PDF")
    rows = list(csv.reader(io.StringIO(mailing.read_text())))
    assert rows[0] == list(letters.MAILING_COLUMNS)
    assert len(rows) == 3
    assert AuditEvent.objects.filter(action="export", resource_type="BreachScope").count() == 2
    from safeward.assets.models import ExportManifest

    assert ExportManifest.objects.filter(route="cli.incidents.letters", patient_count=2).exists()
    assert ExportManifest.objects.filter(route="cli.incidents.mailing-list").exists()
    # The security officer does not send letters; a mailing list never overwrites a file.
    with pytest.raises(CommandError, match="Not permitted"):
        run("letters", str(incident.pk), "--actor", officer.username)
    with pytest.raises(CommandError, match="exists"):
        run("letters", str(incident.pk), "--actor", privacy.username, "--mailing-list", str(mailing))


def test_command_errors_say_what_to_do(make_user):
    officer = make_user("security_officer")
    with pytest.raises(CommandError, match="No incident"):
        run("show", "999999")
    incident = case_services.incident_create(actor=officer, title="x", category="other", severity="low")
    with pytest.raises(CommandError, match="--start"):
        run(
            "scope",
            str(incident.pk),
            "--actor",
            officer.username,
            "--start",
            "yesterday",
            "--end",
            "2026-01-01",
        )
    with pytest.raises(CommandError, match="No active account"):
        run("scope", str(incident.pk), "--actor", "ghost", "--start", "2026-01-01", "--end", "2026-01-02")
    with pytest.raises(CommandError, match="at least one"):
        run(
            "scope",
            str(incident.pk),
            "--actor",
            officer.username,
            "--start",
            "2026-01-01",
            "--end",
            "2026-01-02",
        )
    with pytest.raises(CommandError, match="Compute the breach scope first"):
        run("letters", str(incident.pk), "--actor", make_user("privacy_officer").username)


def test_hhs_fields_hold_no_patient_data(make_user):
    officer = make_user("security_officer")
    incident = case_services.incident_create(actor=officer, title="x", category="lost_device", severity="low")
    now = clock.now()
    assessment = case_services.breach_scope_compute(
        actor=officer,
        session=SessionContext.system(),
        incident_id=incident.pk,
        window_start=now - dt.timedelta(days=1),
        window_end=now,
        usernames=[officer.username],
    )
    fields = letters.hhs_report_fields(assessment)
    assert fields["type_of_breach"] == "Loss / Theft"
    assert fields["approximate_individuals_affected"] == "0"
