"""The detection worker's catch-up over a backlog (issue 20, ADR 0944), on a
fresh copy of a kept scale-run database each time, so runs of two code trees
(main's and a branch's) start from the same state and can alternate.

    # once: the data set (bench/scale_run.py keeps the database)
    SAFEWARD_BENCH_VAR=/tmp/v .venv/bin/python bench/scale_run.py --database sw_detect_bench \\
        --patients 5000 --actors 1000 --events 300000 --months 2 --workers 1 --only generate
    # each run, from the root of the code tree measured:
    PYTHONPATH=$PWD .venv/bin/python bench/detection_catchup.py --template sw_detect_bench --var /tmp/v

It copies --template to --copy (dropped first: the copy is this script's own),
sets the worker's cursor back --backlog ids (as scale_run's `_detection`),
runs `process_pending` (optionally under pyinstrument or cProfile) and prints
events/s, the statements by kind with their time, and a digest of the alerts,
their evidence and the review queue: equal digests mean equal decisions."""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import re
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--template", default="sw_detect_bench", help="the kept scale-run database")
    parser.add_argument("--copy", default="sw_detect_run", help="the copy each run works on (dropped first)")
    parser.add_argument("--var", required=True, help="the var folder the template was built with (its keys)")
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--pyinstrument", help="write an HTML profile here and print the text one")
    parser.add_argument("--cprofile", help="write cProfile stats here")
    args = parser.parse_args()

    sys.path.insert(0, str(Path.cwd() / "bench"))
    import clinical_common as cc
    import psycopg

    with psycopg.connect(f"{cc.PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.copy}"')
        conn.execute(f'CREATE DATABASE "{args.copy}" TEMPLATE "{args.template}"')
    cc.configure(args.copy, Path(args.var))
    from django.db import connection

    from safeward.detection.models import AccessReview, Alert, AlertEvidence, DetectorCursor
    from safeward.detection.selectors import WORKER_NAME
    from safeward.detection.worker import process_pending

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM audit_auditevent")
        last = cursor.fetchone()[0]
    DetectorCursor.objects.update_or_create(
        name=WORKER_NAME, defaults={"watermark": max(0, last - args.backlog), "pending": []}
    )
    statements: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = statements[re.sub(r"%s(, %s)*", "?", sql)[:110]]
            kind[0] += 1
            kind[1] += time.perf_counter() - started

    profiler = cprofile = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    if args.cprofile:
        import cProfile

        cprofile = cProfile.Profile()
        cprofile.enable()
    started = time.monotonic()
    with connection.execute_wrapper(timed):
        result = process_pending()
    elapsed = time.monotonic() - started
    if cprofile is not None:
        cprofile.disable()
        cprofile.dump_stats(args.cprofile)
    if profiler is not None:
        profiler.stop()
        Path(args.pyinstrument).write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{Path.cwd()}: {result.events:,} events in {result.batches} batches, {elapsed:.1f} s = "
        f"{result.events / elapsed:,.0f} events/s ({result.alerts_created} alerts created, "
        f"{result.alerts_grown} grown, {result.reviews} reviews, "
        f"{sum(int(n) for n, _ in statements.values())} statements) load {load}"
    )
    for sql, (count, seconds) in sorted(statements.items(), key=lambda item: -item[1][1])[:12]:
        print(f"{seconds:7.2f} s {int(count):5d}  {sql}")
    digest = hashlib.sha256()
    for row in Alert.objects.order_by("id").values_list(
        "rule", "severity", "status", "subject_user_id", "patient_id", "group_key",
        "first_event_id", "last_event_id", "occurrences", "detail", "is_drill",
    ):  # fmt: skip
        digest.update(repr(row).encode())
    for row in AlertEvidence.objects.order_by("alert_id", "event_id").values_list("alert_id", "event_id"):
        digest.update(repr(row).encode())
    for row in AccessReview.objects.order_by("event_id").values_list(
        "event_id", "user_id", "username", "patient_id", "status", "is_drill"
    ):
        digest.update(repr(row).encode())
    counts = f"alerts {Alert.objects.count()}, reviews {AccessReview.objects.count()}"
    print(f"{counts}, digest {digest.hexdigest()[:16]}")
    connection.close()


if __name__ == "__main__":
    main()
