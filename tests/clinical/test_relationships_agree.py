"""The care relationship has one definition (issue 11, item 19; ADR 0565).

The policy's facts (`_core.facts_for`, at now) and detection's explained
access (`gateway.detection_access_facts`, at each access's time) both read
the rows that can relate a user to a patient with one narrowing statement
(`_relationships.relationship_sql`: plain columns, the encounter's start
year and the keyed day index of its end) and decide with one function
(`_relationships.relationships_at`, on decrypted times). Before, the gateway
decided in SQL and detection in Python, and they disagreed: about a
cancelled encounter's attending, a finished encounter with no end recorded,
an encounter not started yet, and the last hours of the 14 days after
discharge.

These tests hold that: both paths go through the one function (replace it
and both answers change), neither module names a relationship's rows itself,
the narrowing never drops a row the definition would count, and on a matrix
of cases both paths give the expected answer."""

from __future__ import annotations

import ast
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from safeward import clock
from safeward.clinical import gateway
from safeward.clinical.gateway import _relationships
from safeward.clinical.gateway._core import facts_for
from safeward.clinical.gateway._relationships import (
    Booking,
    CareTeamSpan,
    EncounterSpan,
    read_relationship_rows,
    relationships_at,
)
from safeward.clinical.models import Appointment, CareTeamMembership, Encounter, Observation, Slot
from safeward.clinical.policy import Relationship
from safeward.crypto.fields import decrypt_field
from safeward.identity.models import Department, StaffProfile
from tests.clinical.conftest import new_patient
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db

DAY, HOUR, MINUTE = dt.timedelta(days=1), dt.timedelta(hours=1), dt.timedelta(minutes=1)
GATEWAY = Path(gateway.__file__).parent


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


def _transferred_out(p, u, w, n, c, other):
    """Attended in the user's ward, discharged 2 days ago to another ward."""
    _encounter(p, u, w, status="finished", started=n - 5 * DAY, ended=n - 2 * DAY)
    _encounter(p, c, other, status="in_progress", started=n - 2 * DAY)


def _transferred_in(p, u, w, n, c, other):
    """Moved from another ward into the user's ward an hour ago."""
    _encounter(p, c, other, status="finished", started=n - 3 * DAY, ended=n - HOUR)
    _encounter(p, u, w, status="arrived", started=n - HOUR, attending=False)


