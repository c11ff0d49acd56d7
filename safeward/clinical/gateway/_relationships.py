"""The care relationship, defined once.

A relationship of a person to a patient at a moment is one of the kinds in
`RELATIONSHIP_KINDS`, each a SQL condition over a *probe*: one row of
(person, patient, moment) in the statement's `q` table. The gateway asks
with the moment "now" and decides access on the kinds that are policy
relationships (`_core.facts_for`); detection asks with the moment of each
audited access and explains it with every kind (`detection.py`). Both run
`probe_rows`, so they cannot disagree (tests/clinical/test_relationships_agree.py,
ADR 0545).

The table of kinds, in words, is in docs/clinical-policy.md ("Relationship").
"""

# ruff: noqa: S608 - statements built from model metadata and this module's constants; values are parameters
from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from safeward.clinical.models import (
    Appointment,
    CareTeamMembership,
    ClinicalNote,
    Encounter,
    MedicationRequest,
    Observation,
    Patient,
)
from safeward.clinical.policy import Relationship
from safeward.identity.selectors import staff_department_ids_sql

# An attending keeps the relationship this long after the encounter ends
# (results and follow-up arrive after discharge).
ATTENDING_AFTER_DISCHARGE = dt.timedelta(days=14)
# How long handling an order, result, prescription or note explains later
# accesses to the same patient (and a little before: the access that led to it).
HANDLED_EXPLAINS = dt.timedelta(days=30)
HANDLED_LEAD = dt.timedelta(minutes=5)

# The probe table `q`: one row per (person, patient, moment) and the window
# bounds derived from the moment (in Python: the local day needs the time zone).
PROBE_COLUMNS = (
    "n",
    "user_id",
    "patient_id",
    "at",
    "attending_since",
    "day_start",
    "day_end",
    "handled_since",
    "handled_until",
)
# Rows per statement: 9 parameters each, well under SQLite's variable limit.
PROBES_PER_STATEMENT = 500


@dataclass(frozen=True)
class Probe:
    user_id: int | None  # None (a system actor) matches no relationship
    patient_id: uuid.UUID
    at: dt.datetime


@dataclass(frozen=True)
class RelationshipKind:
    code: str  # what detection reports (docs/detection.md)
    policy: Relationship | None  # the policy relationship; None: it explains an access, grants none
    condition: str  # SQL over the probe row `q`


def _literals(values: Iterable[str]) -> str:
    """Status values from the models' choices as SQL literals (never input)."""
    items = list(values)
    assert all(re.fullmatch(r"[a-z_]+", value) for value in items)
    return ", ".join(f"'{value}'" for value in items)


def _table(model: type[Any]) -> str:
    return str(model._meta.db_table)


DEPARTMENTS_OF_PROBE = staff_department_ids_sql(user_column="q.user_id")
_OPEN = _literals(Encounter.ACTIVE_STATUSES)
_BOOKED = _literals([Appointment.Status.BOOKED.value, Appointment.Status.CHECKED_IN.value])


def _handled(model: type[Any], person: str, moment: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM {_table(model)} h WHERE h.patient_id = q.patient_id"
        f" AND h.{person} = q.user_id AND h.{moment} >= q.handled_since AND h.{moment} <= q.handled_until)"
    )


