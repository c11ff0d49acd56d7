"""Inventory import, OSV/KEV/EPSS feeds, matching, findings, reopening and
resolution, and the deadlines that know exposure."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from safeward import clock
from safeward.patching import services
from safeward.patching.models import Advisory, Component, Finding, Inventory
from tests.patching.conftest import HEARTBLEED, KEV, cyclonedx, openssl

pytestmark = pytest.mark.django_db


def test_heartbleed_is_matched_critical_kev_with_due_dates_by_zone(engineer, dmz_asset, dc_asset, heartbleed):
    services.kev_import(actor=engineer, raw=json.dumps(KEV).encode())
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    dmz = Finding.objects.get(target_id=dmz_asset.pk)
    dc = Finding.objects.get(target_id=dc_asset.pk)
    assert dmz.severity == dc.severity == "critical"  # CVSS 7.5 high, raised by the KEV listing
    assert dmz.kev
    assert dc.kev
    assert (dmz.due_at - dmz.detected_at).days == 14
    assert (dc.due_at - dc.detected_at).days == 30  # critical in the data centre
    assert any("KEV" in reason for reason in dc.due_reasons)


def test_dmz_and_data_centre_differ_without_kev(engineer, dmz_asset, dc_asset, heartbleed):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    dmz = Finding.objects.get(target_id=dmz_asset.pk)
    dc = Finding.objects.get(target_id=dc_asset.pk)
    assert dmz.severity == "high"
    assert (dmz.due_at - dmz.detected_at).days == 30
    assert (dc.due_at - dc.detected_at).days == 90


def test_a_fixed_version_resolves_and_a_redetection_reopens(engineer, dmz_asset, heartbleed):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    finding = Finding.objects.get()
    assert finding.state == "in_triage"
    services.inventory_import(
        actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl("1.0.1g")
    )
    finding.refresh_from_db()
    assert finding.state == "resolved"
    assert finding.resolved_at is not None
    clock_before = finding.detected_at
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    finding.refresh_from_db()
    assert finding.state == "in_triage"
    assert finding.reopened_count == 1
    assert finding.detected_at >= clock_before
    assert Inventory.objects.filter(target_id=dmz_asset.pk, current=True).count() == 1


def test_osv_reimport_is_idempotent_and_incremental(engineer, dmz_asset, heartbleed):
    raw = json.dumps(HEARTBLEED).encode()
    stats = services.osv_import(actor=engineer, raw=raw)
    assert (stats.created, stats.updated, stats.unchanged) == (0, 0, 1)
    newer = dict(HEARTBLEED, modified="2025-01-01T00:00:00Z", summary="updated")
    stats = services.osv_import(actor=engineer, raw=json.dumps([newer]).encode())
    assert stats.updated == 1
    assert Advisory.objects.get().summary == "updated"


def test_a_withdrawn_advisory_drops_its_findings(engineer, dmz_asset, heartbleed):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    assert Finding.objects.count() == 1
    withdrawn = dict(HEARTBLEED, modified="2025-02-01T00:00:00Z", withdrawn="2025-02-01T00:00:00Z")
    stats = services.osv_import(actor=engineer, raw=json.dumps(withdrawn).encode())
    assert stats.withdrawn == 1
    assert stats.match.dropped == 1
    assert Finding.objects.count() == 0
    # and a new inventory does not bring it back
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    assert Finding.objects.count() == 0


def test_a_new_advisory_matches_only_existing_components_with_its_name(engineer, dmz_asset):
    services.inventory_import(
        actor=engineer,
        target_kind="asset",
        target_id=dmz_asset.pk,
        raw=b"Django==3.2.0\nrequests==2.31.0\n",
        fmt="pip",
    )
    record = {
        "id": "PYSEC-TEST-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "django"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.2.5"}]}],
            }
        ],
    }
    stats = services.osv_import(actor=engineer, raw=json.dumps(record).encode())
    assert stats.match.created == 1
    assert stats.match.evaluated == 1  # requests was never looked at
    assert Finding.objects.get().component_name == "Django"


def test_severity_change_recomputes_the_due_date(engineer, dc_asset, heartbleed):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    finding = Finding.objects.get()
    assert (finding.due_at - finding.detected_at).days == 90  # high, data centre
    critical = dict(
        HEARTBLEED,
        modified="2025-03-01T00:00:00Z",
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    )
    services.osv_import(actor=engineer, raw=json.dumps(critical).encode())
    finding.refresh_from_db()
    assert finding.severity == "critical"
    assert (finding.due_at - finding.detected_at).days == 30


def test_exposure_change_recomputes_the_due_date(engineer, dc_asset, heartbleed):
    from safeward.assets.services import asset_update

    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    finding = Finding.objects.get()
    assert (finding.due_at - finding.detected_at).days == 90
    asset_update(actor=None, asset_id=dc_asset.pk, values={"network_zone": "dmz"})
    assert services.findings_recompute(actor=engineer) == 1
    finding.refresh_from_db()
    assert (finding.due_at - finding.detected_at).days == 30
    assert services.findings_recompute(actor=engineer) == 0  # nothing moved twice


def test_epss_tightens_and_patient_impact_halves(engineer, dc_asset, heartbleed):
    from safeward.assets.services import asset_update

    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    csv = (
        b"#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000\n"
        b"cve,epss,percentile\nCVE-2014-0160,0.94,0.99\n"
    )
    rows, moved = services.epss_import(actor=engineer, raw=csv)
    assert (rows, moved) == (1, 1)
    finding = Finding.objects.get()
    assert (finding.due_at - finding.detected_at).days == 30
    asset_update(actor=None, asset_id=dc_asset.pk, values={"clinical_services": ["Emergency department"]})
    services.findings_recompute(actor=engineer)
    finding.refresh_from_db()
    assert (finding.due_at - finding.detected_at).days == 15
    assert any("Patient impact" in reason for reason in finding.due_reasons)


def test_medical_device_follows_table_12(engineer, pump, heartbleed):
    services.inventory_import(
        actor=engineer,
        target_kind="device",
        target_id=pump.pk,
        raw=b"cpe:2.3:a:openssl:openssl:1.0.1f\n",
        fmt="firmware",
    )
    finding = Finding.objects.get()
    assert finding.mitigation_due_at is not None
    assert (finding.mitigation_due_at - finding.detected_at).days <= 30
    assert (finding.due_at - finding.detected_at).days <= 60
    assert finding.device_class == "medical"


def test_bad_inventory_saves_nothing(engineer, dmz_asset):
    with pytest.raises(services.PatchingError) as error:
        services.inventory_import(
            actor=engineer,
            target_kind="asset",
            target_id=dmz_asset.pk,
            raw=cyclonedx([{"name": "a", "bom-ref": "x"}, {"name": "b", "bom-ref": "x"}]),
        )
    assert "repeats" in " ".join(error.value.errors)
    assert Inventory.objects.count() == 0
    assert Component.objects.count() == 0


def test_self_sbom_registers_safeward(engineer):
    inventory, _ = services.self_register(actor=engineer)
    assert inventory.component_count > 50
    assert Component.objects.filter(inventory=inventory, match_key="PyPI:django").exists()


def test_recompute_is_audited_and_time_moves(engineer, dc_asset, heartbleed):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    finding = Finding.objects.get()
    assert finding.detected_at <= clock.now() < finding.due_at
    assert finding.due_at - finding.detected_at == dt.timedelta(days=90)
