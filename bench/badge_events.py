"""Badge import plus the badge rules (issue 15): door events per second through
`facilities.services.events_ingest` (parse, map badges, insert, every badge rule,
alerts) against a baseline in the same run (the same ingest with every badge rule
disabled: parse, map, insert only), and the alert latency from an event's arrival
(the listener hands a batch to ingest) to the commit that holds its alert.

    .venv/bin/python bench/badge_events.py [--events 1000000] [--baseline-events N] [--batch 10000]
                                           [--latency-batch 200] [--stream realistic|harsh]

A throwaway SafeWard (embedded SQLite unless SAFEWARD_DATABASE_URL is given):
one site, 20 secure areas with 2 doors each, 2,000 people with badges and a
workforce record in one of 5 positions, authorisations by position. The
realistic stream sends each person to their own position's doors, with about
1 % of the events at another area, 0.5 % before the schedule and 0.5 % denied.
The harsh stream (the first measurement's) uses badges whose holders have no
workforce record, so every secure entry is unauthorised (~19 % of the events
raise or grow an alert)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._setup import configure

BADGE_RULES = (
    "badge_unauthorised_entry",
    "badge_outside_schedule",
    "badge_terminated",
    "badge_repeated_denials",
    "badge_impossible_travel",
)


def build(people: int = 2000, areas: int = 20, *, harsh: bool = False) -> list[tuple[str, int]]:
    from safeward.facilities import services
    from safeward.facilities.models import Badge
    from safeward.workforce.models import Person, Position

    site = services.site_create(actor=None, name="Bench", time_zone="America/New_York")
    doors = []
    for n in range(areas):
        area = services.area_create(
            actor=None, site=site, code=f"a{n}", name=f"Area {n}", kind="other", classification="restricted"
        )
        services.authorisation_grant(
            actor=None, area=area, position_code=f"pos{n % 5}", start_time=dt.time(6), end_time=dt.time(22)
        )
        for d in range(2):
            door = services.door_create(actor=None, area=area, code=f"D{n}-{d}")
            doors.append((door.code, n % 5))
    positions = Position.objects.bulk_create(
        [Position(code=f"pos{n}", title=f"Position {n}") for n in range(5)]
    )
    holders = [10_000_000 + p for p in range(people)]
    if not harsh:
        holders = [
            person.pk
            for person in Person.objects.bulk_create(
                [
                    Person(
                        employee_number=f"E{p:06d}",
                        first_name="Bench",
                        last_name=f"Person {p}",
                        position=positions[p % 5],
                        start_date=dt.date(2020, 1, 1),
                        status=Person.Status.ACTIVE,
                    )
                    for p in range(people)
                ]
            )
        ]
    Badge.objects.bulk_create(
        [
            Badge(credential_id=f"B{p:06d}", person_id=holders[p], issued_at=dt.datetime.now(dt.UTC))
            for p in range(people)
        ]
    )
    return doors


def stream(count: int, doors: list[tuple[str, int]], seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 2, 11, 0, tzinfo=dt.UTC)
    own: dict[int, list[str]] = {}
    for code, position in doors:
        own.setdefault(position, []).append(code)
    rows = []
    for i in range(count):
        badge = rng.randrange(2000)
        # Badge p holds position p % 5 (build); 1 % of the events at another area.
        door = rng.choice(doors)[0] if rng.random() < 0.01 else rng.choice(own[badge % 5])
        moment = start + dt.timedelta(milliseconds=i * 50)
        if rng.random() < 0.005:
            moment = moment.replace(hour=4)  # before 06:00 New York
        rows.append(
            {
                "credential_id": f"B{badge:06d}",
                "door": door,
                "time": moment.isoformat(),
                "result": "denied" if rng.random() < 0.005 else "granted",
                "direction": "in" if rng.random() < 0.7 else "out",
            }
        )
    return rows


def enable(on: bool) -> None:
    from safeward.detection.models import DetectionRule
    from safeward.detection.services import rules_ensure_defaults

    rules_ensure_defaults()
    DetectionRule.objects.filter(code__in=BADGE_RULES).update(enabled=on)


def run(rows: list[dict[str, str]], batch: int) -> tuple[float, int]:
    from safeward.facilities import services

    alerts = 0
    began = time.perf_counter()
    for start in range(0, len(rows), batch):
        alerts += services.events_ingest(actor=None, rows=rows[start : start + batch], source="bench").alerts
    return time.perf_counter() - began, alerts


def latencies(rows: list[dict[str, str]], batch: int) -> list[float]:
    from safeward.facilities import services

    out = []
    for start in range(0, len(rows), batch):
        arrived = time.perf_counter()
        services.events_ingest(actor=None, rows=rows[start : start + batch], source="bench")
        out.append(time.perf_counter() - arrived)
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--baseline-events",
        type=int,
        help="events for the rules-off baseline (default: --events); the first N of the same stream, "
        "so a 1M-event run need not pay for a second 1M-event pass",
    )
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--latency-batch", type=int, default=200, help="the syslog listener's batch size")
    parser.add_argument("--latency-batches", type=int, default=100)
    parser.add_argument("--stream", choices=("realistic", "harsh"), default="realistic")
    args = parser.parse_args()
    configure()
    import platform

    from django.db import connection

    from safeward.facilities.models import DoorEvent

    doors = build(harsh=args.stream == "harsh")
    rows = stream(args.events, doors)
    print(
        f"machine: {platform.machine()} python {platform.python_version()}, {connection.vendor}, "
        f"{args.events} events, {args.stream} stream, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = {}
    baseline = rows[: args.baseline_events or args.events]
    for label, on, events in (("baseline (rules off)", False, baseline), ("badge rules on", True, rows)):
        DoorEvent.objects.all().delete()
        enable(on)
        seconds, alerts = run(events, args.batch)
        results[label] = len(events) / seconds
        print(
            f"{label}: {len(events) / seconds:,.0f} events/s ({len(events)} events, {seconds:.1f} s, "
            f"{alerts} alerts, load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    ratio = results["badge rules on"] / results["baseline (rules off)"]
    print(f"ratio rules/baseline: {ratio:.2f}")
    small = stream(args.latency_batch * args.latency_batches, doors, seed=11)
    for label, on in (("baseline (rules off)", False), ("badge rules on", True)):
        DoorEvent.objects.all().delete()  # else the second pass would only meet duplicates
        enable(on)
        values = latencies(small, args.latency_batch)
        print(
            f"latency {label}, batches of {args.latency_batch}: "
            f"p50 {statistics.median(values) * 1000:.0f} ms, p99 {p99(values) * 1000:.0f} ms, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
