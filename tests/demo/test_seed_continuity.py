"""The demo continuity record: nightly backups and a passed restore test, so
both continuity controls pass; yesterday's downtime with two verified paper
doses on the chart; seeding twice leaves the same state."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.continuity import controls, offline
from safeward.continuity.models import Backup, Downtime, Kit, PaperEntry, RestoreTest

pytestmark = pytest.mark.django_db


def test_the_demo_has_nightly_backups_and_a_passed_restore_test(seeded_demo):
    first = sorted(Backup.objects.values_list("id", "file_name"))
    assert len(first) == 7
    assert RestoreTest.objects.filter(passed=True).count() == 1
    assert RestoreTest.objects.get().exercise_id is not None  # drill evidence on an exercise (ADR 1413)
    now = clock.now()
    assert next(controls.backup_recent(now)).passed
    assert next(controls.restore_test_within_90_days(now)).passed
    kits = sorted(Kit.objects.values_list("unit__ward_code", "sha256"))
    assert len(kits) == 2
    assert next(controls.downtime_kits_fresh(clock.now())).passed
    unit = Kit.objects.select_related("unit").first().unit
    kit_file = Path(unit.folder) / Kit.objects.filter(unit=unit).first().file_name
    key = Path(seeded_demo.VAR_DIR) / "downtime-keys" / f"{unit.ward_code}-key.json"
    _header, pdf = offline.open_kit(kit_file.read_bytes(), key.read_text())
    assert pdf.startswith(b"%PDF")
    call_command("demo", "seed")
    assert sorted(Backup.objects.values_list("id", "file_name")) == first
    assert RestoreTest.objects.count() == 1
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
