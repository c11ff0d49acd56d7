"""The care relationship: one definition, for the access decision and for
detection alike (issue 11, item 19; ADR 0565).

A user is related to a patient at a moment `at` by

* **care team**: a membership that started at or before `at` and had not ended;
* **attending**: an encounter the user attends, arrived, in progress or
  finished (never planned or cancelled), started at or before `at`, either
  still open (no end, status arrived or in progress) or ended no more than
  14 local days before the day of `at` (the discharge day and 14 more:
  results and follow-up arrive after discharge);
* **department**: such an encounter in the user's department, open at `at`
  (no end and still arrived or in progress, or ending at or after `at`);
* **appointment**: a booked or checked-in appointment on the local day of
  `at`, with the user or in the user's department.

`relationships_at` is that definition, over plain values. Both paths feed
it the same way: `relationship_sql` narrows, in one statement, the rows
that could relate the users to the patients at some moment between `since`
and `until`, using only plain columns and the coarse forms of the encrypted
times (the encounter's UTC start year, the keyed day index of its end, ADR
0557); `collect` decrypts the few encounters' times and groups the rows;
`RelationshipRows.at` applies the definition. The policy asks at `now`
(`_core.facts_for`), detection at each access's time
(`detection_access_facts`)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from safeward import clock
from safeward.clinical.models import Appointment, CareTeamMembership, Encounter, Patient
from safeward.clinical.policy import Relationship
from safeward.crypto.fields import BlindIndexField, blind_index_keys, decrypt_stored
from safeward.identity.selectors import staff_departments_sql

ATTENDING_DAYS_AFTER_DISCHARGE = 14
# Encounters that relate anyone; those without an end relate only while open.
COUNTED_ENCOUNTERS = (
    Encounter.Status.ARRIVED.value,
    Encounter.Status.IN_PROGRESS.value,
    Encounter.Status.FINISHED.value,
)
OPEN_ENCOUNTERS = tuple(Encounter.ACTIVE_STATUSES)
BOOKED = (Appointment.Status.BOOKED.value, Appointment.Status.CHECKED_IN.value)
# A window of up to this many end days narrows ended encounters by their keyed
# day index; a longer one (a detection backlog) reads every ended encounter of
# the patients and lets the definition compare the decrypted ends.
DAY_INDEX_SPAN = 62


# --- the definition ------------------------------------------------------------------------------
# Named tuples, not frozen dataclasses: a list's facts build one per narrowed
# row, and a frozen dataclass's `__init__` sets each field through
# `object.__setattr__` (ADR 0595).
class CareTeamSpan(NamedTuple):
    user_id: int
    starts: dt.datetime
    ends: dt.datetime | None


class EncounterSpan(NamedTuple):
    attending_id: int | None
    department_id: int
    status: str
    started: dt.datetime
    ended: dt.datetime | None


class Booking(NamedTuple):
    clinician_id: int | None
    department_id: int
    status: str
    starts: dt.datetime


def _local_day(moment: dt.datetime, zone: dt.tzinfo | None = None) -> dt.date:
    return moment.astimezone(zone or timezone.get_current_timezone()).date()


def relationships_at(
    *,
    user_id: int,
    departments: AbstractSet[int],
    at: dt.datetime,
    care_team: Iterable[CareTeamSpan] = (),
    encounters: Iterable[EncounterSpan] = (),
    bookings: Iterable[Booking] = (),
    zone: dt.tzinfo | None = None,
) -> set[Relationship]:
    """The care relationships the user holds to one patient at `at`, from that
    patient's rows (any user's: rows of other users relate no one here).
    Days are local days (the server's time zone, as the end-day index's;
    `zone` is that zone when the caller has it already)."""
    zone = zone or timezone.get_current_timezone()
    held: set[Relationship] = set()
    if any(m.user_id == user_id and m.starts <= at and (m.ends is None or m.ends > at) for m in care_team):
        held.add(Relationship.CARE_TEAM)
    for encounter in encounters:
        if encounter.status not in COUNTED_ENCOUNTERS or encounter.started > at:
            continue
        ended = encounter.ended
        if ended is None:  # no end: it relates while its status says it is open
            attended = underway = encounter.status in OPEN_ENCOUNTERS
        else:
            underway = at <= ended
            day = at.astimezone(zone).date()
            attended = (day - ended.astimezone(zone).date()).days <= ATTENDING_DAYS_AFTER_DISCHARGE
        if attended and encounter.attending_id == user_id:
            held.add(Relationship.ATTENDING)
        if underway and encounter.department_id in departments:
            held.add(Relationship.DEPARTMENT)
    if bookings and any(
        booking.status in BOOKED
        and booking.starts.astimezone(zone).date() == at.astimezone(zone).date()
        and (booking.clinician_id == user_id or booking.department_id in departments)
        for booking in bookings
    ):
        held.add(Relationship.APPOINTMENT_TODAY)
    return held


_NO_DEPARTMENTS: frozenset[int] = frozenset()


@dataclass
class RelationshipRows:
    """The narrowed rows of one statement, grouped by patient, and each user's departments."""

    care_team: dict[uuid.UUID, list[CareTeamSpan]] = field(default_factory=lambda: defaultdict(list))
    encounters: dict[uuid.UUID, list[EncounterSpan]] = field(default_factory=lambda: defaultdict(list))
    bookings: dict[uuid.UUID, list[Booking]] = field(default_factory=lambda: defaultdict(list))
    departments: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))

    @functools.cached_property
    def zone(self) -> dt.tzinfo:
        """The local zone, looked up once for all of a list's patients: Django's
        lookup goes through a context-local and was a tenth of a worklist's facts."""
        return timezone.get_current_timezone()

    def patients(self) -> set[uuid.UUID]:
        """The patients with any row (the others relate no one)."""
        return self.care_team.keys() | self.encounters.keys() | self.bookings.keys()

    def at(self, user_id: int | None, patient_id: uuid.UUID, at: dt.datetime) -> set[Relationship]:
        if user_id is None:  # a system actor relates to no one
            return set()
        care_team = self.care_team.get(patient_id, ())
        encounters = self.encounters.get(patient_id, ())
        bookings = self.bookings.get(patient_id, ())
        if not (care_team or encounters or bookings):  # most of a long list: no row, no relationship
            return set()
        return relationships_at(
            zone=self.zone,
            user_id=user_id,
            departments=self.departments.get(user_id, _NO_DEPARTMENTS),
            at=at,
            care_team=care_team,
            encounters=encounters,
            bookings=bookings,
        )


