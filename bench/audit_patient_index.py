"""A patient's accounting of disclosures when searches, clinic days and
worklists are indexed per patient (ADR 0208), on PostgreSQL.

    .venv/bin/python bench/audit_patient_index.py --events 2000000

Creates the database bench_audit_patient_index on 127.0.0.1:5432 (user
postgres), fills audit_auditevent with synthetic events over a year (ids,
codes and synthetic patient ids only; one in ten a search that showed 20
patients, indexed in audit_auditeventpatient), ANALYZEs, then times the
first page of a patient's accounting (`patient_accesses_page`) and of the
audit report filtered by that patient over 30 days (`audit_events_page`),
for a patient seen in searches, and prints the plans of the first page's
reads. Drops the database unless
--keep (--reuse reuses a kept one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

DB = "bench_audit_patient_index"
PATIENTS = 200_000
PER_SEARCH = 20


def fill(events: int) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Ordinary single-patient reads; every tenth event is a search.
        cursor.execute(
            """
            INSERT INTO audit_auditevent (occurred_at, actor_id, actor_username, actor_roles, session_id,
                client_ip, network_zone, user_agent, request_id, action, outcome, resource_type, resource_id,
                patient_id, purpose_of_use, reason, fields, detail, source)
            SELECT now() - (%s - n) * (interval '365 days' / %s),
                1 + n %% 3000, 'user' || (n %% 3000), 'nurse', '', NULL, 'ward', '', '',
                CASE WHEN n %% 10 = 0 THEN 'search' ELSE 'read' END, 'success',
                CASE WHEN n %% 10 = 0 THEN 'Patient' ELSE 'Chart' END, '',
                CASE WHEN n %% 10 = 0 THEN '' ELSE 'p' || ((n::bigint * 7919) %% %s) END,
                'TREAT', '', '[]'::jsonb, '{}'::jsonb, 'web'
            FROM generate_series(1, %s) AS n
            """,
            [events, events, PATIENTS, events],
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


def _busy_patient() -> str:
    from safeward.audit.models import AuditEventPatient

    return str(AuditEventPatient.objects.order_by("-id").values_list("patient_id", flat=True).first())


def explain(read) -> str:  # type: ignore[no-untyped-def]
    """The plans of every statement `read()` runs (a page is several index
    range reads since ADR 1651)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        read()
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {query['sql']}")
            plans += [query["sql"], *(row[0] for row in cursor.fetchall())]
    return "\n".join(plans)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    created = cc.create_database(DB, reuse=args.reuse)
    try:
        cc.configure(DB, Path(tempfile.mkdtemp(prefix="safeward-bench-")))
        from _setup import machine, summary_ms

        from safeward import clock
        from safeward.audit import selectors

        print(machine())
        if created:
            print(f"filled {args.events} events in {fill(args.events):.1f} s")
        patient = _busy_patient()
        now = clock.now()
        report = selectors.EventFilter(start=now - dt.timedelta(days=30), end=now, patient_id=patient)
        print("plans of the accounting's first page (200):")
        print(explain(lambda: selectors.patient_accesses_page(patient_id=patient, after=None, size=200)))
        print("plans of the report's first page (50), filtered by the patient over 30 days:")
        print(explain(lambda: selectors.audit_events_page(query=report, after=None, size=50)))
        timings: dict[str, list[float]] = {
            "accounting, page 1 (200)": [],
            "report by patient, page 1 (50)": [],
        }
        for _ in range(args.repeats):
            started = time.perf_counter()
            rows, _ = selectors.patient_accesses_page(patient_id=patient, after=None, size=200)
            timings["accounting, page 1 (200)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            selectors.audit_events_page(query=report, after=None, size=50)
            timings["report by patient, page 1 (50)"].append(time.perf_counter() - started)
        print(f"patient {patient}: {len(rows)} events on the first accounting page")
        for label, values in timings.items():
            print(f"{label:36s} {summary_ms(values)}")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            cc.drop_database(DB)


if __name__ == "__main__":
    main()