# (name, builder(patient, user, ward, now, colleague, other ward), the codes at now,
#  {how long before now: the codes detection gives an access then})
Scenario = tuple[str, Callable[..., object], set[str], dict[dt.timedelta, set[str]]]
MATRIX: list[Scenario] = [
    ("care team, current", lambda p, u, w, n, c, o: CareTeamMembership.objects.create(
        patient_id=p, user=u, role="nurse", starts_at=n - DAY), {"care_team"}, {2 * DAY: set()}),
    ("care team, ended", lambda p, u, w, n, c, o: CareTeamMembership.objects.create(
        patient_id=p, user=u, role="nurse", starts_at=n - 3 * DAY, ends_at=n - DAY), set(),
        {2 * DAY: {"care_team"}}),
    ("care team, not yet", lambda p, u, w, n, c, o: CareTeamMembership.objects.create(
        patient_id=p, user=u, role="nurse", starts_at=n + DAY), set(), {}),
    ("attending, in progress", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="in_progress", started=n - DAY), {"attending", "department"}, {2 * DAY: set()}),
    ("attending, in progress but starting tomorrow", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="in_progress", started=n + DAY), set(), {}),
    ("attending, finished 13 days ago", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="finished", started=n - 16 * DAY, ended=n - 13 * DAY), {"attending"},
        {14 * DAY: {"attending", "department"}}),
    ("attending, discharged on the first minute of the day 14 days ago", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="finished", started=n - 16 * DAY,
        ended=n.replace(hour=0, minute=1) - 14 * DAY), {"attending"}, {}),
    ("attending, discharged on the last minute of the day 15 days ago", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="finished", started=n - 17 * DAY,
        ended=n.replace(hour=23, minute=59) - 15 * DAY), set(), {DAY: {"attending"}}),
    ("attending, finished 15 days ago", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="finished", started=n - 18 * DAY, ended=n - 15 * DAY), set(),
        {3 * DAY: {"attending"}}),
    ("attending, ended long ago", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="finished", started=n - 400 * DAY, ended=n - 399 * DAY), set(), {}),
    ("attending, finished with no end recorded", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="finished", started=n - 2 * DAY), set(), {}),
    ("attending, cancelled yesterday", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="cancelled", started=n - 2 * DAY, ended=n - DAY), set(), {36 * HOUR: set()}),
    ("attending, cancelled, never ended", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="cancelled", started=n - DAY), set(), {}),
    ("attending, planned", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="planned", started=n + DAY), set(), {}),
    ("department, arrived", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="arrived", started=n - DAY, attending=False), {"department"}, {}),
    ("department, finished an hour ago", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="finished", started=n - DAY, ended=n - HOUR, attending=False), set(),
        {2 * HOUR: {"department"}}),
    ("department, cancelled", lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="cancelled", started=n - DAY, attending=False), set(), {HOUR: set()}),
    ("transferred out of the user's ward", _transferred_out, {"attending"},
        {3 * DAY: {"attending", "department"}}),
    ("transferred into the user's ward", _transferred_in, {"department"}, {2 * HOUR: set()}),
    ("appointment today with the user", lambda p, u, w, n, c, o: _appointment(
        p, w, clinician=u, starts=n), {"appointment"}, {DAY: set()}),
    ("appointment today in the user's department", lambda p, u, w, n, c, o: _appointment(
        p, w, clinician=c, starts=n), {"appointment"}, {}),
    ("appointment today, cancelled", lambda p, u, w, n, c, o: _appointment(
        p, w, clinician=u, starts=n, status=Appointment.Status.CANCELLED), set(), {}),
    ("appointment tomorrow", lambda p, u, w, n, c, o: _appointment(
        p, w, clinician=u, starts=n + DAY), set(), {}),
    ("an order the user placed yesterday", lambda p, u, w, n, c, o: _order(
        p, u, at=n - DAY), {"order_result"}, {2 * DAY: set()}),
    ("nothing", lambda p, u, w, n, c, o: None, set(), {}),
]  # fmt: skip

# Detection's reason codes that are policy relationships (the rest explain an access, grant none).
POLICY_CODES = {
    "care_team": Relationship.CARE_TEAM,
    "attending": Relationship.ATTENDING,
    "department": Relationship.DEPARTMENT,
    "appointment": Relationship.APPOINTMENT_TODAY,
}


def _world(make_user, build):
    user, colleague = make_user("physician"), make_user("physician")
    ward, _ = Department.objects.get_or_create(code="ward-a", defaults={"name": "Ward A"})
    other, _ = Department.objects.get_or_create(code="ward-b", defaults={"name": "Ward B"})
    StaffProfile.objects.update_or_create(user=user, defaults={"department": ward})
    patient = new_patient()
    with clinical_test_data():
        build(patient, user, ward, clock.now(), colleague, other)
    return user, patient


def _policy(user, patient) -> set[Relationship]:
    with clinical_test_data():  # the facts statement itself, inside the gateway
        return facts_for(user, [uuid.UUID(patient)])[uuid.UUID(patient)].relationships


def _explained(user, patient, at) -> set[str]:
    query = gateway.AccessQuery(user_id=user.pk, patient_id=patient, at=at)
    return gateway.detection_access_facts(queries=[query])[query].relationships


@pytest.mark.parametrize(("name", "build", "expected", "earlier"), MATRIX, ids=[row[0] for row in MATRIX])
def test_the_gateway_and_detection_agree(frozen_clock, make_user, name, build, expected, earlier):
    user, patient = _world(make_user, build)
    now = clock.now()

    assert _explained(user, patient, now) == expected
    assert _policy(user, patient) == {POLICY_CODES[code] for code in expected if code in POLICY_CODES}
    for before, codes in earlier.items():  # detection asks at the access's time, with the same definition
        assert _explained(user, patient, now - before) == codes, f"{before} before now"


