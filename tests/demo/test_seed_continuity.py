"""The demo continuity record: nightly backups and a passed restore test, so
both continuity controls pass; the schedule's first tick run for real, so
`continuity.scheduled_jobs_current` passes (ADR 1506); this morning's downtime
with two verified paper doses on the chart; seeding twice leaves the same
state."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.assessments import selectors as assessment_selectors
from safeward.assets.models import DiscoveryFinding, DiscoveryScan
from safeward.continuity import bundle, conf, controls, offline, schedule
from safeward.continuity.models import Backup, Downtime, Kit, PaperEntry, RestoreTest, ScheduledRun
from safeward.detection.models import Alert

pytestmark = pytest.mark.django_db


def test_the_demo_has_nightly_backups_and_a_passed_restore_test(seeded_demo):
    first = sorted(Backup.objects.values_list("id", "file_name"))
    assert len(first) == 7 + 1  # seven nights' records and the scheduled job's real backup
    records = RestoreTest.objects.filter(backup__file_name__startswith="demo-record-")
    assert records.filter(passed=True).count() == 1
    assert records.get().exercise_id is not None  # drill evidence on an exercise (ADR 1413)
    now = clock.now()
    assert next(controls.backup_recent(now)).passed
    assert next(controls.restore_test_within_90_days(now)).passed
    kits = sorted(Kit.objects.values_list("unit__ward_code", "sha256"))
    assert len(kits) == 2 * 2  # per ward: the seed's kit and the scheduled job's
    assert next(controls.downtime_kits_fresh(clock.now())).passed
    unit = Kit.objects.select_related("unit").first().unit
    kit_file = Path(unit.folder) / Kit.objects.filter(unit=unit).first().file_name
    key = Path(seeded_demo.VAR_DIR) / "downtime-keys" / f"{unit.ward_code}-key.json"
    _header, pdf = offline.open_kit(kit_file.read_bytes(), key.read_text())
    assert pdf.startswith(b"%PDF")
    call_command("demo", "seed")
    assert sorted(Backup.objects.values_list("id", "file_name")) == first
    assert RestoreTest.objects.count() == 2
    assert sorted(Kit.objects.values_list("unit__ward_code", "sha256")) == kits


def test_the_demo_has_a_past_downtime_with_verified_paper_doses_on_the_chart(seeded_demo):
    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.demo.continuity import DOWNTIME_REASON, WARD_SESSION
    from safeward.identity.models import User

    downtime = Downtime.objects.get(reason=DOWNTIME_REASON)
    assert downtime.state == Downtime.State.ENDED
    entries = list(PaperEntry.objects.filter(downtime=downtime))
    assert len(entries) == 2
    assert all(e.state == PaperEntry.State.VERIFIED and len(e.chart_administration_ids) == 1 for e in entries)
    assert all(e.verified_by_id not in (e.entered_by_id, e.charted_by_id) for e in entries)
    physician = User.objects.get(pk=entries[0].verified_by_id)
    ward = next(w for w in gateway.wards_list() if w.code == "ed-obs")
    census = gateway.ward_census(
        actor=physician, session=WARD_SESSION, purpose=PurposeOfUse.TREATMENT, ward_id=ward.id
    )
    doses = []
    for bed in census.beds:
        if bed.occupant is not None:
            chart = gateway.chart_read(
                actor=physician,
                session=WARD_SESSION,
                purpose=PurposeOfUse.TREATMENT,
                patient_id=bed.occupant.patient.id,
            )
            doses += chart.administrations or []
    assert {d.id for d in doses} == {i for e in entries for i in e.chart_administration_ids}
    assert all(d.verified_at is not None and d.source == "paper (downtime)" for d in doses)
    assert all(downtime.started_at <= d.administered_at <= downtime.ended_at for d in doses)
    call_command("demo", "seed")
    assert PaperEntry.objects.filter(downtime__reason=DOWNTIME_REASON).count() == 2
    assert Downtime.objects.filter(reason=DOWNTIME_REASON).count() == 1


def test_every_seeded_administration_falls_within_its_encounters_stay(seeded_demo):
    # A dose is given to an admitted patient: after the admission began and
    # before now (or the discharge). The paper MAR's doses were once timed
    # hours before the admission the seed made a moment earlier.
    from safeward.clinical.models import MedicationAdministration
    from safeward.crypto.fields import decrypt_field
    from tests.one_door import clinical_test_data

    now = clock.now()
    with clinical_test_data():
        given = list(MedicationAdministration.objects.select_related("encounter"))
        assert given  # the paper MAR's doses at least
        for dose in given:
            assert dose.encounter is not None, "a seeded dose belongs to the stay it was given in"
            at = decrypt_field(dose, "administered_at")
            admitted = decrypt_field(dose.encounter, "started_at")
            left = decrypt_field(dose.encounter, "ended_at") or now
            assert admitted <= at <= left, (admitted, at, left)


def test_the_schedule_first_tick_ran_every_job_for_real_and_the_control_passes(seeded_demo):
    runs = ScheduledRun.objects.order_by("started_at", "pk")
    assert [run.job for run in runs][-1] == "controls"  # last: its control run sees the others' runs
    assert sorted(run.job for run in runs) == sorted(job.code for job in schedule.JOBS)
    assert {run.outcome for run in runs} == {ScheduledRun.Outcome.SUCCEEDED}
    assert all(run.finished_at is not None and run.exit_code == 0 for run in runs)
    # The backup job made a real file, signed and verifiable, and the restore test restored it.
    real = Backup.objects.exclude(file_name__startswith="demo-record-").get()
    assert real.state == Backup.State.VERIFIED
    assert real.rows > 0
    bundle.verify_manifest(conf.backup_dir() / real.file_name)
    assert RestoreTest.objects.get(backup=real).passed
    assert all(check.passed for check in controls.scheduled_jobs_current(clock.now()))
    # The compliance officer's run, after the scheduled one, shows the control passing.
    latest = assessment_selectors.latest_results()["continuity.scheduled_jobs_current"]
    assert latest.run.actor.username == "demo.compliance_officer"
    assert latest.outcome == "pass"
    # The night's share scan ran before the shared drive was registered: it
    # found nothing, and the privacy officer's Scan now is the drive's first scan.
    scheduled = DiscoveryScan.objects.filter(trigger=DiscoveryScan.Trigger.SCHEDULE)
    assert scheduled.exists()
    assert not DiscoveryFinding.objects.exists()
    assert not Alert.objects.filter(rule="phi_discovered").exists()
    count = runs.count()
    call_command("demo", "seed")
    assert ScheduledRun.objects.count() == count  # every job has succeeded: seeding again runs nothing


def test_seeding_later_runs_nothing_either(seeded_demo, monkeypatch):
    # Hours later every job is due again; the seed still runs nothing (keeping the
    # schedule current is cron's job, not the seed's), so a seed step stays idempotent.
    count = ScheduledRun.objects.count()
    later = clock.now() + schedule.DAY * 2
    monkeypatch.setattr(clock, "now", lambda: later)
    call_command("demo", "seed")
    assert ScheduledRun.objects.count() == count
