"""Rule evaluation throughput of one detection worker on PostgreSQL: events
per second through `process_pending` (fetch, explain via the gateway, review
queue, daily counts, every rule, alerts, cursor) over a pre-written audit
stream, for several hospital sizes and with no / half / all rules enabled.

    .venv/bin/python bench/detection_throughput.py [--events 20000] [--users 100,1000,5000]

Uses its own database bench_detection (dropped and created for each size)."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_common import fresh_database, machine, use_database
from bench.detection_common import build_hospital, make_events

CHEAP_HALF = (
    "canary_access",
    "break_glass",
    "break_glass_repeat",
    "failed_login_account",
    "failed_login_address",
    "inactive_account_login",
    "audit_chain_failure",
    "key_operation",
    "config_change",
    "vip_access",
    "employee_access",
)


def _enable(codes: set[str] | None) -> None:
    from safeward.detection.models import DetectionRule

    DetectionRule.objects.update(enabled=False)
    if codes is None:
        DetectionRule.objects.update(enabled=True)
    else:
        DetectionRule.objects.filter(code__in=codes).update(enabled=True)


def _reset_stream() -> None:
    from safeward.detection.models import (
        AccessReview,
        Alert,
        AlertEvidence,
        DailyAccessCount,
        DailyPatientTouch,
        DetectorCursor,
    )

    AlertEvidence.objects.all().delete()
    Alert.objects.all().delete()
    AccessReview.objects.all().delete()
    DailyPatientTouch.objects.all().delete()
    DailyAccessCount.objects.all().delete()
    DetectorCursor.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--users", default="100,1000,5000")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="print where the worker's time goes")
    args = parser.parse_args()
    sizes = [int(item) for item in args.users.split(",")]
    fresh_database("bench_detection")
    use_database("bench_detection")
    from django.db import connection

    from safeward import clock
    from safeward.audit.models import AuditEvent
    from safeward.detection.worker import process_pending

    print(machine())
    print(f"{args.events} events per run, batch {args.batch}, {args.patients} patients, PostgreSQL")
    hospital = build_hospital(users=max(sizes), patients=args.patients)
    # A weekday morning, inside the default unit schedule.
    daytime = clock.now().replace(hour=9, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    for index, users in enumerate(sizes):
        sub = type(hospital)(users=hospital.users[:users], patients=hospital.patients, care=hospital.care)
        rng = random.Random(users)
        AuditEvent.objects.bulk_create(
            make_events(sub, args.events, start=daytime + dt.timedelta(days=index), rate=1000.0, rng=rng),
            batch_size=5000,
        )
        first = AuditEvent.objects.order_by("-id").values_list("id", flat=True)[args.events - 1]
        for label, codes in (
            ("no rules", set()),
            ("half the rules", set(CHEAP_HALF)),
            ("all 22 rules", None),
        ):
            _reset_stream()
            from safeward.detection.models import DetectorCursor

            DetectorCursor.objects.create(name="detect", watermark=first - 1)
            _enable(codes)
            connection.queries_log.clear()
            started = time.perf_counter()
            result = process_pending(size=args.batch)
            elapsed = time.perf_counter() - started
            print(
                f"users {users:5d}  {label:15s}  {result.events:6d} events in {elapsed:6.2f} s  "
                f"= {result.events / elapsed:7.0f} events/s  ({result.alerts_created} alerts, "
                f"{result.reviews} reviews)"
            )
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
