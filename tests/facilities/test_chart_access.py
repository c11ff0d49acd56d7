"""Chart access correlated with badges (rule chart_without_badge_in, ADR 1110):
a chart opened from a workstation placed in a secure area by someone with no
badge-in to that area within the shift fires; the same access after a badge-in,
from a workstation elsewhere, or a badge-in to another area each behave as they
should; an access is judged once; the alert never names the patient."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from safeward import clock
from safeward.audit import context
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection.models import Alert
from safeward.devices.models import Device
from safeward.facilities import services
from safeward.facilities.models import Workstation
from tests.facilities.conftest import ingest, row

pytestmark = pytest.mark.django_db

READ_AT = dt.datetime(2026, 11, 2, 16, 0, tzinfo=dt.UTC)  # Monday 11:00 New York
NOW = READ_AT + dt.timedelta(minutes=30)


def _device(tag, ip):
    now = clock.now()
    return Device.objects.create(
        kind="workstation",
        asset_tag=tag,
        ip_address=ip,
        lifecycle="in_service",
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def records_pc(areas):
    device = _device("WS-REC-1", "10.20.0.5")
    services.workstation_place(actor=None, device_id=device.pk, area=areas["records"])
    return device


def _chart_read(user, ip, at=READ_AT):
    token = context.bind(context.AuditContext(request_id="r", client_ip=ip, source="web"))
    previous = clock.install(clock.FrozenClock(at))  # the audit trail is append-only: record it at `at`
    try:
        event = audit_record(
            action=Action.READ,
            actor=user,
            resource_type="Patient",
            resource_id="p-1",
            patient_id="p-1",
            purpose=PurposeOfUse.TREATMENT,
        )
    finally:
        clock.install(previous)
        context.reset(token)
    return event


def _sweep():
    return services.chart_access_sweep(now=NOW)


def test_a_chart_opened_in_the_records_room_without_a_badge_in_fires(clerk, records_pc):
    _chart_read(clerk.user, "10.20.0.5")
    assert _sweep() == 1
    alert = Alert.objects.get()
    assert alert.rule == "chart_without_badge_in"
    assert alert.subject_user_id == clerk.user.pk
    assert alert.detail["areas"] == ["records"]
    assert alert.detail["devices"] == [records_pc.pk]
    assert alert.patient_id == ""
    assert "p-1" not in str(alert.detail)
    # Judged once: the next sweep over the same window adds nothing.
    assert _sweep() == 0
    assert Alert.objects.get().occurrences == 1


def test_a_badge_in_to_the_area_earlier_in_the_shift_is_quiet(clerk, records_pc):
    ingest(row("B-100", "RR-1", "2026-11-02T08:05:00-05:00"))
    _chart_read(clerk.user, "10.20.0.5")
    assert _sweep() == 0
    assert not Alert.objects.exists()


def test_a_badge_in_elsewhere_yesterday_or_after_the_access_does_not_count(clerk, records_pc):
    ingest(
        row("B-100", "PH-1", "2026-11-02T10:00:00-05:00"),  # another area (and unauthorised)
        row("B-100", "RR-1", "2026-11-01T20:00:00-05:00"),  # the evening before: outside the shift
        row("B-100", "RR-1", "2026-11-02T11:10:00-05:00"),  # after the chart was opened
    )
    Alert.objects.all().delete()
    _chart_read(clerk.user, "10.20.0.5")
    assert _sweep() == 1
    assert Alert.objects.get().rule == "chart_without_badge_in"


def test_a_chart_opened_from_a_workstation_outside_secure_areas_is_quiet(clerk, records_pc):
    _device("WS-WARD-1", "10.30.0.9")  # in the inventory, not placed
    _chart_read(clerk.user, "10.30.0.9")
    assert _sweep() == 0


def test_an_access_inside_the_settle_delay_waits_for_the_next_sweep(clerk, records_pc):
    _chart_read(clerk.user, "10.20.0.5", at=NOW - dt.timedelta(minutes=5))
    assert _sweep() == 0
    assert services.chart_access_sweep(now=NOW + dt.timedelta(minutes=15)) == 1


def test_the_rule_can_be_disabled(clerk, records_pc):
    from safeward.detection.models import DetectionRule
    from safeward.detection.services import rules_ensure_defaults

    rules_ensure_defaults()
    DetectionRule.objects.filter(code="chart_without_badge_in").update(enabled=False)
    _chart_read(clerk.user, "10.20.0.5")
    assert _sweep() == 0


def test_placing_needs_an_inventory_device_and_the_cli_says_why(areas, make_user, records_pc):
    with pytest.raises(services.FacilityError):
        services.workstation_place(actor=None, device_id=999_999, area=areas["records"])
    admin = make_user("security_officer")
    with pytest.raises(CommandError, match="No area"):
        call_command("facilities", "place-workstation", str(records_pc.pk), "nowhere", "--by", admin.username)
    call_command("facilities", "place-workstation", str(records_pc.pk), "pharmacy", "--by", admin.username)
    assert Workstation.objects.get(device_id=records_pc.pk).area.code == "pharmacy"