# --- the narrowing statement ---------------------------------------------------------------------
def _columns() -> dict[str, Field[Any, Any]]:
    """Every branch of the statement returns these columns after its kind, in
    this order; each stands for the model field whose type it has. `row`,
    `flag_a` and `flag_b` also carry a caller's own branch (the policy's
    break-glass grant, exclusion and payer restriction, `_core.facts_for`)."""
    return {
        "patient": Patient._meta.get_field("id"),
        "user": Encounter._meta.get_field("attending"),
        "department": Encounter._meta.get_field("department"),
        "status": Encounter._meta.get_field("status"),
        "starts": CareTeamMembership._meta.get_field("starts_at"),
        "ends": CareTeamMembership._meta.get_field("ends_at"),
        "sealed_started": Encounter._meta.get_field("started_at"),
        "sealed_ended": Encounter._meta.get_field("ended_at"),
        "row": Encounter._meta.get_field("id"),
        "flag_a": Patient._meta.get_field("is_vip"),
        "flag_b": Patient._meta.get_field("is_vip"),
    }


def select_list(kind: str, **values: str) -> str:
    """A branch's select list: its kind, then every column (`values` by name,
    the others a NULL cast to the column's type: PostgreSQL resolves a UNION
    column's type branch by branch, and untyped NULLs in the first two would
    make it text)."""
    columns = _columns()
    unknown = set(values) - set(columns)
    assert not unknown, f"not a column of the relationship statement: {unknown}"
    parts = [f"'{kind}'"]
    for name, model_field in columns.items():
        parts.append(values.get(name) or f"CAST(NULL AS {model_field.db_type(connection)})")
    return ", ".join(parts)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


# The statement's patients, for a caller's own branch (`FROM related_patients p`).
PATIENTS = "related_patients"


def _patient_ids_sql() -> str:
    """The statement's patients from one array parameter (PostgreSQL: a uuid
    array; SQLite: a JSON array of the stored hex ids): the statement's text
    does not depend on how many patients it asks about, so it is built once
    and psycopg parses it once, where one placeholder per patient made a new
    text for every list length (ADR 0586)."""
    if connection.vendor == "postgresql":
        return "pt.id = ANY(%s::uuid[])"
    return "pt.id IN (SELECT value FROM json_each(%s))"


