"""The care relationship, asked two ways (issue 11, item 19): the gateway's
policy facts (`_core.facts_for`, evaluated now, at day granularity over the
keyed day index of an encounter's end) and detection's explained access
(`gateway.detection_access_facts`, evaluated at the access's time, exactly
after decryption). On a matrix of rows they must agree: a policy
relationship the gateway grants access on is exactly a relationship
detection explains the access with. Before, the gateway counted a cancelled
encounter's attending for 14 days and detection did not."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest

from safeward import clock
from safeward.clinical import gateway
from safeward.clinical.gateway._core import facts_for
from safeward.clinical.models import Appointment, CareTeamMembership, Encounter, Observation, Slot
from safeward.clinical.policy import Relationship
from safeward.identity.models import Department, StaffProfile
from tests.clinical.conftest import new_patient
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db

DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)


def _encounter(patient, user, ward, *, status, started, ended=None, attending=True):
    Encounter.objects.create(
        patient_id=patient,
        kind="inpatient",
        department=ward,
        attending=user if attending else None,
        status=status,
        started_at=started,
        ended_at=ended,
    )


def _appointment(patient, ward, *, clinician, starts, status=Appointment.Status.BOOKED):
    slot = Slot.objects.create(
        department=ward, clinician=clinician, starts_at=starts, ends_at=starts + dt.timedelta(minutes=20)
    )
    Appointment.objects.create(
        patient_id=patient,
        slot=slot,
        department=ward,
        clinician=clinician,
        starts_at=starts,
        ends_at=slot.ends_at,
        booked_at=starts,
        status=status,
    )


def _order(patient, user, *, at):
    observation = Observation(
        patient_id=patient, category="laboratory", status="registered", effective_at=at, recorded_by=user
    )
    observation.code = "2345-7"
    observation.display = "Glucose"
    observation.save()


# (name, builder(patient, user, ward, now, colleague), the relationship codes expected)
Scenario = tuple[str, Callable[..., object], set[str]]
MATRIX: list[Scenario] = [
    ("care team, current", lambda p, u, w, n, c: CareTeamMembership.objects.create(
        patient_id=p, user=u, role="nurse", starts_at=n - DAY), {"care_team"}),
    ("care team, ended", lambda p, u, w, n, c: CareTeamMembership.objects.create(
        patient_id=p, user=u, role="nurse", starts_at=n - 3 * DAY, ends_at=n - DAY), set()),
    ("care team, not yet", lambda p, u, w, n, c: CareTeamMembership.objects.create(
        patient_id=p, user=u, role="nurse", starts_at=n + DAY), set()),
    ("attending, in progress", lambda p, u, w, n, c: _encounter(
        p, u, w, status="in_progress", started=n - DAY), {"attending", "department"}),
    ("attending, finished 13 days ago", lambda p, u, w, n, c: _encounter(
        p, u, w, status="finished", started=n - 16 * DAY, ended=n - 13 * DAY), {"attending"}),
    ("attending, finished 15 days ago", lambda p, u, w, n, c: _encounter(
        p, u, w, status="finished", started=n - 18 * DAY, ended=n - 15 * DAY), set()),
    ("attending, cancelled yesterday", lambda p, u, w, n, c: _encounter(
        p, u, w, status="cancelled", started=n - 2 * DAY, ended=n - DAY), set()),
    ("attending, cancelled, never ended", lambda p, u, w, n, c: _encounter(
        p, u, w, status="cancelled", started=n - DAY), set()),
    ("attending, planned", lambda p, u, w, n, c: _encounter(
        p, u, w, status="planned", started=n + DAY), set()),
    ("department, arrived", lambda p, u, w, n, c: _encounter(
        p, u, w, status="arrived", started=n - DAY, attending=False), {"department"}),
    ("department, finished an hour ago", lambda p, u, w, n, c: _encounter(
        p, u, w, status="finished", started=n - DAY, ended=n - HOUR, attending=False), set()),
    ("department, cancelled", lambda p, u, w, n, c: _encounter(
        p, u, w, status="cancelled", started=n - DAY, attending=False), set()),
    ("appointment today with the user", lambda p, u, w, n, c: _appointment(
        p, w, clinician=u, starts=n), {"appointment"}),
    ("appointment today in the user's department", lambda p, u, w, n, c: _appointment(
        p, w, clinician=c, starts=n), {"appointment"}),
    ("appointment today, cancelled", lambda p, u, w, n, c: _appointment(
        p, w, clinician=u, starts=n, status=Appointment.Status.CANCELLED), set()),
    ("appointment tomorrow", lambda p, u, w, n, c: _appointment(p, w, clinician=u, starts=n + DAY), set()),
    ("an order the user placed yesterday", lambda p, u, w, n, c: _order(p, u, at=n - DAY), {"order_result"}),
    ("nothing", lambda p, u, w, n, c: None, set()),
]  # fmt: skip

# Detection's reason codes that are policy relationships (the rest explain an access, grant none).
POLICY_CODES = {
    "care_team": Relationship.CARE_TEAM,
    "attending": Relationship.ATTENDING,
    "department": Relationship.DEPARTMENT,
    "appointment": Relationship.APPOINTMENT_TODAY,
}


@pytest.mark.parametrize(("name", "build", "expected"), MATRIX, ids=[row[0] for row in MATRIX])
def test_the_gateway_and_detection_agree(frozen_clock, make_user, name, build, expected):
    user, colleague = make_user("physician"), make_user("physician")
    ward, _ = Department.objects.get_or_create(code="ward-a", defaults={"name": "Ward A"})
    StaffProfile.objects.update_or_create(user=user, defaults={"department": ward})
    patient = new_patient()
    now = clock.now()
    with clinical_test_data():
        build(patient, user, ward, now, colleague)

    with clinical_test_data():  # the facts statement itself, inside the gateway
        policy = facts_for(user, [uuid.UUID(patient)])[uuid.UUID(patient)].relationships
    query = gateway.AccessQuery(user_id=user.pk, patient_id=patient, at=now)
    explained = gateway.detection_access_facts(queries=[query])[query].relationships

    assert explained == expected
    assert policy == {POLICY_CODES[code] for code in expected if code in POLICY_CODES}


def test_every_policy_relationship_has_a_detection_reason():
    assert set(POLICY_CODES.values()) == set(Relationship)
