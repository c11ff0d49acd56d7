"""`vendor_bulk_access` (ADR 1211): the detection worker alerts when a
vendor's accounts and clients touch more distinct patients in the window
than the ceiling of the PHI volume it is registered for, counted over all
its credentials; the hospital's own staff and a vendor within its ceiling
stay quiet. The learned baseline (ADR 1217): a spike over the vendor's own
history alerts under the ceiling, steady use does not, a vendor with too
little history has the ceiling only."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit.selectors import patients_touched_per_day
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.detection.selectors import rule_config
from safeward.detection.services import rule_config_save
from safeward.vendors import services
from tests.detection.conftest import START, access, alerts, new_patient, run
from tests.vendors.conftest import BULK_ACCESS, bulk_access_params, make_agreement

pytestmark = pytest.mark.django_db


def _vendor(officer, make_user, *, volume, name="Scribe Co", accounts=1):
    vendor = services.vendor_create(
        actor=officer, name=name, legal_name=f"{name} LLC", owner=officer, phi_volume=volume
    )
    agreement = make_agreement(officer, vendor)
    staff = [make_user("vendor") for _ in range(accounts)]
    # Bound before any history a test writes: only events during the binding count (ADR 1220).
    with clock.frozen_at(START - dt.timedelta(days=29)):
        for user in staff:
            services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=user)
    return vendor, staff


def test_a_low_volume_vendor_past_its_ceiling_alerts_counting_all_its_accounts(at, officer, make_user):
    bulk_access_params(low_threshold=3)
    vendor, (first, second) = _vendor(officer, make_user, volume="low", accounts=2)
    patients = [new_patient(family=f"Vend{n}", mrn=f"V{n}") for n in range(3)]
    at(minutes=0)
    access(first, patients[0])
    access(second, patients[1])
    access(second, patients[1])
    run()
    assert alerts(BULK_ACCESS) == []
    at(minutes=30)
    access(first, patients[2])
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.subject_user_id == first.pk
    assert alert.detail["vendor_id"] == vendor.pk
    assert alert.detail["distinct_patients"] == 3
    assert alert.detail["threshold"] == 3
    assert vendor.name in alert.title


def test_outside_the_window_the_count_starts_again(at, officer, make_user):
    bulk_access_params(low_threshold=2, window_hours=1)
    _, (staff,) = _vendor(officer, make_user, volume="low")
    patients = [new_patient(family=f"Win{n}", mrn=f"N{n}") for n in range(2)]
    at(minutes=0)
    access(staff, patients[0])
    run()
    at(hours=3)
    access(staff, patients[1])
    run()
    assert alerts(BULK_ACCESS) == []


def test_a_vendor_declared_to_get_no_phi_alerts_on_its_first_patient(at, officer, make_user):
    _, (staff,) = _vendor(officer, make_user, volume="none", name="Facilities Co")
    at(minutes=0)
    access(staff, new_patient(family="Only", mrn="O1"))
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["phi_volume"] == "none"


def test_hospital_staff_and_a_disabled_rule_stay_quiet(at, officer, make_user):
    _, (staff,) = _vendor(officer, make_user, volume="none", name="Quiet Co")
    nurse = make_user("nurse")
    at(minutes=0)
    for n in range(3):
        access(nurse, new_patient(family=f"Own{n}", mrn=f"H{n}"))
    run()
    assert alerts(BULK_ACCESS) == []
    config = rule_config(code=BULK_ACCESS)
    rule_config_save(
        actor=None, code=BULK_ACCESS, enabled=False, severity=config.severity, params=config.params
    )
    access(staff, new_patient(family="Off", mrn="F1"))
    run()
    assert alerts(BULK_ACCESS) == []


def _history(at, staff, patients, *, days):
    """`staff` read `patients` once a day on each of the `days` days before START."""
    for day in range(days, 0, -1):
        at(hours=-24 * day)
        for patient in patients:
            access(staff, patient)
    run()


def _learned(**params):
    # A medium-volume vendor's ceiling (100) stays far above every count here.
    bulk_access_params(**{"baseline_floor": 5, "baseline_factor": 2, "baseline_percentile": 100, **params})


def test_a_spike_over_the_learned_baseline_alerts_under_the_declared_ceiling(at, officer, make_user):
    _learned()
    _, (staff,) = _vendor(officer, make_user, volume="medium")
    patients = [new_patient(family=f"Base{n}", mrn=f"B{n}") for n in range(6)]
    _history(at, staff, patients[:2], days=10)
    assert alerts(BULK_ACCESS) == []
    at(minutes=0)
    for patient in patients:
        access(staff, patient)
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["limits_crossed"] == ["learned"]
    assert alert.detail["distinct_patients"] == 6 < alert.detail["threshold"] == 100
    baseline = alert.detail["baseline"]
    assert (baseline["patients_24h"], baseline["active_days"], baseline["value"], baseline["limit"]) == (
        6,
        10,
        2,
        5,
    )
    assert "learned limit 5" in alert.title
    assert "ceiling" not in alert.title
    assert not any(patient in alert.title + str(alert.detail) for patient in patients)


def test_steady_use_at_its_baseline_stays_quiet(at, officer, make_user):
    _learned()
    _, (staff,) = _vendor(officer, make_user, volume="medium")
    patients = [new_patient(family=f"Steady{n}", mrn=f"S{n}") for n in range(6)]
    _history(at, staff, patients, days=10)
    at(minutes=0)
    for patient in patients:
        access(staff, patient)
    run()
    assert alerts(BULK_ACCESS) == []


def test_too_little_history_falls_back_to_the_declared_ceiling(at, officer, make_user):
    _learned()
    _, (staff,) = _vendor(officer, make_user, volume="medium")
    patients = [new_patient(family=f"New{n}", mrn=f"W{n}") for n in range(6)]
    _history(at, staff, patients[:1], days=6)
    at(minutes=0)
    for patient in patients:
        access(staff, patient)
    run()
    assert alerts(BULK_ACCESS) == []
    bulk_access_params(medium_threshold=7)
    access(staff, new_patient(family="New7", mrn="W7"))
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["limits_crossed"] == ["declared"]
    assert alert.detail["baseline"]["active_days"] == 6
    assert alert.detail["baseline"]["limit"] is None


def test_a_spike_past_both_limits_names_both(at, officer, make_user):
    _learned(medium_threshold=6)
    _, (staff,) = _vendor(officer, make_user, volume="medium")
    patients = [new_patient(family=f"Both{n}", mrn=f"T{n}") for n in range(6)]
    _history(at, staff, patients[:1], days=8)
    at(minutes=0)
    for patient in patients:
        access(staff, patient)
    run()
    (alert,) = alerts(BULK_ACCESS)
    assert alert.detail["limits_crossed"] == ["declared", "learned"]
    assert (alert.detail["threshold"], alert.detail["baseline"]["limit"]) == (6, 5)
    assert "ceiling 6" in alert.title
    assert "learned limit 5" in alert.title


def test_the_floor_keeps_a_small_vendor_quiet(at, officer, make_user):
    _learned(baseline_floor=8)
    _, (staff,) = _vendor(officer, make_user, volume="medium")
    patients = [new_patient(family=f"Floor{n}", mrn=f"L{n}") for n in range(6)]
    _history(at, staff, patients[:1], days=8)
    at(minutes=0)
    for patient in patients:
        access(staff, patient)
    run()
    assert alerts(BULK_ACCESS) == []


def test_the_daily_counts_take_searches_and_count_a_patient_once_a_day(at, officer, make_user):
    _, (staff,) = _vendor(officer, make_user, volume="medium")
    at(hours=-30)
    access(staff, "p-1")
    audit_record(action=Action.SEARCH, actor=staff, patient_ids=["p-1", "p-2"])
    at(hours=-1)
    access(staff, "p-3")
    audit_record(action=Action.SEARCH, actor=staff, patient_ids=["p-3"])
    counts = patients_touched_per_day(end=START, days=3, actor_ids=[staff.pk])
    assert counts == [1, 2, 0]
    assert patients_touched_per_day(end=START, days=3, actor_ids=[make_user("nurse").pk]) == [0, 0, 0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"low_threshold": 0}, "at least 1"),
        ({"window_hours": "day"}, "whole number"),
        ({"medum_threshold": 5}, "Unknown parameter"),
        ({"baseline_days": 3}, "at least 7"),
        ({"baseline_factor": 0.5}, "from 1.0 to 100.0"),
        ({"baseline_percentile": 101}, "at most 100"),
    ],
)
def test_bad_ceilings_are_refused(params, message):
    config = rule_config(code=BULK_ACCESS)
    with pytest.raises(Exception, match=message):
        bulk_access_params(**params)
    assert rule_config(code=BULK_ACCESS).params == config.params