def relationship_sql(users: int, day_indexes: int | None) -> str:
    """The narrowing statement for `users` user ids and any number of patient
    ids: a UNION ALL of care team memberships, encounters, appointments and
    the users' departments, each branch answered from an index on the patient
    (or the user). The patients and the users' departments are named once, as
    common table expressions. `day_indexes`: how many keyed end-day indexes
    narrow ended encounters (None: every ended encounter). Built once per shape."""
    key = (users, day_indexes)
    cached = _SQL.get(key)
    if cached is not None:
        return cached
    models = (Patient, CareTeamMembership, Encounter, Appointment)
    t = {model.__name__: model._meta.db_table for model in models}
    u = _marks(users)
    ended = ""
    if day_indexes is not None:
        ended = f" AND (e.ended_at IS NULL OR e.ended_day_index IN ({_marks(day_indexes)}))"
    c_list = select_list(
        "c", patient="c.patient_id", user="c.user_id", starts="c.starts_at", ends="c.ends_at"
    )
    e_list = select_list(
        "e",
        patient="e.patient_id",
        user="e.attending_id",
        department="e.department_id",
        status="e.status",
        sealed_started="e.started_at",
        sealed_ended="e.ended_at",
        row="e.id",
    )
    a_list = select_list(
        "a",
        patient="a.patient_id",
        user="a.clinician_id",
        department="a.department_id",
        status="a.status",
        starts="a.starts_at",
    )
    d_list = select_list("d", user="sd.user_id", department="sd.department_id")
    sql = f"""WITH {PATIENTS} AS (SELECT pt.id FROM {t["Patient"]} pt WHERE {_patient_ids_sql()}),
 related_departments AS ({staff_departments_sql(users=users)})
SELECT {c_list} FROM {PATIENTS} pc JOIN {t["CareTeamMembership"]} c ON c.patient_id = pc.id
 WHERE c.user_id IN ({u}) AND c.starts_at <= %s AND (c.ends_at IS NULL OR c.ends_at > %s)
UNION ALL
SELECT {e_list} FROM {PATIENTS} pe JOIN {t["Encounter"]} e ON e.patient_id = pe.id
 WHERE e.status IN ({_marks(len(COUNTED_ENCOUNTERS))}) AND e.started_year <= %s
 AND (e.attending_id IN ({u}) OR e.department_id IN (SELECT department_id FROM related_departments)){ended}
UNION ALL
SELECT {a_list} FROM {PATIENTS} pa JOIN {t["Appointment"]} a ON a.patient_id = pa.id
 WHERE a.starts_at >= %s AND a.starts_at < %s AND a.status IN ({_marks(len(BOOKED))})
 AND (a.clinician_id IN ({u}) OR a.department_id IN (SELECT department_id FROM related_departments))
UNION ALL
SELECT {d_list} FROM related_departments sd"""  # noqa: S608 - names from model metadata; values are parameters
    if users <= _SQL_CACHED_UP_TO:
        _SQL[key] = sql
    return sql


_SQL: dict[tuple[int, int | None], str] = {}
_SQL_CACHED_UP_TO = 64  # users per statement (one, or a detection batch's): bounded memory


