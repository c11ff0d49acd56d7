"""Verification throughput against plain hashlib.sha256 over the same bytes.

Seals N synthetic events into bench_audit (PostgreSQL), then measures
  1. plain hashlib.sha256 over each event's canonical bytes (the floor),
  2. the chain's hashing core over the same bytes (event hash, tag check,
     block digest): what verification adds per event,
  3. the whole `audit_verify` from the database (fetch, canonical encoding,
     hashing, seals, signatures, external checkpoints).

    .venv/bin/python bench/audit_verify.py [--events 100000]"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_common import fresh_database, machine, use_database


def _best(function, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    fresh_database("bench_audit")
    use_database("bench_audit")
    from django.db import connection

    from safeward.audit import chain
    from safeward.audit.models import AuditEvent
    from safeward.audit.sealing import audit_seal_pending
    from safeward.audit.verification import audit_verify

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (occurred_at, actor_id, actor_username, actor_roles, session_id, "
            "client_ip, network_zone, user_agent, request_id, action, outcome, resource_type, resource_id, "
            "patient_id, purpose_of_use, reason, fields, detail, source) "
            "SELECT now(), 1000 + g %% 50, 'user' || (g %% 50), 'nurse', md5(g::text), '10.1.2.3', 'ward', "
            "'Mozilla/5.0 (X11; Linux x86_64)', md5((g * 7)::text), 'read', 'success', 'Observation', "
            "g::text, 'p-' || (g %% 5000), 'TREAT', '', '[\"value\", \"code\"]', '{}', 'web' "
            "FROM generate_series(1, %s) g",
            [args.events],
        )
    audit_seal_pending()
    rows = list(AuditEvent.objects.order_by("id").values_list(*chain.EVENT_COLUMNS))
    canonical = [chain.canonical_event(row) for row in rows]
    total_bytes = sum(len(item) for item in canonical)

    def plain() -> None:
        for item in canonical:
            hashlib.sha256(item).digest()

    def core() -> None:
        digest = hashlib.sha256()
        tags = bytearray()
        for item in canonical:
            value = chain.event_hash(item)
            tags += value[: chain.TAG_BYTES]
            digest.update(value)
        digest.hexdigest()

    def encode_and_core() -> None:
        digest = hashlib.sha256()
        for row in rows:
            digest.update(chain.event_hash(chain.canonical_event(row)))

    plain_s, core_s, encode_s = _best(plain), _best(core), _best(encode_and_core)
    started = time.perf_counter()
    report = audit_verify()
    full_s = time.perf_counter() - started
    assert report.ok, report.problems
    n = len(canonical)
    print(machine())
    print(f"{n} events, {total_bytes / n:.0f} canonical bytes each on average")
    print(
        f"plain hashlib.sha256 per event: {n / plain_s:,.0f} events/s "
        f"({total_bytes / plain_s / 1e6:.0f} MB/s)"
    )
    print(f"chain hashing core:             {n / core_s:,.0f} events/s  ratio {plain_s / core_s:.2f}")
    print(f"canonical encoding + core:      {n / encode_s:,.0f} events/s  ratio {plain_s / encode_s:.2f}")
    print(f"audit_verify from PostgreSQL:   {n / full_s:,.0f} events/s  ratio {plain_s / full_s:.3f}")


if __name__ == "__main__":
    main()
