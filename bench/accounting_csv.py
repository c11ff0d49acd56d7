"""The audit report's CSV for one patient and the whole accounting of
disclosures (issue 20, ADR 1652): the old single UNION (the patient's events
UNION `id IN (SELECT event_id FROM audit_auditeventpatient ...)`, read with a
server-side cursor) against the keyset batches that replace it, in the same
run, on the same data.

    SAFEWARD_DATABASE_URL=postgres://.../bench_acct python bench/accounting_csv.py --events 1000000

Loads the trail of bench/accounting_plan.py once (kept between runs; the
"hot" patient is listed by every 10th event, a search, and named by every
1000th). Checks both reads give the same ids in the same order, then times
(median of --repeat) the CSV's first 2000 rows (what the client waits for
before the first byte), the whole CSV body for the hot patient (rows read
and written as the view writes them) and the whole accounting, and measures
each read's Python peak memory (tracemalloc, one separate pass). Prints the
plan of the old UNION."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import django

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accounting_plan import HOT, _load, _seed


def _old_union(events: Any, links: Any, *, newest_first: bool) -> Any:
    """The read selectors.py made before ADR 1652."""
    ordering = ("-occurred_at", "-id") if newest_first else ("occurred_at", "id")
    own = events.filter(patient_id=HOT).order_by()
    listed = events.filter(pk__in=links.values("event_id")).order_by()
    return own.union(listed).order_by(*ordering)


def _old_report(query: Any) -> Iterator[Any]:
    from safeward.audit.models import AuditEvent, AuditEventPatient
    from safeward.oversight.audit_views import CSV_LIMIT

    events = AuditEvent.objects.filter(occurred_at__gte=query.start, occurred_at__lt=query.end)
    links = AuditEventPatient.objects.filter(
        patient_id=HOT, occurred_at__gte=query.start, occurred_at__lt=query.end
    )
    union = _old_union(events, links, newest_first=query.newest_first)
    return union[:CSV_LIMIT].iterator(chunk_size=2000)


def _new_report(query: Any) -> Iterator[Any]:
    from safeward.audit.selectors import audit_events_filtered
    from safeward.oversight.audit_views import CSV_LIMIT

    return islice(audit_events_filtered(query=query), CSV_LIMIT)


def _old_accounting() -> Iterator[Any]:
    from safeward.audit.models import AuditEvent, AuditEventPatient

    links = AuditEventPatient.objects.filter(patient_id=HOT)
    return _old_union(AuditEvent.objects.all(), links, newest_first=False).iterator(chunk_size=2000)


def _new_accounting() -> Iterator[Any]:
    from safeward.audit.selectors import patient_accesses

    return patient_accesses(patient_id=HOT)


def _csv_body(rows: Iterator[Any]) -> int:
    """The view's CSV body (batches of 2000 through `_csv_rows`); its length."""
    from safeward.audit.csv_export import Echo
    from safeward.oversight.audit_views import CSV_COLUMNS, _csv_rows

    writer = csv.writer(Echo())
    size = len(writer.writerow(CSV_COLUMNS))
    batch: list[Any] = []
    for event in rows:
        batch.append(event)
        if len(batch) == 2000:
            size += sum(len(line) for line in _csv_rows(writer, batch))
            batch = []
    return size + sum(len(line) for line in _csv_rows(writer, batch))


def _timed(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _peak(work: Callable[[], object]) -> float:
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def _plan(query: Any) -> str:
    from django.db import connection

    from safeward.audit.models import AuditEvent, AuditEventPatient

    events = AuditEvent.objects.filter(occurred_at__gte=query.start, occurred_at__lt=query.end)
    links = AuditEventPatient.objects.filter(
        patient_id=HOT, occurred_at__gte=query.start, occurred_at__lt=query.end
    )
    sql, params = _old_union(events, links, newest_first=True).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
    django.setup()
    _seed(args.events, args.months)

    from safeward import clock
    from safeward.audit.selectors import EventFilter

    now = clock.now()
    query = EventFilter(start=now - dt.timedelta(days=31 * (args.months + 1)), end=now, patient_id=HOT)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {_load()}")
    print(_plan(query))
    old_ids = [event.pk for event in _old_report(query)]
    assert old_ids == [event.pk for event in _new_report(query)], "the CSV reads disagree"
    whole = [event.pk for event in _old_accounting()]
    assert whole == [event.pk for event in _new_accounting()], "the accounting reads disagree"
    print(f"CSV rows {len(old_ids)}, accounting rows {len(whole)}")
    for label, old, new in (
        (
            "CSV, first 2000 rows (the first bytes the client sees)",
            lambda: sum(1 for _ in islice(_old_report(query), 2000)),
            lambda: sum(1 for _ in islice(_new_report(query), 2000)),
        ),
        (
            "CSV of the hot patient",
            lambda: _csv_body(_old_report(query)),
            lambda: _csv_body(_new_report(query)),
        ),
        (
            "whole accounting (read only)",
            lambda: sum(1 for _ in _old_accounting()),
            lambda: sum(1 for _ in _new_accounting()),
        ),
    ):
        before = _timed(old, args.repeat)
        after = _timed(new, args.repeat)
        print(
            f"{label}: old {before:.2f} s (peak {_peak(old):.1f} MB), new {after:.2f} s "
            f"(peak {_peak(new):.1f} MB): {before / after:.2f}x ({_load()})"
        )


if __name__ == "__main__":
    main()