def _day_start(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return moment.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def ended_day_indexes(
    since: dt.datetime, until: dt.datetime, zone: dt.tzinfo | None = None
) -> list[bytes] | None:
    """The keyed day indexes of every end that can relate anyone at a moment
    from `since` to `until`: from 14 days before the day of `since` to today
    (an encounter open at an access may have ended since), under every usable
    blind-index key (an encounter not yet re-indexed during a rotation still
    matches). None when that is more than DAY_INDEX_SPAN days. `zone`: the
    local zone, when the caller has looked it up (a context-local look-up)."""
    zone = zone or timezone.get_current_timezone()
    first = _local_day(since, zone) - dt.timedelta(days=ATTENDING_DAYS_AFTER_DISCHARGE)
    last = max(_local_day(until, zone), _local_day(clock.now(), zone))
    days = (last - first).days + 1
    if days > DAY_INDEX_SPAN:
        return None
    keys = blind_index_keys()
    # The same fifteen days for every list and chart of a day: kept per span
    # and key set (a rotation's key is a new entry; the oldest entry goes).
    span = (first, last, tuple(key.key_id for key in keys))
    indexes = _DAY_INDEXES.get(span)
    if indexes is None:
        ended_day = Encounter._meta.get_field("ended_day_index")
        assert isinstance(ended_day, BlindIndexField)
        indexes = tuple(
            ended_day.compute(last - dt.timedelta(days=n), key=key) for n in range(days) for key in keys
        )
        if len(_DAY_INDEXES) >= _DAY_INDEXES_KEPT:
            _DAY_INDEXES.pop(next(iter(_DAY_INDEXES)))
        _DAY_INDEXES[span] = indexes
    return list(indexes)


_DAY_INDEXES: dict[tuple[dt.date, dt.date, tuple[int, ...]], tuple[bytes, ...]] = {}
_DAY_INDEXES_KEPT = 8


def relationship_params(
    user_ids: Sequence[int | None],
    patient_ids: Sequence[uuid.UUID],
    since: dt.datetime,
    until: dt.datetime,
    day_indexes: Sequence[bytes] | None,
    zone: dt.tzinfo,
) -> list[Any]:
    """The parameters of `relationship_sql`, in order (and adapted for the database)."""
    # The connection itself: each read of the `connection` proxy is a
    # context-local look-up, and the ids' preparation read it once an id.
    this = connections[DEFAULT_DB_ALIAS]
    when = this.ops.adapt_datetimefield_value
    pk = Patient._meta.pk
    assert pk is not None
    # One text either way: psycopg dumps a list parameter element by element
    # in Python. PostgreSQL: an array literal of uuids (their text has no
    # character that needs quoting), cast by the statement; each as its hex,
    # which PostgreSQL reads as well and Python writes in a third of `str`'s time.
    if this.vendor == "postgresql":
        patients = "{" + ",".join([uuid_of(pid).hex for pid in patient_ids]) + "}"
    else:
        patients = json.dumps([pk.get_db_prep_value(pid, this) for pid in patient_ids])
    users = list(user_ids)
    first_day = _day_start(since, zone)
    after_last_day = _day_start(until, zone) + dt.timedelta(days=1)
    return [
        patients,  # the patients, one array parameter
        *users,  # their departments
        *users,  # care team
        when(until),
        when(since),
        *COUNTED_ENCOUNTERS,  # encounters
        until.astimezone(dt.UTC).year,
        *users,
        *(day_indexes or ()),
        when(first_day),  # appointments
        when(after_last_day),
        *BOOKED,
        *users,
    ]


def moment_of(value: Any) -> dt.datetime:
    """A time from a raw row (SQLite returns text, in UTC)."""
    moment: dt.datetime | None = parse_datetime(value) if isinstance(value, str) else value
    assert moment is not None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def uuid_of(value: Any) -> uuid.UUID:
    """A uuid from a raw row (SQLite returns the stored hex text)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _encounter_times(row_id: Any, started: Any, ended: Any) -> tuple[dt.datetime, dt.datetime | None]:
    """Decrypt one narrowed encounter's times (each bound to its row, as every encrypted value)."""
    row = uuid_of(row_id)
    return (
        decrypt_stored(Encounter, "started_at", row, started),
        decrypt_stored(Encounter, "ended_at", row, ended),
    )


def collect(rows: Iterable[Sequence[Any]]) -> tuple[RelationshipRows, list[Sequence[Any]]]:
    """Group the statement's rows; rows of other kinds (a caller's own branch) are returned as they are."""
    found = RelationshipRows()
    others: list[Sequence[Any]] = []
    for row in rows:
        kind, patient, user, department, status, starts, ends, sealed_started, sealed_ended, row_id = row[:10]
        if kind == "c":
            found.care_team[uuid_of(patient)].append(
                CareTeamSpan(user, moment_of(starts), None if ends is None else moment_of(ends))
            )
        elif kind == "e":
            started, ended = _encounter_times(row_id, sealed_started, sealed_ended)
            found.encounters[uuid_of(patient)].append(EncounterSpan(user, department, status, started, ended))
        elif kind == "a":
            found.bookings[uuid_of(patient)].append(Booking(user, department, status, moment_of(starts)))
        elif kind == "d":
            found.departments[user].add(department)
        else:
            others.append(row)
    return found, others


def relationship_statement(
    user_ids: Sequence[int | None], patient_ids: Sequence[uuid.UUID], since: dt.datetime, until: dt.datetime
) -> tuple[str, list[Any]]:
    """The narrowing statement and its parameters for these users and patients
    and the moments from `since` to `until` (a None user matches nothing)."""
    zone = timezone.get_current_timezone()
    day_indexes = ended_day_indexes(since, until, zone)
    indexes = None if day_indexes is None else len(day_indexes)
    return (
        relationship_sql(len(user_ids), indexes),
        relationship_params(user_ids, patient_ids, since, until, day_indexes, zone),
    )


def read_relationship_rows(
    user_ids: Sequence[int], patient_ids: Sequence[uuid.UUID], since: dt.datetime, until: dt.datetime
) -> RelationshipRows:
    """The rows that can relate any of the users to any of the patients at a
    moment from `since` to `until` (one statement)."""
    if not user_ids or not patient_ids:
        return RelationshipRows()
    with connection.cursor() as cursor:
        cursor.execute(*relationship_statement(user_ids, patient_ids, since, until))
        found, _ = collect(cursor.fetchall())
    return found
