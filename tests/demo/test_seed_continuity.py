"""The demo continuity record: nightly backups and a passed restore test, so
both continuity controls pass; seeding twice leaves the same state."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.continuity import controls, offline
from safeward.continuity.models import Backup, Kit, RestoreTest

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
