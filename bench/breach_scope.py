"""The breach clock's scope: every patient one compromised account touched in
one month, from the audit trail (issue 19, ADR 1402), on PostgreSQL.

    .venv/bin/python bench/breach_scope.py --events 2000000

Creates the database bench_breach_scope on 127.0.0.1:5432 (user postgres),
fills audit_auditevent with synthetic events over a year (3000 accounts; one
in ten a search that showed 20 patients, indexed in audit_auditeventpatient),
then gives the compromised account `--actor-events` events in the last month
(default 3000: what one account of 3000 makes in a month of a 100M-event
year, so the measured query matches as many rows as it would at 100M).
ANALYZEs, prints the plans of both queries `patients_touched` runs, and
times it against a baseline measured in the same run: counting the same
account's events in the window (the index range scan alone). Drops the
database unless --keep (--reuse reuses a kept one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

DB = "bench_breach_scope"
PATIENTS = 200_000
PER_SEARCH = 20
ACTORS = 3000
COMPROMISED = 999_999


def fill(events: int, actor_events: int) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_auditevent (occurred_at, actor_id, actor_username, actor_roles, session_id,
                client_ip, network_zone, user_agent, request_id, action, outcome, resource_type, resource_id,
                patient_id, purpose_of_use, reason, fields, detail, source, client_id, client_name)
            SELECT now() - (%s - n) * (interval '365 days' / %s),
                1 + n %% %s, 'user' || (n %% %s), 'nurse', '', NULL, 'ward', '', '',
                CASE WHEN n %% 10 = 0 THEN 'search' ELSE 'read' END, 'success',
                CASE WHEN n %% 10 = 0 THEN 'Patient' ELSE 'Chart' END, '',
                CASE WHEN n %% 10 = 0 THEN '' ELSE 'p' || ((n::bigint * 7919) %% %s) END,
                'TREAT', '', '[]'::jsonb, '{}'::jsonb, 'web', '', ''
            FROM generate_series(1, %s) AS n
            """,
            [events, events, ACTORS, ACTORS, PATIENTS, events],
        )
        # The compromised account: `actor_events` events spread over the last 30 days.
        cursor.execute(
            """
            INSERT INTO audit_auditevent (occurred_at, actor_id, actor_username, actor_roles, session_id,
                client_ip, network_zone, user_agent, request_id, action, outcome, resource_type, resource_id,
                patient_id, purpose_of_use, reason, fields, detail, source, client_id, client_name)
            SELECT now() - n * (interval '30 days' / (%s + 1)),
                %s, 'snoop', 'nurse', '', NULL, 'ward', '', '',
                CASE WHEN n %% 10 = 0 THEN 'search' ELSE 'read' END, 'success',
                CASE WHEN n %% 10 = 0 THEN 'Patient' ELSE 'Chart' END, '',
                CASE WHEN n %% 10 = 0 THEN '' ELSE 'p' || ((n::bigint * 104723) %% %s) END,
                'TREAT', '', '[]'::jsonb, '{}'::jsonb, 'web', '', ''
            FROM generate_series(1, %s) AS n
            """,
            [actor_events, COMPROMISED, PATIENTS, actor_events],
        )
        cursor.execute(
            """
            INSERT INTO audit_auditeventpatient (event_id, occurred_at, patient_id)
            SELECT e.id, e.occurred_at, 'p' || ((e.id * 104729 + k) %% %s)
            FROM audit_auditevent e, generate_series(1, %s) AS k
            WHERE e.action = 'search'
            """,
            [PATIENTS, PER_SEARCH],
        )
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")
    return time.perf_counter() - started


def explain(sql: str, params: tuple[Any, ...]) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--actor-events", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    created = cc.create_database(DB, reuse=args.reuse)
    try:
        cc.configure(DB, Path(tempfile.mkdtemp(prefix="safeward-bench-")))
        from _setup import machine, summary_ms

        from safeward import clock
        from safeward.audit.models import AuditEvent
        from safeward.audit.selectors import patients_touched, patients_touched_sql

        print(machine())
        if created:
            took = fill(args.events, args.actor_events)
            print(f"filled {args.events} + {args.actor_events} events in {took:.1f} s")
        print(f"events: {AuditEvent.objects.count()}")
        end = clock.now() + dt.timedelta(minutes=1)
        start = end - dt.timedelta(days=31)
        for sql, params in patients_touched_sql(start=start, end=end, actor_ids=[COMPROMISED]):
            print("plan:")
            print(explain(sql, params))
        timings: dict[str, list[float]] = {"baseline: count the account's events": [], "patients_touched": []}
        found = set()
        for _ in range(args.repeats):
            started = time.perf_counter()
            AuditEvent.objects.filter(
                actor_id=COMPROMISED, occurred_at__gte=start, occurred_at__lt=end
            ).count()
            timings["baseline: count the account's events"].append(time.perf_counter() - started)
            started = time.perf_counter()
            found = patients_touched(start=start, end=end, actor_ids=[COMPROMISED])
            timings["patients_touched"].append(time.perf_counter() - started)
        print(f"affected patients: {len(found)}")
        for label, values in timings.items():
            print(f"{label:40s} {summary_ms(values)}")
        base = sorted(timings["baseline: count the account's events"])[args.repeats // 2]
        scope = sorted(timings["patients_touched"])[args.repeats // 2]
        print(f"median ratio patients_touched / baseline: {scope / base:.1f}")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            cc.drop_database(DB)


if __name__ == "__main__":
    main()