def _every_row(user, patient) -> dict[str, list]:
    """All of the patient's relationship rows, unnarrowed, times decrypted."""
    pid = uuid.UUID(patient)
    with clinical_test_data():
        return {
            "care_team": [
                CareTeamSpan(m.user_id, m.starts_at, m.ends_at)
                for m in CareTeamMembership.objects.filter(patient_id=pid)
            ],
            "encounters": [
                EncounterSpan(
                    e.attending_id,
                    e.department_id,
                    e.status,
                    decrypt_field(e, "started_at"),
                    decrypt_field(e, "ended_at"),
                )
                for e in Encounter.objects.filter(patient_id=pid)
            ],
            "bookings": [
                Booking(a.clinician_id, a.department_id, a.status, a.starts_at)
                for a in Appointment.objects.filter(patient_id=pid)
            ],
            "departments": [
                d for d in StaffProfile.objects.filter(user=user).values_list("department_id", flat=True) if d
            ],
        }


@pytest.mark.parametrize(("name", "build", "expected", "earlier"), MATRIX, ids=[row[0] for row in MATRIX])
def test_the_narrowing_never_drops_a_row_that_relates(
    frozen_clock, make_user, name, build, expected, earlier
):
    """The statement reads only candidates (by start year and end-day index);
    deciding on every row of the patient instead gives the same answer, at
    now and at every earlier time of the matrix, alone or in a batch window."""
    user, patient = _world(make_user, build)
    now = clock.now()
    every = _every_row(user, patient)
    times = [now, *(now - before for before in earlier)]
    with clinical_test_data():
        batch = read_relationship_rows([user.pk], [uuid.UUID(patient)], min(times), now)
        for at in times:
            alone = read_relationship_rows([user.pk], [uuid.UUID(patient)], at, at)
            truth = relationships_at(
                user_id=user.pk,
                departments=frozenset(every["departments"]),
                at=at,
                care_team=every["care_team"],
                encounters=every["encounters"],
                bookings=every["bookings"],
            )
            assert alone.at(user.pk, uuid.UUID(patient), at) == truth, at
            assert batch.at(user.pk, uuid.UUID(patient), at) == truth, at


def test_both_paths_decide_with_the_one_definition(frozen_clock, make_user, monkeypatch):
    """Replace the definition: the policy's facts and detection's explanation
    both follow (neither keeps a copy of its own)."""
    user, patient = _world(make_user, lambda p, u, w, n, c, o: _encounter(
        p, u, w, status="in_progress", started=n - DAY))  # fmt: skip
    calls: list[dt.datetime] = []

    def only_the_care_team(**kwargs):
        calls.append(kwargs["at"])
        return {Relationship.CARE_TEAM}

    monkeypatch.setattr(_relationships, "relationships_at", only_the_care_team)
    earlier = clock.now() - HOUR
    assert _policy(user, patient) == {Relationship.CARE_TEAM}
    assert _explained(user, patient, earlier) == {"care_team"}
    assert calls == [clock.now(), earlier]


def test_no_other_gateway_module_reads_a_relationships_rows():
    """The policy's facts and detection name none of the rows a relationship
    is made of: they get relationships from `_relationships` only."""
    rows = {"CareTeamMembership", "Encounter", "Appointment", "ended_day_index", "ended_day_indexes"}
    for module in ("_core.py", "detection.py"):
        tree = ast.parse((GATEWAY / module).read_text())
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        names |= {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names
        }
        strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert not (rows & (names | strings)), f"{module} reads relationship rows itself"


# --- the definition itself, at its edges ----------------------------------------------------------------
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
FIRST_HOUR, LAST_HOUR = NOW.replace(hour=0), NOW.replace(hour=23)
WARD_ID, OTHER_ID, USER_ID = 1, 2, 7


def _decide(*, encounters=(), care_team=(), bookings=(), at=NOW) -> set[Relationship]:
    return relationships_at(
        user_id=USER_ID,
        departments=frozenset({WARD_ID}),
        at=at,
        care_team=care_team,
        encounters=encounters,
        bookings=bookings,
    )


