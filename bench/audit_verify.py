"""Verification throughput against plain hashlib.sha256 over the same bytes.

Seals N synthetic events into its own PostgreSQL database (format 2 seals),
then measures, in the same run:
  1. plain hashlib.sha256 over each event's canonical bytes (the baseline),
  2. the chain's hashing core over the same bytes (event hash, tag, digest),
  3. canonical encoding from the fetched rows + the core,
  4. the whole `audit_verify` from the database (server-side cursor fetch,
     encoding, hashing, seals, signatures, external checkpoints, patient
     index), with 1 worker process and with --workers,
  5. before 4, the same with one process and each seal's public key looked
     up in the database (as before ADR 1612).

    .venv/bin/python bench/audit_verify.py [--events 1000000] [--workers 2] [--profile] [--reuse]

--reuse verifies the events a previous run left in --database instead of
seeding it again."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_common import fresh_database, machine, use_database

SEED_SQL = (
    "INSERT INTO audit_auditevent (occurred_at, actor_id, actor_username, actor_roles, session_id, "
    "client_ip, network_zone, user_agent, request_id, action, outcome, resource_type, resource_id, "
    "patient_id, purpose_of_use, reason, fields, detail, source, client_id, client_name) "
    "SELECT now() - (%s - g) * interval '1 millisecond', 1000 + g %% 50, 'user' || (g %% 50), 'nurse', "
    "md5(g::text), '10.1.2.3', 'ward', 'Mozilla/5.0 (X11; Linux x86_64)', md5((g * 7)::text), 'read', "
    "'success', 'Observation', g::text, 'p-' || (g %% 5000), 'TREAT', '', '[\"value\", \"code\"]', "
    "CASE WHEN g %% 10 = 0 THEN jsonb_build_object('page', g %% 7, 'query', 'name') ELSE '{}' END, "
    "'web', '', '' FROM generate_series(%s, %s) g"
)


def _best(function, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def _timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--database", default="bench_audit")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of one verify")
    parser.add_argument("--reuse", action="store_true", help="verify what --database holds, no seeding")
    args = parser.parse_args()
    if not args.reuse:
        fresh_database(args.database)
    use_database(args.database)
    from django.db import connection

    from safeward.audit import signing, verification
    from safeward.audit.sealing import audit_seal_pending
    from safeward.audit.verification import audit_verify

    if not args.reuse:
        started = time.perf_counter()
        step = 200_000
        for lo in range(1, args.events + 1, step):
            with connection.cursor() as cursor:
                cursor.execute(SEED_SQL, [args.events, lo, min(lo + step - 1, args.events)])
        audit_seal_pending()
        print(f"seeded and sealed {args.events} events in {time.perf_counter() - started:.0f} s")

    # The rows as verification fetches them on PostgreSQL (format 2 pieces).
    rows = list(verification._event_rows(0, 2**63 - 1, assembled=True))
    canonical = [verification._encode_v2_assembled(row) for row in rows]
    total_bytes = sum(len(item) for item in canonical)

    def plain() -> None:
        for item in canonical:
            hashlib.sha256(item).digest()

    def core() -> None:
        digest = hashlib.sha256()
        tags = bytearray()
        for item in canonical:
            value = hashlib.sha256(item).digest()
            tags += value[:8]
            digest.update(value)
        digest.hexdigest()

    def encode_and_core() -> None:
        digest = hashlib.sha256()
        for row in rows:
            digest.update(verification._hash_v2_assembled(row))

    plain_s, core_s, encode_s = _best(plain), _best(core), _best(encode_and_core)
    load_before = os.getloadavg()
    with mock.patch.object(signing, "for_one_run", lambda signer: signer):
        report, lookup_s = _timed(lambda: audit_verify(workers=1))
    assert report.ok, report.problems
    report, one_s = _timed(lambda: audit_verify(workers=1))
    assert report.ok, report.problems
    report, many_s = _timed(lambda: audit_verify(workers=args.workers, segment_events=250_000))
    assert report.ok, report.problems
    load_after = os.getloadavg()
    n = len(canonical)
    print(machine())
    print(f"load average before/after the verify runs: {load_before[0]:.1f} / {load_after[0]:.1f}")
    print(f"{n} events, {total_bytes / n:.0f} canonical bytes each on average (format 2)")
    print(
        f"plain hashlib.sha256 per event: {n / plain_s:,.0f} events/s "
        f"({total_bytes / plain_s / 1e6:.0f} MB/s)"
    )
    print(f"chain hashing core:             {n / core_s:,.0f} events/s  ratio {plain_s / core_s:.2f}")
    print(f"canonical encoding + core:      {n / encode_s:,.0f} events/s  ratio {plain_s / encode_s:.2f}")
    print(
        f"audit_verify, 1 process, key looked up per seal: {n / lookup_s:,.0f} events/s  "
        f"ratio {plain_s / lookup_s:.3f}"
    )
    print(f"audit_verify, 1 process:        {n / one_s:,.0f} events/s  ratio {plain_s / one_s:.3f}")
    print(
        f"audit_verify, {args.workers} processes:      {n / many_s:,.0f} events/s  "
        f"ratio {plain_s / many_s:.3f}"
    )
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        audit_verify(workers=1)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
