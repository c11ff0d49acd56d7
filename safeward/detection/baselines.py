"""Per-user daily distinct-patient counts and the baseline outlier test.

Counting: every chart access adds (user, local day, patient) to
DailyPatientTouch (unique, so repeats count once); the affected users'
DailyAccessCount rows are then recomputed from it. Both are written in the
worker's batch transaction, so counts survive restarts exactly.

The test (docs/detection.md, "Baselines"): today's count x against

* the user's own history: the counts of the last `history_days` days with
  any activity, at least `min_history_days` of them;
* the peers' history: the same days' counts of other users with the same
  roles and department, at least `min_peers` of them;

as a robust z-score, z = 0.6745 * (x - median) / max(MAD, mad_floor)
(Iglewicz and Hoaglin's modified z-score; MAD is the median absolute
deviation). An alert needs x >= min_count and z >= z_threshold against the
user's own history, or (when the user has too little history) against peers."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from safeward.detection.models import DailyAccessCount, DailyPatientTouch

MODIFIED_Z = 0.6745


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def robust_z(value: float, history: Sequence[float], *, mad_floor: float) -> float:
    median = statistics.median(history)
    mad = statistics.median([abs(item - median) for item in history])
    return MODIFIED_Z * (value - median) / max(mad, mad_floor)


@dataclass(frozen=True)
class Touch:
    user_id: int
    day: dt.date
    patient_id: str
    roles: str


def counts_update(
    touches: Iterable[Touch], *, departments: Mapping[int, int | None]
) -> dict[tuple[int, dt.date], int]:
    """Record the touches; returns the new distinct count of each affected (user, day)."""
    touches = list({(t.user_id, t.day, t.patient_id): t for t in touches}.values())
    if not touches:
        return {}
    DailyPatientTouch.objects.bulk_create(
        [DailyPatientTouch(user_id=t.user_id, day=t.day, patient_id=t.patient_id) for t in touches],
        ignore_conflicts=True,
    )
    keys = {(t.user_id, t.day) for t in touches}
    roles = {(t.user_id, t.day): t.roles for t in touches}
    users = sorted({user for user, _ in keys})
    days = sorted({day for _, day in keys})
    counts: dict[tuple[int, dt.date], int] = {}
    for user_id, day, number in (
        DailyPatientTouch.objects.filter(user_id__in=users, day__in=days)
        .values_list("user_id", "day")
        .annotate(number=Count("id"))
        .values_list("user_id", "day", "number")
    ):
        if (user_id, day) in keys:
            counts[(user_id, day)] = number
    DailyAccessCount.objects.bulk_create(
        [
            DailyAccessCount(
                user_id=user_id,
                day=day,
                roles=roles[(user_id, day)][:300],
                department_id=departments.get(user_id),
                distinct_patients=number,
            )
            for (user_id, day), number in counts.items()
        ],
        update_conflicts=True,
        unique_fields=["user_id", "day"],
        update_fields=["distinct_patients", "roles", "department_id"],
    )
    return counts


@dataclass(frozen=True)
class Outlier:
    user_id: int
    day: dt.date
    count: int
    z_own: float | None
    z_peers: float | None
    basis: str  # "own" or "peers"


def outliers(
    counts: Mapping[tuple[int, dt.date], int],
    *,
    roles: Mapping[int, str],
    departments: Mapping[int, int | None],
    history_days: int,
    min_history_days: int,
    z_threshold: float,
    mad_floor: float,
    min_count: int,
    min_peers: int,
) -> list[Outlier]:
    """The (user, day) counts that are outliers: two queries for the batch."""
    candidates = {key: value for key, value in counts.items() if value >= min_count}
    if not candidates:
        return []
    users = sorted({user for user, _ in candidates})
    first_day = min(day for _, day in candidates) - dt.timedelta(days=history_days)
    last_day = max(day for _, day in candidates)
    own: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for user_id, day, number in DailyAccessCount.objects.filter(
        user_id__in=users, day__gte=first_day, day__lt=last_day
    ).values_list("user_id", "day", "distinct_patients"):
        own[user_id].append((day, number))
    groups = {(roles.get(user, ""), departments.get(user)) for user in users}
    peer_rows: dict[tuple[str, int | None], list[tuple[int, dt.date, int]]] = defaultdict(list)
    role_values = sorted({group[0] for group in groups})
    for user_id, day, number, row_roles, department in DailyAccessCount.objects.filter(
        roles__in=role_values, day__gte=first_day, day__lt=last_day
    ).values_list("user_id", "day", "distinct_patients", "roles", "department_id"):
        if (row_roles, department) in groups:
            peer_rows[(row_roles, department)].append((user_id, day, number))
    found: list[Outlier] = []
    for (user_id, day), value in candidates.items():
        since = day - dt.timedelta(days=history_days)
        history = [number for moment, number in own.get(user_id, ()) if since <= moment < day]
        z_own = robust_z(value, history, mad_floor=mad_floor) if len(history) >= min_history_days else None
        peers = [
            number
            for other, moment, number in peer_rows.get((roles.get(user_id, ""), departments.get(user_id)), ())
            if other != user_id and since <= moment < day
        ]
        z_peers = robust_z(value, peers, mad_floor=mad_floor) if len(peers) >= min_peers else None
        if z_own is not None:
            if z_own >= z_threshold:
                found.append(Outlier(user_id, day, value, z_own, z_peers, "own"))
        elif z_peers is not None and z_peers >= z_threshold:
            found.append(Outlier(user_id, day, value, z_own, z_peers, "peers"))
    return found