RELATIONSHIP_KINDS: tuple[RelationshipKind, ...] = (
    RelationshipKind(
        "care_team",
        Relationship.CARE_TEAM,
        f"EXISTS (SELECT 1 FROM {_table(CareTeamMembership)} c WHERE c.patient_id = q.patient_id"
        " AND c.user_id = q.user_id AND c.starts_at <= q.at AND (c.ends_at IS NULL OR c.ends_at > q.at))",
    ),
    RelationshipKind(
        "attending",
        Relationship.ATTENDING,
        f"EXISTS (SELECT 1 FROM {_table(Encounter)} e WHERE e.patient_id = q.patient_id"
        " AND e.attending_id = q.user_id AND e.started_at <= q.at"
        f" AND ((e.status IN ({_OPEN}) AND (e.ended_at IS NULL OR e.ended_at >= q.attending_since))"
        f" OR (e.status = '{Encounter.Status.FINISHED.value}' AND e.ended_at >= q.attending_since)))",
    ),
    RelationshipKind(
        "department",
        Relationship.DEPARTMENT,
        f"EXISTS (SELECT 1 FROM {_table(Encounter)} e WHERE e.patient_id = q.patient_id"
        f" AND e.status IN ({_OPEN}) AND e.started_at <= q.at AND (e.ended_at IS NULL OR e.ended_at >= q.at)"
        f" AND e.department_id IN ({DEPARTMENTS_OF_PROBE}))",
    ),
    RelationshipKind(
        "appointment",
        Relationship.APPOINTMENT_TODAY,
        f"EXISTS (SELECT 1 FROM {_table(Appointment)} a WHERE a.patient_id = q.patient_id"
        f" AND a.starts_at >= q.day_start AND a.starts_at < q.day_end AND a.status IN ({_BOOKED})"
        f" AND (a.clinician_id = q.user_id OR a.department_id IN ({DEPARTMENTS_OF_PROBE})))",
    ),
    RelationshipKind("order_result", None, _handled(Observation, "recorded_by_id", "effective_at")),
    RelationshipKind("medication", None, _handled(MedicationRequest, "requester_id", "authored_at")),
    RelationshipKind("note", None, _handled(ClinicalNote, "author_id", "created_at")),
)
POLICY_KINDS = tuple(kind for kind in RELATIONSHIP_KINDS if kind.policy is not None)


def _placeholder(db_type: str) -> str:
    """A typed parameter: PostgreSQL types a VALUES column from its rows and
    would take an untyped one for text; SQLite compares as stored."""
    return f"CAST(%s AS {db_type})" if connection.vendor == "postgresql" else "%s"


@functools.lru_cache(maxsize=256)
def _statement(count: int, columns: tuple[str, ...], vendor: str) -> str:
    """The statement for `count` probes (cached: a chart, a search page and a
    detection batch ask with few distinct counts; ADR 0520's Python time)."""
    moment = _placeholder(Encounter._meta.get_field("started_at").db_type(connection) or "")
    row = ", ".join(
        [
            _placeholder("integer"),
            _placeholder(CareTeamMembership._meta.get_field("user").db_type(connection) or ""),
            _placeholder(Patient._meta.get_field("id").db_type(connection) or ""),
            *[moment] * 6,
        ]
    )
    values = ", ".join([f"({row})"] * count)
    return (
        f"WITH q ({', '.join(PROBE_COLUMNS)}) AS (VALUES {values}) "
        f"SELECT q.n, {', '.join(columns)} FROM q ORDER BY q.n"
    )


def _params(probes: Sequence[Probe]) -> list[Any]:
    when = connection.ops.adapt_datetimefield_value
    pk = Patient._meta.pk
    assert pk is not None
    params: list[Any] = []
    for n, probe in enumerate(probes):
        day_start = timezone.localtime(probe.at).replace(hour=0, minute=0, second=0, microsecond=0)
        params += [
            n,
            probe.user_id,
            pk.get_db_prep_value(probe.patient_id, connection),
            when(probe.at),
            when(probe.at - ATTENDING_AFTER_DISCHARGE),
            when(day_start),
            when(day_start + dt.timedelta(days=1)),
            when(probe.at - HANDLED_EXPLAINS),
            when(probe.at + HANDLED_LEAD),
        ]
    return params


def probe_rows(probes: Sequence[Probe], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """For each probe, in order, the values of `columns` (SQL over `q`):
    one statement per PROBES_PER_STATEMENT probes."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(probes), PROBES_PER_STATEMENT):
        chunk = probes[start : start + PROBES_PER_STATEMENT]
        with connection.cursor() as cursor:
            cursor.execute(_statement(len(chunk), tuple(columns), connection.vendor), _params(chunk))
            rows += [tuple(row[1:]) for row in cursor.fetchall()]
    return rows


def relationships(probes: Sequence[Probe], kinds: Sequence[RelationshipKind]) -> list[set[RelationshipKind]]:
    """Which of `kinds` hold for each probe, in order."""
    found = probe_rows(probes, [kind.condition for kind in kinds])
    return [{kind for kind, on in zip(kinds, row, strict=True) if on} for row in found]
