"""The security officer's alert queue at scale: keyset pages (most severe
first, and newest first) against OFFSET paging at the same depth, on
PostgreSQL with a million alerts.

    .venv/bin/python bench/alert_queue.py --alerts 1000000 --depth 400

Creates the database bench_alert_queue on 127.0.0.1:5432 (user postgres),
fills detection_alert with INSERT ... SELECT generate_series (synthetic rows:
ids, codes and usernames only), ANALYZEs, then times the queue's own selector
(`safeward.detection.queue.alerts_page`) for page 1 and for the page
`--depth` pages in (reached by following cursors), and the OFFSET query that
would fetch that same page. Prints the plan of a keyset page and drops the
database (--keep keeps it; --reuse reuses a kept one).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

DB = "bench_alert_queue"
PAGE = 50


def fill(alerts: int) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Status mix of a queue that is worked: most alerts are closed, about
        # 5 % still open. Severities skewed towards low. 2 % drills.
        cursor.execute(
            """
            INSERT INTO detection_alert (
                rule, severity, status, title, subject_user_id, subject_username, patient_id,
                client_ip, group_key, occurrences, first_event_id, last_event_id,
                first_event_at, last_event_at, created_at, updated_at, assignee_id,
                resolution_reason, resolved_at, resolved_by_id, is_drill, incident_id, detail
            )
            SELECT
                (ARRAY['mass_access', 'unexplained_access', 'vip_access', 'after_hours',
                       'failed_login_account'])[1 + n %% 5],
                (ARRAY['low','low','low','medium','medium','high','critical'])[1 + (n::bigint * 7919) %% 7],
                CASE WHEN n %% 20 = 0 THEN 'new' WHEN n %% 20 = 1 THEN 'triage'
                     WHEN n %% 3 = 0 THEN 'confirmed' ELSE 'dismissed' END,
                'synthetic alert ' || n, 1000 + n %% 5000, 'user' || (n %% 5000), '',
                NULL, 'bench|' || n, 1 + n %% 4, n, n,
                now() - (n || ' seconds')::interval, now() - (n || ' seconds')::interval,
                now() - (n || ' seconds')::interval, now() - (n || ' seconds')::interval,
                NULL, '', NULL, NULL, n %% 50 = 0, NULL, '{}'::jsonb
            FROM generate_series(1, %s) AS n
            """,
            [alerts],
        )
        cursor.execute("ANALYZE detection_alert")
    return time.perf_counter() - started


def explain() -> str:
    from django.db import connection

    from safeward.detection import queue

    alerts = queue.alerts_filtered(query=queue.AlertFilter()).filter(status="new", severity="high")
    sql, params = alerts.order_by("-created_at", "-id")[: PAGE + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def run(depth: int, repeats: int, offset_repeats: int) -> dict[str, list[float]]:
    from safeward.detection import queue

    timings: dict[str, list[float]] = {}
    for sort in ("severity", "newest"):
        for statuses, label in (((), "all statuses"), (("new", "triage"), "open only")):
            query = queue.AlertFilter(statuses=statuses, sort=sort)
            # Walk to the deep page once, keeping its cursor.
            after = None
            for _ in range(depth - 1):
                _, after = queue.alerts_page(query=query, after=after, size=PAGE)
                if after is None:
                    break
            first: list[float] = []
            deep: list[float] = []
            offset: list[float] = []
            for _ in range(repeats):
                started = time.perf_counter()
                queue.alerts_page(query=query, after=None, size=PAGE)
                first.append(time.perf_counter() - started)
                started = time.perf_counter()
                queue.alerts_page(query=query, after=after, size=PAGE)
                deep.append(time.perf_counter() - started)
                if len(offset) >= offset_repeats:
                    continue
                ordering = ("-created_at", "-id")
                base = queue.alerts_filtered(query=query)
                started = time.perf_counter()
                if sort == "severity":
                    from django.db.models import Case, IntegerField, Value, When

                    rank = Case(
                        *(When(severity=s, then=Value(i)) for i, s in enumerate(queue.SEVERITY_ORDER)),
                        output_field=IntegerField(),
                    )
                    list(
                        base.annotate(rank=rank).order_by("rank", *ordering)[
                            (depth - 1) * PAGE : depth * PAGE
                        ]
                    )
                else:
                    list(base.order_by(*ordering)[(depth - 1) * PAGE : depth * PAGE])
                offset.append(time.perf_counter() - started)
            timings[f"{sort}, {label}: page 1 (keyset)"] = first
            timings[f"{sort}, {label}: page {depth} (keyset)"] = deep
            timings[f"{sort}, {label}: page {depth} (OFFSET)"] = offset
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--depth", type=int, default=400, help="the deep page's number")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--offset-repeats", type=int, default=5, help="OFFSET is slow: fewer runs")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    created = cc.create_database(DB, reuse=args.reuse)
    try:
        cc.configure(DB, Path(tempfile.mkdtemp(prefix="safeward-bench-")))
        from _setup import machine, summary_ms

        print(machine())
        if created:
            print(f"filled {args.alerts} alerts in {fill(args.alerts):.1f} s")
        print("plan of one (status, severity) range of a keyset page (new, high):")
        print(explain())
        for label, values in run(args.depth, args.repeats, args.offset_repeats).items():
            print(f"{label:48s} {summary_ms(values)}")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            cc.drop_database(DB)


if __name__ == "__main__":
    main()
