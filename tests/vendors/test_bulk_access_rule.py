"""`vendor_bulk_access` (ADR 1211): the detection worker alerts when a
vendor's accounts and clients touch more distinct patients in the window
than the ceiling of the PHI volume it is registered for, counted over all
its credentials; the hospital's own staff and a vendor within its ceiling
stay quiet."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.detection.selectors import rule_config
from safeward.detection.services import rule_config_save
from safeward.vendors import services
from tests.detection.conftest import START, access, alerts, new_patient, run
from tests.vendors.conftest import make_agreement

pytestmark = pytest.mark.django_db

RULE = "vendor_bulk_access"


@pytest.fixture
def at(frozen_clock):
    """at(hours=.., minutes=..) moves the clock to detection's test START + that offset."""

    def move(**offset: float):
        frozen_clock._now = START + dt.timedelta(**offset)
        return frozen_clock

    move()
    return move


def _ceilings(**params):
    config = rule_config(code=RULE)
    rule_config_save(
        actor=None, code=RULE, enabled=True, severity=config.severity, params={**config.params, **params}
    )


def _vendor(officer, make_user, *, volume, name="Scribe Co", accounts=1):
    vendor = services.vendor_create(
        actor=officer, name=name, legal_name=f"{name} LLC", owner=officer, phi_volume=volume
    )
    agreement = make_agreement(officer, vendor)
    staff = [make_user("vendor") for _ in range(accounts)]
    for user in staff:
        services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=user)
    return vendor, staff


def test_a_low_volume_vendor_past_its_ceiling_alerts_counting_all_its_accounts(at, officer, make_user):
    _ceilings(low_threshold=3)
    vendor, (first, second) = _vendor(officer, make_user, volume="low", accounts=2)
    patients = [new_patient(family=f"Vend{n}", mrn=f"V{n}") for n in range(3)]
    at(minutes=0)
    access(first, patients[0])
    access(second, patients[1])
    access(second, patients[1])
    run()
    assert alerts(RULE) == []
    at(minutes=30)
    access(first, patients[2])
    run()
    (alert,) = alerts(RULE)
    assert alert.subject_user_id == first.pk
    assert alert.detail["vendor_id"] == vendor.pk
    assert alert.detail["distinct_patients"] == 3
    assert alert.detail["threshold"] == 3
    assert vendor.name in alert.title


def test_outside_the_window_the_count_starts_again(at, officer, make_user):
    _ceilings(low_threshold=2, window_hours=1)
    _, (staff,) = _vendor(officer, make_user, volume="low")
    patients = [new_patient(family=f"Win{n}", mrn=f"N{n}") for n in range(2)]
    at(minutes=0)
    access(staff, patients[0])
    run()
    at(hours=3)
    access(staff, patients[1])
    run()
    assert alerts(RULE) == []


def test_a_vendor_declared_to_get_no_phi_alerts_on_its_first_patient(at, officer, make_user):
    _, (staff,) = _vendor(officer, make_user, volume="none", name="Facilities Co")
    at(minutes=0)
    access(staff, new_patient(family="Only", mrn="O1"))
    run()
    (alert,) = alerts(RULE)
    assert alert.detail["phi_volume"] == "none"


def test_hospital_staff_and_a_disabled_rule_stay_quiet(at, officer, make_user):
    _, (staff,) = _vendor(officer, make_user, volume="none", name="Quiet Co")
    nurse = make_user("nurse")
    at(minutes=0)
    for n in range(3):
        access(nurse, new_patient(family=f"Own{n}", mrn=f"H{n}"))
    run()
    assert alerts(RULE) == []
    config = rule_config(code=RULE)
    rule_config_save(actor=None, code=RULE, enabled=False, severity=config.severity, params=config.params)
    access(staff, new_patient(family="Off", mrn="F1"))
    run()
    assert alerts(RULE) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"low_threshold": 0}, "at least 1"),
        ({"window_hours": "day"}, "whole number"),
        ({"medum_threshold": 5}, "Unknown parameter"),
    ],
)
def test_bad_ceilings_are_refused(params, message):
    config = rule_config(code=RULE)
    with pytest.raises(Exception, match=message):
        rule_config_save(
            actor=None, code=RULE, enabled=True, severity=config.severity, params={**config.params, **params}
        )
    assert rule_config(code=RULE).params == config.params
