"""The demo devices: a legacy pump fleet on an isolated segment with a
control about to expire, a CT scanner with an expired control (red, one
alert), a stolen laptop; seeding twice leaves the same state."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.devices import controls, selectors
from safeward.devices.models import CompensatingControl, Device, Mds2Statement, NetworkSegment, SegmentFlow

pytestmark = pytest.mark.django_db


def test_the_demo_ward_has_its_devices_controls_and_findings(seeded_demo):
    devices = {d.asset_tag: d for d in selectors.devices_list()}
    pumps = [d for tag, d in devices.items() if tag.startswith("PUMP-")]
    assert len(pumps) == 6
    assert all(d.is_legacy for d in pumps)
    assert devices["LT-W3-03"].lifecycle == Device.Lifecycle.STOLEN
    health = selectors.device_health(list(devices.values()))
    assert health[devices["CT-01"].pk].red
    assert not any(health[d.pk].red for d in pumps)
    assert all(health[d.pk].expiring for d in pumps)
    legacy = {check.label: check.passed for check in controls.legacy_isolated(selectors.clock.now())}
    assert all(legacy[d.asset_tag] for d in pumps)
    assert Mds2Statement.objects.get().model == "InfuseRx 300"
    assert CompensatingControl.objects.filter(mds2_question="STCF-1").count() == 3
    undeclared = selectors.observed_flows(export=selectors.latest_flow_export(), undeclared_only=True)
    assert [(f.source_label, f.destination_label, f.service) for f in undeclared] == [
        ("ward3-workstations", "device-servers", "3389/tcp")
    ]
    detect_pending()
    alert = Alert.objects.get(rule="device_control_failing")
    assert alert.detail["state"] == "expired"
    counts = (
        Device.objects.count(),
        NetworkSegment.objects.count(),
        SegmentFlow.objects.count(),
        CompensatingControl.objects.count(),
    )
    call_command("demo", "seed")
    assert counts == (
        Device.objects.count(),
        NetworkSegment.objects.count(),
        SegmentFlow.objects.count(),
        CompensatingControl.objects.count(),
    )
