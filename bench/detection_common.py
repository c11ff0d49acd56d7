"""Shared set-up for the detection benchmarks: a hospital of `users` staff
(nurses, physicians, clerks) and `patients` patients created through the
gateway's import path, each clinician on the care team of a few patients,
and a generator of a realistic audit stream (chart reads, mostly explained;
sign-ins with a few failures; writes; searches)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

ROLES = ("nurse", "physician", "registration_clerk")


@dataclass
class Hospital:
    users: list[tuple[int, str, str]]  # (id, username, roles)
    patients: list[str]
    care: dict[int, list[str]]  # user id -> patients on their care team


def build_hospital(*, users: int, patients: int, care_per_user: int = 20, seed: int = 7) -> Hospital:
    from django.db import transaction

    from safeward import clock
    from safeward.clinical import gateway
    from safeward.clinical.types import ImportedPatient, PatientInput, SessionContext, SystemActor
    from safeward.identity.models import Department, StaffProfile, User

    rng = random.Random(seed)
    importer = SystemActor("bench")
    patient_ids: list[str] = []
    for n in range(patients):
        outcome = gateway.patient_import(
            actor=importer,
            session=SessionContext.system(),
            record_in=ImportedPatient(
                patient=PatientInput(
                    given_name=f"Given{n}",
                    family_name=f"Family{n % 997}",
                    birth_date=dt.date(1950 + n % 60, 1 + n % 12, 1 + n % 28),
                    mrn=f"BENCH{n:07d}",
                    address={"line": [f"{n} Bench Road"], "postal_code": f"B{n % 500:04d}"},
                    is_vip=(n % 500 == 0),
                )
            ),
        )
        assert outcome.patient_id is not None
        patient_ids.append(outcome.patient_id)
    department, _ = Department.objects.get_or_create(code="bench-ward", defaults={"name": "Bench ward"})
    with transaction.atomic():
        staff = User.objects.bulk_create(
            [User(username=f"bench{n:05d}", first_name="Bench", last_name=f"Staff{n}") for n in range(users)]
        )
        StaffProfile.objects.bulk_create([StaffProfile(user=user, department=department) for user in staff])
    # Care teams straight into the table (set-up, not the code under test).
    from safeward.clinical.models import CareTeamMembership

    now = clock.now() - dt.timedelta(days=1)
    care: dict[int, list[str]] = {}
    rows = []
    for user in staff:
        mine = rng.sample(patient_ids, min(care_per_user, len(patient_ids)))
        care[user.pk] = mine
        rows += [CareTeamMembership(patient_id=pid, user=user, role="nurse", starts_at=now) for pid in mine]
    CareTeamMembership.objects.bulk_create(rows, batch_size=5000)
    listed = [(user.pk, user.username, ROLES[index % len(ROLES)]) for index, user in enumerate(staff)]
    return Hospital(users=listed, patients=patient_ids, care=care)


def make_events(
    hospital: Hospital, count: int, *, start: dt.datetime, rate: float, rng: random.Random
) -> list[Any]:
    """`count` unsaved AuditEvent rows, `rate` per second from `start`:
    70% chart reads (90% of them of the user's own care-team patients),
    10% sign-ins (1 in 10 failed), 10% writes, 10% searches."""
    from safeward.audit.models import AuditEvent

    events = []
    for n in range(count):
        user_id, username, roles = rng.choice(hospital.users)
        at = start + dt.timedelta(seconds=n / rate)
        kind = rng.random()
        common: dict[str, Any] = {
            "occurred_at": at,
            "actor_id": user_id,
            "actor_username": username,
            "actor_roles": roles,
            "client_ip": f"10.1.{user_id % 250}.{user_id % 200 + 1}",
            "network_zone": "ward",
            "source": "web",
        }
        if kind < 0.70:
            mine = hospital.care[user_id]
            pid = rng.choice(mine) if rng.random() < 0.9 else rng.choice(hospital.patients)
            events.append(
                AuditEvent(
                    **common,
                    action="read",
                    outcome="success",
                    resource_type="Chart",
                    resource_id=pid,
                    patient_id=pid,
                    purpose_of_use="TREAT",
                    detail={"decision": "permit"},
                )
            )
        elif kind < 0.80:
            failed = rng.random() < 0.1
            events.append(
                AuditEvent(
                    **{**common, "actor_id": None if failed else user_id},
                    action="login",
                    outcome="denied" if failed else "success",
                    resource_type="" if failed else "UserSession",
                    detail={"stage": "password"} if failed else {"mfa": True},
                )
            )
        elif kind < 0.90:
            pid = rng.choice(hospital.care[user_id])
            events.append(
                AuditEvent(
                    **common,
                    action="update",
                    outcome="success",
                    resource_type="Observation",
                    patient_id=pid,
                    purpose_of_use="TREAT",
                )
            )
        else:
            events.append(
                AuditEvent(
                    **common,
                    action="search",
                    outcome="success",
                    resource_type="Patient",
                    detail={"results": 3},
                )
            )
    return events
