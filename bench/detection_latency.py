"""Time from the audit commit of a triggering event to the alert row, with
the production worker (`safeward detect --follow`, its own process) and a
background load of audit events on PostgreSQL.

    .venv/bin/python bench/detection_latency.py [--rate 1000] [--probes 60]

The load: `--writers` processes commit `--rate` events per second in total
(transactions of 10 events: chart reads mostly explained by care teams,
sign-ins, writes, searches; bench/detection_common.py). The probe: every
half second one access to a canary patient is committed, and the clock runs
from the commit's return until the alert for that event is visible to
another connection (polled every 5 ms). Uses its own database
bench_detection_latency (dropped and created)."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_common import ROOT, database_url, fresh_database, machine, use_database
from bench.detection_common import Hospital, build_hospital, make_events

DATABASE = "bench_detection_latency"


def _load(hospital: Hospital, rate: float, stop, counter, seed: int) -> None:
    from django.db import connections, transaction

    connections.close_all()
    from safeward import clock
    from safeward.audit.models import AuditEvent

    rng = random.Random(seed)
    chunk = 10
    interval = chunk / rate
    written = 0
    next_at = time.monotonic()
    while not stop.is_set():
        events = make_events(hospital, chunk, start=clock.now(), rate=1e6, rng=rng)
        with transaction.atomic():
            AuditEvent.objects.bulk_create(events)
        written += chunk
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    with counter.get_lock():
        counter.value += written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="background audit events per second")
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--probes", type=int, default=60)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.2, help="the worker's poll interval")
    parser.add_argument("--give-up", type=float, default=20.0, help="seconds before a probe counts as missed")
    args = parser.parse_args()

    fresh_database(DATABASE)
    use_database(DATABASE)
    from django.db import connections, transaction

    from bench._setup import percentile
    from safeward.audit.models import AuditEvent
    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action
    from safeward.detection.models import Alert
    from safeward.detection.services import canary_register
    from safeward.detection.worker import process_pending

    print(machine())
    hospital = build_hospital(users=args.users, patients=args.patients)
    canary = hospital.patients[-1]
    canary_register(actor=None, patient_id=canary, label="bench canary")
    process_pending()  # start from a processed trail
    connections.close_all()

    env = {
        **os.environ,
        "SAFEWARD_DATABASE_URL": database_url(DATABASE),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "safeward.cli", "detect", "--follow", "--interval", str(args.interval)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    counter = context.Value("q", 0)
    writers = [
        context.Process(target=_load, args=(hospital, args.rate / args.writers, stop, counter, seed))
        for seed in range(args.writers)
    ]
    for process in writers:
        process.start()
    started = time.monotonic()
    first_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    time.sleep(5.0)  # warm up under load
    latencies: list[float] = []
    missed = 0
    try:
        for n in range(args.probes):
            with transaction.atomic():
                event = audit_record(
                    action=Action.READ,
                    actor_username=f"probe{n}",
                    resource_type="Chart",
                    resource_id=canary,
                    patient_id=canary,
                )
            committed = time.perf_counter()
            while not Alert.objects.filter(rule="canary_access", first_event_id=event.id).exists():
                if time.perf_counter() - committed > args.give_up:
                    break
                time.sleep(0.005)
            else:
                latencies.append(time.perf_counter() - committed)
                time.sleep(0.5)
                continue
            missed += 1
            print(f"probe {n}: no alert within {args.give_up:.0f} s (the worker is behind)", flush=True)
    finally:
        elapsed = time.monotonic() - started
        stop.set()
        for process in writers:
            process.join(30)
        worker.terminate()
        worker.wait(60)
    from safeward.detection.selectors import worker_status

    print(f"worker at the end: {worker_status()}")
    last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ms = [value * 1000 for value in latencies] or [float("nan")]
    print(
        f"background load: {counter.value} events in {elapsed:.1f} s = "
        f"{counter.value / elapsed:.0f} events/s (target {args.rate:.0f}); {last_id - first_id} audit ids"
    )
    print(
        f"commit -> alert row ({len(latencies)} probes, {missed} over {args.give_up:.0f} s, "
        f"worker poll {args.interval * 1000:.0f} ms): "
        f"p50 {percentile(ms, 0.5):.0f} ms, p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"
    )


if __name__ == "__main__":
    main()
