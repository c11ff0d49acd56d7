"""The demo continuity record: nightly backups and a passed restore test, so
both continuity controls pass; seeding twice leaves the same state."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.continuity import controls
from safeward.continuity.models import Backup, RestoreTest

pytestmark = pytest.mark.django_db


def test_the_demo_has_nightly_backups_and_a_passed_restore_test(demo_settings):
    call_command("demo", "seed")
    first = sorted(Backup.objects.values_list("id", "file_name"))
    assert len(first) == 7
    assert RestoreTest.objects.filter(passed=True).count() == 1
    now = clock.now()
    assert next(controls.backup_recent(now)).passed
    assert next(controls.restore_test_within_90_days(now)).passed
    call_command("demo", "seed")
    assert sorted(Backup.objects.values_list("id", "file_name")) == first
    assert RestoreTest.objects.count() == 1
