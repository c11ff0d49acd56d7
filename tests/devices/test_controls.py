"""The devices control tests and live tests: each fails on a seeded violation
and passes without it; a failing or expired control raises an alert."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import compliance
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.devices import checkin, controls, selectors, services
from safeward.devices.models import NetworkSegment
from tests.devices.conftest import MDS2_CSV, PAST, device, segment
from tests.devices.test_posture_controls import COVERED_CONTROLS as POSTURE_COVERED

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "devices.compensating_controls": (
        "test_compensating_controls_fail_on_a_broken_live_test_or_expiry_and_pass_after"
    ),
    "devices.legacy_isolated": "test_legacy_isolated_fails_outside_an_isolated_segment_and_passes_inside",
    "devices.mds2_on_file": "test_mds2_on_file_fails_without_a_statement_and_passes_after_the_import",
}


def _results(function, now):
    return {check.resource_id: check for check in function(now)}


def _control(engineer, today, **extra):
    data = {
        "title": "Pumps reach only the PACS",
        "kind": "isolated_segment",
        "remediation": "interim",
        "owner": engineer.pk,
        "device": "",
        "manufacturer": "Acme",
        "model": "X",
        "test": "none",
        "review_due": today,
        "expires_on": today + dt.timedelta(days=10),
        **extra,
    }
    return services.control_create(actor=engineer, data=data)


def test_the_controls_are_registered_with_their_catalog_entries():
    found = {cid: test for cid, test in compliance.discover().items() if cid.startswith("devices.")}
    assert set(found) == set(COVERED_CONTROLS) | set(POSTURE_COVERED)
    assert "hicp:9.S.A" in found["devices.compensating_controls"].maps
    assert "iso27001-2022:A.8.22" in found["devices.legacy_isolated"].maps


def test_compensating_controls_fail_on_a_broken_live_test_or_expiry_and_pass_after(frozen_clock, engineer):
    pumps, pacs = segment("pumps"), segment("pacs", NetworkSegment.Zone.DATA_CENTRE)
    services.flow_create(
        actor=None, source_id=pumps.pk, destination_id=pacs.pk, port=104, protocol="tcp", purpose="DICOM"
    )
    device("PUMP-1", manufacturer="Acme", model="X", segment=pumps)
    today = frozen_clock.now().date()
    control = _control(
        engineer,
        today,
        test="segment_only_allows",
        test_segment=pumps.pk,
        test_port=104,
        test_protocol="tcp",
        test_destination=pacs.pk,
    )
    key = f"compensating-control:{control.pk}"
    assert _results(controls.compensating_controls, frozen_clock.now())[key].passed
    flow = services.flow_create(
        actor=None, source_id=pumps.pk, destination_id=None, port=443, protocol="tcp", purpose="vendor cloud"
    )
    failed = _results(controls.compensating_controls, frozen_clock.now())[key]
    assert not failed.passed
    assert "443/tcp to internet" in failed.evidence["reason"]
    services.flow_delete(actor=None, flow_id=flow.pk)
    assert _results(controls.compensating_controls, frozen_clock.now())[key].passed
    frozen_clock.advance(days=11)
    expired = _results(controls.compensating_controls, frozen_clock.now())[key]
    assert not expired.passed
    assert expired.evidence["state"] == "expired"
    services.control_renew(actor=engineer, control_id=control.pk, expires_on=frozen_clock.now().date())
    assert _results(controls.compensating_controls, frozen_clock.now())[key].passed


def test_a_failing_control_turns_its_devices_red(frozen_clock, engineer):
    office = segment("office", NetworkSegment.Zone.WORKSTATIONS)
    pump = device("PUMP-1", manufacturer="Acme", model="X", segment=office)
    other = device("PUMP-2", manufacturer="Acme", model="Y", segment=office)
    _control(engineer, frozen_clock.now().date(), test="isolated")
    health = selectors.device_health(selectors.devices_list())
    assert health[pump.pk].red
    assert "Pumps reach only the PACS" in health[pump.pk].reasons[0]
    assert not health[other.pk].red


def test_checked_in_is_unknown_without_a_provider_and_uses_the_registered_one(
    frozen_clock, engineer, monkeypatch
):
    monkeypatch.setattr(checkin, "_PROVIDERS", [])  # not even the posture imports' provider
    laptop = device("LAP-1", kind="laptop")
    control = _control(
        engineer, frozen_clock.now().date(), device="LAP-1", manufacturer="", model="", test="checked_in"
    )
    state = selectors.control_state(control)
    assert state.state == "unknown"
    assert "no posture source" in state.reason
    now = frozen_clock.now()

    def provider(ids):
        return {laptop.pk: now - dt.timedelta(hours=2)} if laptop.pk in ids else {}

    checkin.register_checkin_provider(provider)
    try:
        assert selectors.control_state(control).passed
        frozen_clock.advance(hours=23)
        assert not selectors.control_state(control).passed
    finally:
        checkin.unregister_checkin_provider(provider)


def test_the_sweep_raises_one_alert_per_failing_control_naming_its_owner(frozen_clock, engineer):
    control = _control(engineer, frozen_clock.now().date())
    assert services.controls_sweep() == 0
    frozen_clock.advance(days=11)
    assert services.controls_sweep() == 1
    detect_pending()
    alert = Alert.objects.get(rule="device_control_failing")
    assert alert.subject_user_id == engineer.pk
    assert alert.detail["state"] == "expired"
    assert alert.detail["control_id"] == str(control.pk)
    frozen_clock.advance(hours=24)
    services.controls_sweep()
    detect_pending()
    assert Alert.objects.filter(rule="device_control_failing").count() == 1


def test_a_passing_control_raises_nothing(frozen_clock, engineer):
    _control(engineer, frozen_clock.now().date())
    services.controls_sweep()
    detect_pending()
    assert not Alert.objects.filter(rule="device_control_failing").exists()


def test_legacy_isolated_fails_outside_an_isolated_segment_and_passes_inside(frozen_clock):
    pumps = segment("pumps")
    guest = segment("guest", NetworkSegment.Zone.GUEST)
    pump = device("PUMP-1", segment=pumps, end_of_support=PAST.isoformat())
    device("NEW-1", segment=guest)  # not legacy: not judged
    key = f"device:{pump.pk}"
    results = _results(controls.legacy_isolated, frozen_clock.now())
    assert set(results) == {key}
    assert results[key].passed
    flow = services.flow_create(
        actor=None, source_id=pumps.pk, destination_id=guest.pk, port=None, protocol="any", purpose="oops"
    )
    assert not _results(controls.legacy_isolated, frozen_clock.now())[key].passed
    services.flow_delete(actor=None, flow_id=flow.pk)
    assert _results(controls.legacy_isolated, frozen_clock.now())[key].passed


def test_mds2_on_file_fails_without_a_statement_and_passes_after_the_import(frozen_clock, engineer):
    pump = device("PUMP-1", manufacturer="Acme Medical", model="InfuseRx 300")
    key = f"device:{pump.pk}"
    assert not _results(controls.mds2_on_file, frozen_clock.now())[key].passed
    services.mds2_import(actor=engineer, data=MDS2_CSV)
    assert _results(controls.mds2_on_file, frozen_clock.now())[key].passed
