"""Device, segment and flow writes: audited, validated, legacy computed."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from safeward.audit.models import AuditEvent
from safeward.devices import selectors, services
from safeward.devices.models import Device, NetworkSegment
from tests.devices.conftest import PAST, device, segment

pytestmark = pytest.mark.django_db


def test_create_and_update_are_audited_with_the_changed_fields(frozen_clock, engineer):
    pumps = segment("pumps")
    created = device("PUMP-1", manufacturer="Acme", model="X", segment=pumps)
    assert AuditEvent.objects.filter(
        resource_type="Device", resource_id=str(created.pk), action="create"
    ).exists()
    services.device_update(
        actor=engineer,
        device_id=created.pk,
        data={
            "kind": "medical",
            "asset_tag": "PUMP-1",
            "manufacturer": "Acme",
            "model": "X",
            "segment": pumps.pk,
            "location": "Ward 3",
        },
    )
    event = AuditEvent.objects.get(resource_type="Device", action="update")
    assert event.actor_id == engineer.pk
    assert "location" in event.fields
    with pytest.raises(services.DeviceError, match="already"):
        device("PUMP-1")


def test_legacy_is_computed_from_the_end_of_support(frozen_clock):
    old = device("OLD-1", end_of_support=PAST.isoformat())
    new = device("NEW-1", end_of_support="2030-01-01")
    device("UNK-1")
    assert [d.asset_tag for d in selectors.devices_list(legacy=True)] == ["OLD-1"]
    assert selectors.device_get(device_id=old.pk).is_legacy
    assert not selectors.device_get(device_id=new.pk).is_legacy
    frozen_clock.advance(days=365 * 4)
    assert {d.asset_tag for d in selectors.devices_list(legacy=True)} == {"OLD-1", "NEW-1"}


def test_lifecycle_goes_through_the_service_and_leaving_needs_a_certificate(frozen_clock, engineer):
    laptop = device("LAP-1", kind="laptop")
    services.device_lifecycle_set(actor=engineer, device_id=laptop.pk, state="stolen", reason="car break-in")
    laptop.refresh_from_db()
    assert laptop.lifecycle == Device.Lifecycle.STOLEN
    services.device_lifecycle_set(actor=engineer, device_id=laptop.pk, state="retired")
    with pytest.raises(services.DeviceError, match="certificate of sanitization"):
        services.device_lifecycle_set(actor=engineer, device_id=laptop.pk, state="sanitized")


def test_a_legacy_device_outside_an_isolated_segment_is_red(frozen_clock):
    pumps = segment("pumps")
    office = segment("office", NetworkSegment.Zone.WORKSTATIONS)
    in_pumps = device("PUMP-1", segment=pumps, end_of_support=PAST.isoformat())
    in_office = device("PUMP-2", segment=office, end_of_support=PAST.isoformat())
    nowhere = device("PUMP-3", end_of_support=PAST.isoformat())
    modern = device("PUMP-4", segment=office)
    health = selectors.device_health(selectors.devices_list())
    assert not health[in_pumps.pk].red
    assert health[in_office.pk].red
    assert "workstations zone" in health[in_office.pk].reasons[0]
    assert health[nowhere.pk].red
    assert not health[modern.pk].red
    services.flow_create(
        actor=None, source_id=pumps.pk, destination_id=None, port=443, protocol="tcp", purpose="vendor cloud"
    )
    health = selectors.device_health(selectors.devices_list())
    assert health[in_pumps.pk].red
    assert "internet" in health[in_pumps.pk].reasons[0]
    assert [d.asset_tag for d in selectors.devices_list(control="failing")] == ["PUMP-1", "PUMP-2", "PUMP-3"]


def test_flows_refuse_duplicates_and_unknown_protocols():
    pumps, pacs = segment("pumps"), segment("pacs", NetworkSegment.Zone.DATA_CENTRE)
    services.flow_create(
        actor=None, source_id=pumps.pk, destination_id=pacs.pk, port=104, protocol="tcp", purpose="DICOM"
    )
    with pytest.raises(services.DeviceError, match="already"):
        services.flow_create(
            actor=None, source_id=pumps.pk, destination_id=pacs.pk, port=104, protocol="tcp", purpose="again"
        )
    with pytest.raises(services.DeviceError, match="protocol"):
        services.flow_create(
            actor=None, source_id=pumps.pk, destination_id=pacs.pk, port=1, protocol="sctp", purpose="x"
        )
    _rows, columns, cells = selectors.flow_matrix()
    assert columns == ["pacs", "pumps", "internet"]
    assert cells[(pumps.pk, "pacs")] == ["104/tcp"]
    assert AuditEvent.objects.filter(resource_type="SegmentFlow", action="create").count() == 1


def test_control_expiry_is_capped_by_hicp_table_12(frozen_clock, engineer):
    today = frozen_clock.now().date()
    data = {
        "title": "Isolation",
        "kind": "isolated_segment",
        "remediation": "interim",
        "owner": engineer.pk,
        "device": "",
        "manufacturer": "Acme",
        "model": "X",
        "test": "none",
        "review_due": today,
        "expires_on": today + dt.timedelta(days=31),
    }
    with pytest.raises(services.DeviceError, match="at most 30 days"):
        services.control_create(actor=engineer, data=data)
    control = services.control_create(actor=engineer, data={**data, "remediation": "vendor"})
    assert control.resource_id == f"compensating-control:{control.pk}"
    with pytest.raises(services.DeviceError, match="at most 60 days"):
        services.control_renew(
            actor=engineer, control_id=control.pk, expires_on=today + dt.timedelta(days=61)
        )
    services.control_renew(actor=engineer, control_id=control.pk, expires_on=today + dt.timedelta(days=60))
    services.control_retire(actor=engineer, control_id=control.pk, reason="device replaced")
    assert selectors.controls_list() == []


def test_evidence_is_hashed_and_typed(engineer, frozen_clock):
    today = frozen_clock.now().date()
    control = services.control_create(
        actor=engineer,
        data={
            "title": "Lock",
            "kind": "physical",
            "remediation": "interim",
            "owner": engineer.pk,
            "device": "",
            "manufacturer": "A",
            "model": "B",
            "test": "none",
            "review_due": today,
            "expires_on": today,
        },
    )
    evidence = services.evidence_attach(
        actor=engineer,
        control_id=control.pk,
        filename="../lock photo.png",
        content_type="image/png",
        data=b"png",
    )
    assert evidence.sha256 == hashlib.sha256(b"png").hexdigest()
    assert "/" not in evidence.filename
    with pytest.raises(services.DeviceError):
        services.evidence_attach(
            actor=engineer,
            control_id=control.pk,
            filename="x.exe",
            content_type="application/x-msdownload",
            data=b"MZ",
        )
