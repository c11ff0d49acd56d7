"""The demo's shared drive: the night's scheduled scan read the clean
documents; a newcomer's Scan now reads what appeared since, finds the
planted clinic list (by exact match of demo patients) and tells the
encrypted ZIP apart."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward.assets import discovery_services
from safeward.assets.discovery_selectors import scannable_shares
from safeward.assets.models import DiscoveryFinding, DiscoveryScan
from safeward.audit.models import AuditEvent
from safeward.demo.facilities import RECORDS_PC_IP
from safeward.demo.phi_share import EXPORTED_MRNS, SHARE_NAME, share_path
from safeward.identity.models import User

pytestmark = pytest.mark.django_db(transaction=False)


def test_first_scan_of_the_demo_share_finds_the_export(seeded_demo):
    (share,) = [asset for asset in scannable_shares() if asset.name == SHARE_NAME]
    assert share.location == str(share_path())
    officer = User.objects.get(username="demo.privacy_officer")
    # The night's scheduled scan (the schedule's first tick, ADR 1506) read the
    # three clean documents; the export and the ZIP appeared since.
    (nightly,) = DiscoveryScan.objects.filter(trigger=DiscoveryScan.Trigger.SCHEDULE, asset=share)
    assert (nightly.files_read, nightly.findings_opened) == (3, 0)
    assert not DiscoveryFinding.objects.exists()
    summary = discovery_services.share_scan(actor=officer, asset_id=share.pk)
    assert (summary.scan.files_read, summary.scan.files_unchanged) == (2, 3)
    export = DiscoveryFinding.objects.get(path__endswith="clinic-list-export.csv")
    assert export.patients_matched == len(EXPORTED_MRNS)
    assert export.status == DiscoveryFinding.Status.OPEN
    assert export.alert_id is not None
    archive = DiscoveryFinding.objects.get(path__endswith="claims-2025-q4.zip")
    assert archive.encrypted
    assert archive.status == DiscoveryFinding.Status.PROTECTED
    assert DiscoveryFinding.objects.count() == 2  # the clean documents hold nothing
    # The export was read through the one door by the registration clerk.
    clerk = User.objects.get(username="demo.registration_clerk")
    # (Not the clerk's search on the records room PC the facilities step plants.)
    searches = AuditEvent.objects.filter(actor_id=clerk.pk, action="search", resource_type="Patient").exclude(
        client_ip=RECORDS_PC_IP
    )
    assert searches.count() == len(EXPORTED_MRNS)


def test_seeding_again_keeps_the_share_and_its_files(seeded_demo):
    call_command("demo", "seed")
    assert [asset.name for asset in scannable_shares()].count(SHARE_NAME) == 1
