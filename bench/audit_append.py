"""Append throughput of the audit trail on PostgreSQL, with 1 and 8 concurrent
writer processes, sealing included (a sealer runs alongside and the clock
stops only when every event is sealed), side by side with django-auditlog
writing its log entry for the same change (a Group renamed, one transaction
per change).

    .venv/bin/python bench/audit_append.py [--events 3000]

Uses its own databases bench_audit and bench_auditlog (dropped and created)."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_common import fresh_database, machine, use_database

AUDITLOG_SETTINGS = "bench.audit_auditlog_settings"


def _writer(mode: str, database: str, settings_module: str | None, count: int, barrier, results) -> None:
    use_database(database, settings_module=settings_module)
    from django.contrib.auth.models import Group
    from django.db import transaction

    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action

    if mode == "auditlog":
        from auditlog.registry import auditlog

        auditlog.register(Group)
    group = Group.objects.create(name=f"bench-{os.getpid()}")
    barrier.wait()
    started = time.perf_counter()
    for index in range(count):
        with transaction.atomic():
            group.name = f"bench-{os.getpid()}-{index}"
            if mode == "auditlog":
                group.save()
            else:
                group.save(update_fields=["name"])
                audit_record(
                    action=Action.UPDATE, resource_type="Group", resource_id=group.pk, fields=["name"]
                )
    results.put(time.perf_counter() - started)


def _sealer(database: str, stop, barrier) -> None:
    use_database(database)
    from safeward.audit.sealing import audit_seal_pending

    barrier.wait()
    while not stop.is_set():
        audit_seal_pending()
        time.sleep(0.2)


def run(mode: str, writers: int, per_writer: int) -> float:
    database = "bench_audit" if mode == "safeward" else "bench_auditlog"
    settings_module = None if mode == "safeward" else AUDITLOG_SETTINGS
    context = multiprocessing.get_context("spawn")
    parties = writers + 1 + (1 if mode == "safeward" else 0)
    barrier = context.Barrier(parties)
    results = context.Queue()
    stop = context.Event()
    processes = [
        context.Process(target=_writer, args=(mode, database, settings_module, per_writer, barrier, results))
        for _ in range(writers)
    ]
    if mode == "safeward":
        processes.append(context.Process(target=_sealer, args=(database, stop, barrier)))
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    for _ in range(writers):
        results.get()
    if mode == "safeward":
        from safeward.audit.sealing import audit_seal_pending, seal_lag

        while seal_lag() is not None:
            audit_seal_pending()
    elapsed = time.perf_counter() - started
    stop.set()
    for process in processes:
        process.join()
    return writers * per_writer / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000, help="events per configuration")
    args = parser.parse_args()
    base = os.environ.get("DJANGO_SETTINGS_MODULE")
    if base and base != AUDITLOG_SETTINGS:
        os.environ["BENCH_BASE_SETTINGS"] = base
    fresh_database("bench_auditlog", settings_module=AUDITLOG_SETTINGS)
    fresh_database("bench_audit")
    use_database("bench_audit")
    print(machine())
    print("writers | SafeWard audit (events/s, sealed) | django-auditlog (entries/s) | ratio")
    for writers in (1, 8):
        per_writer = args.events // writers
        safeward = run("safeward", writers, per_writer)
        auditlog = run("auditlog", writers, per_writer)
        print(f"{writers} | {safeward:.0f} | {auditlog:.0f} | {safeward / auditlog:.2f}")
    from django.db.models import Count

    from safeward.audit.models import AuditSeal
    from safeward.audit.verification import audit_verify

    report = audit_verify()
    seals = AuditSeal.objects.aggregate(count=Count("number"))["count"]
    print(f"trail verifies: {report.ok} ({report.events} events in {seals} seals)")


if __name__ == "__main__":
    main()
