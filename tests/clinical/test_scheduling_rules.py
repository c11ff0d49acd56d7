"""Scheduling rules of issue 12: no past slot is offered or booked, a
patient is checked in only on the appointment's day, and "day" means the
hospital's day in its time zone (SAFEWARD_TIME_ZONE, settings.TIME_ZONE).
Status codes show as readable labels."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import Conflict, InvalidInput
from safeward.identity.models import Department
from tests.clinical.conftest import WARD
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
OPS = PurposeOfUse.OPERATIONS


def _slots(clerk, clinic, day: dt.date, start: int, end: int) -> list:
    gateway.slots_create(
        actor=clerk,
        session=WARD,
        department_id=clinic.pk,
        day=day,
        start=dt.time(start),
        end=dt.time(end),
        minutes=30,
    )
    return gateway.schedule_day(actor=clerk, session=WARD, purpose=OPS, department_id=clinic.pk, day=day)


def test_a_past_slot_is_neither_offered_nor_booked(make_user, patient, frozen_clock):
    clinic = Department.objects.create(code="clinic", name="Clinic")
    clerk = make_user("registration_clerk")
    today = timezone.localdate(frozen_clock.now())  # 09:00 UTC
    slots = _slots(clerk, clinic, today, 8, 10)
    past, now_slot, later = slots[0], slots[2], slots[3]
    with pytest.raises(InvalidInput, match="past"):
        gateway.appointment_book(actor=clerk, session=WARD, purpose=OPS, patient_id=patient, slot_id=past.id)
    frozen_clock.advance(minutes=1)  # the 09:00 slot has begun
    with pytest.raises(InvalidInput, match="past"):
        gateway.appointment_book(
            actor=clerk, session=WARD, purpose=OPS, patient_id=patient, slot_id=now_slot.id
        )
    client = Client()
    sign_in(client, clerk)
    body = client.get(
        "/clinical/schedule/", {"department": clinic.pk, "day": today.isoformat(), "patient": patient}
    ).content.decode()
    offered = set(re.findall(r'name="slot" value="([0-9a-f-]+)"', body))
    assert offered == {later.id}
    assert body.count(">Past<") == 3
    booked = gateway.appointment_book(
        actor=clerk, session=WARD, purpose=OPS, patient_id=patient, slot_id=later.id
    )
    assert booked.status_label == "Booked"


def test_check_in_only_on_the_appointments_day_in_the_hospitals_time_zone(
    make_user, patient, frozen_clock, settings
):
    """At 2026-11-02 12:00 UTC it is already 3 November, 01:00 in Auckland."""
    settings.TIME_ZONE = "Pacific/Auckland"
    frozen_clock.advance(hours=3)  # 12:00 UTC
    clinic = Department.objects.create(code="clinic", name="Clinic")
    clerk = make_user("registration_clerk")
    local_today = timezone.localdate(frozen_clock.now())
    assert local_today == dt.date(2026, 11, 3)
    today_slot = _slots(clerk, clinic, local_today, 9, 10)[0]
    tomorrow_slot = _slots(clerk, clinic, local_today + dt.timedelta(days=1), 9, 10)[0]
    today = gateway.appointment_book(
        actor=clerk, session=WARD, purpose=OPS, patient_id=patient, slot_id=today_slot.id
    )
    tomorrow = gateway.appointment_book(
        actor=clerk, session=WARD, purpose=OPS, patient_id=patient, slot_id=tomorrow_slot.id
    )
    with pytest.raises(Conflict, match="not today"):
        gateway.appointment_check_in(actor=clerk, session=WARD, purpose=OPS, appointment_id=tomorrow.id)
    checked = gateway.appointment_check_in(actor=clerk, session=WARD, purpose=OPS, appointment_id=today.id)
    assert checked.status_label == "Checked in"
    # The clerk's arrivals list is the hospital's day, with readable statuses and no check-in twice.
    client = Client()
    sign_in(client, clerk)
    body = client.get("/").content.decode()
    arrivals = body[body.index('id="arrivals"') :]
    assert "QUIST, Ada" in arrivals
    assert "Checked in" in arrivals
    assert "/check-in/" not in arrivals
    assert "checked_in" not in arrivals