@pytest.mark.parametrize(
    ("encounter", "expected"),
    [
        (EncounterSpan(USER_ID, WARD_ID, "in_progress", NOW - DAY, None), {"attending", "department"}),
        (EncounterSpan(USER_ID, OTHER_ID, "arrived", NOW - DAY, None), {"attending"}),
        (EncounterSpan(USER_ID, WARD_ID, "in_progress", NOW + MINUTE, None), set()),
        (EncounterSpan(USER_ID, WARD_ID, "finished", NOW - DAY, None), set()),
        (EncounterSpan(USER_ID, WARD_ID, "finished", NOW - DAY, NOW), {"attending", "department"}),
        (EncounterSpan(USER_ID, WARD_ID, "finished", NOW - DAY, NOW - MINUTE), {"attending"}),
        (EncounterSpan(USER_ID, WARD_ID, "arrived", NOW - DAY, NOW + HOUR), {"attending", "department"}),
        (
            EncounterSpan(USER_ID, WARD_ID, "finished", NOW - 20 * DAY, NOW.replace(hour=0) - 14 * DAY),
            {"attending"},
        ),
        (EncounterSpan(USER_ID, WARD_ID, "finished", NOW - 20 * DAY, NOW.replace(hour=23) - 15 * DAY), set()),
        (EncounterSpan(USER_ID, WARD_ID, "cancelled", NOW - DAY, None), set()),
        (EncounterSpan(USER_ID, WARD_ID, "cancelled", NOW - DAY, NOW - HOUR), set()),
        (EncounterSpan(USER_ID, WARD_ID, "planned", NOW - DAY, None), set()),
        (EncounterSpan(USER_ID + 1, WARD_ID, "in_progress", NOW - DAY, None), {"department"}),
        (EncounterSpan(USER_ID + 1, OTHER_ID, "in_progress", NOW - DAY, None), set()),
    ],
)
def test_an_encounter_relates_by_status_start_and_end(encounter, expected):
    assert _decide(encounters=[encounter]) == {Relationship(code) for code in expected}


def test_care_team_and_appointments_at_their_edges():
    assert _decide(care_team=[CareTeamSpan(USER_ID, NOW, None)]) == {Relationship.CARE_TEAM}
    assert _decide(care_team=[CareTeamSpan(USER_ID, NOW - DAY, NOW)]) == set()
    assert _decide(care_team=[CareTeamSpan(USER_ID + 1, NOW - DAY, None)]) == set()
    booked = Appointment.Status.BOOKED.value
    assert _decide(bookings=[Booking(None, WARD_ID, booked, NOW.replace(hour=23))]) == {
        Relationship.APPOINTMENT_TODAY
    }
    assert _decide(bookings=[Booking(USER_ID, OTHER_ID, "checked_in", NOW.replace(hour=0))]) == {
        Relationship.APPOINTMENT_TODAY
    }
    assert _decide(bookings=[Booking(USER_ID, WARD_ID, booked, NOW + DAY)]) == set()
    assert _decide(bookings=[Booking(USER_ID, WARD_ID, Appointment.Status.NO_SHOW.value, NOW)]) == set()
    assert _decide(bookings=[Booking(USER_ID + 1, OTHER_ID, booked, NOW)]) == set()


def test_every_policy_relationship_has_a_detection_reason():
    assert set(POLICY_CODES.values()) == set(Relationship)
    assert {POLICY_CODES[code] for code in POLICY_CODES} == set(gateway.detection.REASONS)


def test_a_detection_batch_costs_six_queries_whatever_its_size(
    frozen_clock, make_user, django_assert_max_num_queries
):
    """Users, patients' flags, the relationship rows (one statement for every
    kind and the users' departments), and the three kinds of handled rows."""
    ward, _ = Department.objects.get_or_create(code="ward-a", defaults={"name": "Ward A"})
    users = [make_user("physician") for _ in range(3)]
    patients = [new_patient(mrn=f"BATCH-{n}") for n in range(8)]
    now = clock.now()
    with clinical_test_data():
        for n, patient in enumerate(patients):
            user = users[n % 3]
            StaffProfile.objects.update_or_create(user=user, defaults={"department": ward})
            _encounter(patient, user, ward, status="in_progress", started=now - DAY)
            CareTeamMembership.objects.create(
                patient_id=patient, user=user, role="nurse", starts_at=now - DAY
            )
    queries = [
        gateway.AccessQuery(user_id=user.pk, patient_id=patient, at=now - n * HOUR)
        for n, (user, patient) in enumerate((u, p) for u in users for p in patients)
    ]
    gateway.detection_access_facts(queries=queries[:1], compare_explained=False)  # keys loaded once
    with django_assert_max_num_queries(6):
        facts = gateway.detection_access_facts(queries=queries, compare_explained=False)
    assert sum(1 for f in facts.values() if "care_team" in f.relationships) == len(patients)
