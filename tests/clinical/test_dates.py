"""Encrypted service dates (ADR 0557): the chart still shows the newest rows
in order when the database only knows their year, and the attending's
relationship after discharge follows the keyed day index of the encounter's
end, day by day."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.gateway._core import facts_for
from safeward.clinical.gateway._patients import CHART_LIMITS
from safeward.clinical.models import Encounter, Observation
from safeward.clinical.policy import Relationship
from safeward.identity.models import Department
from tests.clinical.conftest import WARD, new_patient, relate
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db


def test_the_chart_shows_the_newest_encounters_and_results_in_order_across_years(make_user, frozen_clock):
    doctor = make_user("physician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    ward = Department.objects.get(code="ward-a")
    limit = CHART_LIMITS["encounters"]
    # Three years, the newest one with fewer rows than the limit; times within a
    # year deliberately written out of order.
    moments = [
        dt.datetime(year, 1 + (n * 7) % 12, 1 + n % 27, n % 24, tzinfo=dt.UTC)
        for year in (2019, 2020, 2021)
        for n in range(25)
    ]
    with clinical_test_data():
        for n, moment in enumerate(moments):
            Encounter.objects.create(
                patient_id=patient, kind="outpatient", department=ward, status="finished", started_at=moment
            )
            Observation.objects.create(
                patient_id=patient,
                category="vital-signs",
                code="8867-4",
                display=f"Heart rate {n}",
                effective_at=moment,
            )
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    expected = sorted(moments, reverse=True)
    assert [e.started_at for e in chart.encounters] == expected[:limit]
    assert [o.effective_at for o in chart.results] == expected  # fewer than the results' limit: all of them
    with clinical_test_data():
        years = list(Encounter.objects.filter(patient_id=patient).values_list("started_year", flat=True))
    assert sorted(set(years)) == [2019, 2020, 2021]  # all the database knows of the times


def test_the_attending_keeps_the_discharge_day_and_fourteen_more(make_user, frozen_clock):
    doctor = make_user("physician")
    ward = Department.objects.create(code="ward-d", name="Ward D")
    today = clock.now().replace(hour=9)
    inside = new_patient(mrn="IN-1")
    outside = new_patient(mrn="OUT-1")
    with clinical_test_data():
        for patient, ended in (
            (inside, today.replace(hour=0, minute=1) - dt.timedelta(days=14)),
            (outside, today.replace(hour=23, minute=59) - dt.timedelta(days=15)),
        ):
            Encounter.objects.create(
                patient_id=patient,
                kind="inpatient",
                department=ward,
                attending=doctor,
                status="finished",
                started_at=ended - dt.timedelta(days=2),
                ended_at=ended,
            )
    with clinical_test_data():
        facts = facts_for(doctor, [uuid.UUID(inside), uuid.UUID(outside)])
    assert facts[uuid.UUID(inside)].relationships == {Relationship.ATTENDING}
    assert facts[uuid.UUID(outside)].relationships == set()


def test_the_lab_worklist_lists_open_orders_oldest_first_and_caps_them(make_user, frozen_clock):
    tech = make_user("lab_technician")
    patient = new_patient()
    now = clock.now()
    ages = [5, 400, 1, 90, 30, 2]  # minutes ago, written out of order
    with clinical_test_data():
        for age in ages:
            Observation.objects.create(
                patient_id=patient,
                category="laboratory",
                status="registered",
                code="718-7",
                display=f"Hemoglobin {age}",
                effective_at=now - dt.timedelta(minutes=age),
            )
    worklist = gateway.lab_worklist(actor=tech, session=WARD, purpose=PurposeOfUse.TREATMENT, limit=4)
    assert [item.order.display for item in worklist.items] == [f"Hemoglobin {a}" for a in (400, 90, 30, 5)]
    assert worklist.capped


def test_the_attending_keeps_access_while_the_blind_index_key_rotates(make_user, frozen_clock):
    """The end day's index was written under the old key; until `keys reencrypt`
    moves it, the relationship must still be found under both keys."""
    from safeward.crypto.keyring import Purpose
    from safeward.crypto.services import Actor, key_rotate

    doctor = make_user("physician")
    ward = Department.objects.create(code="ward-r", name="Ward R")
    patient = new_patient(mrn="ROT-1")
    ended = clock.now() - dt.timedelta(days=3)
    with clinical_test_data():
        Encounter.objects.create(
            patient_id=patient,
            kind="inpatient",
            department=ward,
            attending=doctor,
            status="finished",
            started_at=ended - dt.timedelta(days=2),
            ended_at=ended,
        )
    key_rotate(actor=Actor(name="test"), purpose=Purpose.BLIND_INDEX)
    with clinical_test_data():
        facts = facts_for(doctor, [uuid.UUID(patient)])
    assert facts[uuid.UUID(patient)].relationships == {Relationship.ATTENDING}
