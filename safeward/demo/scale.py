"""`safeward demo scale --patients N`: a hospital at scale for benchmarks.

Synthetic patients (Faker with a fixed seed, drawn from pre-generated pools
of names and addresses so that generation does not dominate), a small chart
for a fraction of them, and care-team links to the demo staff, written
through `safeward.clinical.gateway.bulk` in batches: encrypted and
blind-indexed exactly as the gateway writes one patient, one audit event per
batch. MRNs are `SCALE-0000001`...; a patient whose MRN exists is skipped, so
a second run with a larger N adds only the missing ones.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from safeward import clock
from safeward.clinical.types import (
    ImportedCondition,
    ImportedEncounter,
    ImportedObservation,
    ImportedPatient,
    PatientInput,
)
from safeward.demo.clinical import CONDITIONS, MEASUREMENTS

SEED = 5006
POOL = 2000
# Every CHART_EVERY-th patient gets encounters, conditions and observations.
CHART_EVERY = 10
# Every CARE_EVERY-th patient has the demo staff on the care team.
CARE_EVERY = 20
CARE_TEAM_USERNAMES = (("demo.physician", "Attending physician"), ("demo.nurse", "Primary nurse"))


def mrn(number: int) -> str:
    return f"SCALE-{number:07d}"


@dataclass
class Pools:
    female: list[str]
    male: list[str]
    family: list[str]
    streets: list[str]
    cities: list[tuple[str, str, str]]  # city, state, postal code

    @classmethod
    def build(cls, seed: int = SEED) -> Pools:
        from faker import Faker

        fake = Faker("en_US")
        fake.seed_instance(seed)
        return cls(
            female=[fake.first_name_female() for _ in range(POOL)],
            male=[fake.first_name_male() for _ in range(POOL)],
            family=[fake.last_name() for _ in range(POOL)],
            streets=[fake.street_address() for _ in range(POOL)],
            cities=[(fake.city(), fake.state(), fake.postcode()) for _ in range(POOL // 4)],
        )


def _chart(rng: random.Random, now: dt.datetime) -> dict[str, Any]:
    start = now - dt.timedelta(days=rng.randint(20, 1500), hours=rng.randint(0, 12))
    encounter = ImportedEncounter(
        key="e0",
        kind=rng.choice(["outpatient", "outpatient", "emergency", "inpatient"]),
        status="finished",
        started_at=start,
        ended_at=start + dt.timedelta(hours=rng.randint(1, 72)),
        reason=rng.choice(["Check-up", "Chest pain", "Shortness of breath", "Follow-up", "Fall"]),
    )
    conditions = [
        ImportedCondition(
            code_system="icd10cm",
            code=code,
            display=display,
            clinical_status="active",
            onset=(start - dt.timedelta(days=rng.randint(10, 3000))).date(),
            recorded_at=start,
            encounter_key="e0",
            sensitivity=sensitivity,
        )
        for code, display, sensitivity in rng.sample(CONDITIONS, rng.randint(1, 2))
    ]
    observations = [
        ImportedObservation(
            category=category,
            status="final",
            code=code,
            display=display,
            value=f"{rng.uniform(low, high):.1f}",
            unit=unit,
            effective_at=start + dt.timedelta(minutes=30),
            encounter_key="e0",
        )
        for code, display, unit, low, high, category in MEASUREMENTS[:4]
    ]
    return {"encounters": [encounter], "conditions": conditions, "observations": observations}


def records(
    first: int, last: int, pools: Pools, now: dt.datetime | None = None
) -> Iterator[tuple[int, ImportedPatient]]:
    """Patients number `first`..`last` (inclusive). Deterministic per number,
    so any range can be generated on its own (and in any process)."""
    now = now or clock.now()
    for number in range(first, last + 1):
        rng = random.Random(SEED * 10_000_019 + number)  # noqa: S311 - synthetic data, not a secret
        sex = "female" if rng.random() < 0.5 else "male"
        given = rng.choice(pools.female if sex == "female" else pools.male)
        city, state, postcode = rng.choice(pools.cities)
        chart = _chart(rng, now) if number % CHART_EVERY == 0 else {}
        yield (
            number,
            ImportedPatient(
                patient=PatientInput(
                    given_name=given,
                    family_name=rng.choice(pools.family),
                    birth_date=dt.date(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 34_000)),
                    sex=sex,
                    mrn=mrn(number),
                    phone=f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                    address={
                        "line": [rng.choice(pools.streets)],
                        "city": city,
                        "state": state,
                        "postal_code": postcode,
                    },
                ),
                **chart,
            ),
        )


def care_team_users() -> list[tuple[int, str]]:
    """(user id, care-team role) of the demo staff present in this database."""
    from safeward.identity.models import User

    found = dict(
        User.objects.filter(username__in=[u for u, _ in CARE_TEAM_USERNAMES], is_active=True).values_list(
            "username", "pk"
        )
    )
    return [(found[username], role) for username, role in CARE_TEAM_USERNAMES if username in found]


def generate(
    *,
    patients: int,
    batch_size: int,
    start: int = 1,
    progress: Callable[[dict[str, int]], None] = lambda counts: None,
) -> dict[str, int]:
    """Write `patients` patients numbered from `start`, in batches; returns the total counts."""
    from safeward.clinical.gateway.bulk import BulkPatient, patients_bulk_create
    from safeward.clinical.types import SessionContext, SystemActor

    actor = SystemActor("demo-scale")
    session = SessionContext.system()
    pools = Pools.build()
    staff = tuple(care_team_users())
    now = clock.now()
    totals: dict[str, int] = {}
    end = start + patients - 1
    for first in range(start, end + 1, batch_size):
        last = min(end, first + batch_size - 1)
        batch = [
            BulkPatient(record=record, care_team=staff if number % CARE_EVERY == 0 else ())
            for number, record in records(first, last, pools, now)
        ]
        counts = patients_bulk_create(actor=actor, session=session, batch=batch, label="demo-scale")
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        progress(counts)
    return totals
