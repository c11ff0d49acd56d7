"""The accounting of disclosures for a patient listed by many searches
(issue 20, ADR 1651): its first page before and after reading the patient
index first, on a PostgreSQL database of its own.

    SAFEWARD_DATABASE_URL=postgres://.../bench_acct python bench/accounting_plan.py --events 300000

Loads once (kept between runs): --events events over --months monthly
partitions with `generate_series`, 5,000 patients; every 10th event a search
listing 5 patients, one of them always the "hot" patient (a long stay on every
ward list), who is also named directly by every 1000th event. ANALYZE, then
EXPLAIN (ANALYZE, BUFFERS) and timings (median of --repeat) of the old
query (`id IN (SELECT event_id ...) ORDER BY occurred_at, id LIMIT 201`, as
selectors.py read it before ADR 1651) and of `patient_accesses_page`."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

import django

HOT = "P-HOT"
EVENTS_SQL = """
WITH e AS (
INSERT INTO audit_auditevent (occurred_at, actor_id, actor_username, actor_roles, session_id, client_ip,
    network_zone, user_agent, request_id, action, outcome, resource_type, resource_id, patient_id,
    purpose_of_use, reason, fields, detail, source, client_id, client_name)
SELECT %(t0)s::timestamptz + (g - 1) * %(step)s * interval '1 microsecond',
    NULL, 'bench', 'clinician', '', '10.0.0.1'::inet, 'ward', '', md5(g::text),
    CASE WHEN g %% 10 = 0 THEN 'search' ELSE 'read' END, 'success', 'Patient', '',
    CASE WHEN g %% 1000 = 7 THEN %(hot)s WHEN g %% 10 = 0 THEN '' ELSE 'P-' || (g * 104729 %% 5000) END,
    'TREAT', '', '[]'::jsonb,
    CASE WHEN g %% 10 = 0 THEN jsonb_build_object('patients', jsonb_build_array(%(hot)s,
        'P-' || (g %% 5000), 'P-' || ((g + 1) %% 5000), 'P-' || ((g + 2) %% 5000), 'P-' || ((g + 3) %% 5000)))
    ELSE '{}'::jsonb END,
    'web', '', ''
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
RETURNING id, occurred_at, detail)
INSERT INTO audit_auditeventpatient (event_id, occurred_at, patient_id)
SELECT e.id, e.occurred_at, x.value FROM e, jsonb_array_elements_text(e.detail -> 'patients') x
WHERE e.detail ? 'patients'
"""


def _load() -> str:
    return "load " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _seed(events: int, months: int) -> None:
    from django.db import connection

    from safeward.audit.partitions import partitions_ensure

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        if cursor.fetchone()[0] >= events:
            return
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30 * months)).replace(microsecond=0)
    partitions_ensure(start=t0, months_ahead=months + 1)
    step = int(30 * months * 86400 * 1e6 / events)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")  # the append-only guard
        for lo in range(1, events + 1, 50_000):
            hi = min(events, lo + 49_999)
            cursor.execute(EVENTS_SQL, {"t0": t0, "step": step, "lo": lo, "hi": hi, "hot": HOT})
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")


def _old_page(size: int) -> list[int]:
    """The accounting's first page as selectors.py read it before ADR 1651."""
    from safeward.audit.models import AuditEvent, AuditEventPatient

    links = AuditEventPatient.objects.filter(patient_id=HOT).values("event_id")
    rows = {}
    for part in (AuditEvent.objects.filter(patient_id=HOT), AuditEvent.objects.filter(pk__in=links)):
        for event in part.order_by("occurred_at", "id")[: size + 1]:
            rows[event.pk] = event
    return [event.pk for event in sorted(rows.values(), key=lambda e: (e.occurred_at, e.pk))[: size + 1]]


def _new_page(size: int) -> list[int]:
    from safeward.audit.selectors import patient_accesses_page

    rows, _ = patient_accesses_page(patient_id=HOT, after=None, size=size)
    return [event.pk for event in rows]


def _explain_old(size: int) -> str:
    from django.db import connection

    from safeward.audit.models import AuditEvent, AuditEventPatient

    links = AuditEventPatient.objects.filter(patient_id=HOT).values("event_id")
    query = AuditEvent.objects.filter(pk__in=links).order_by("occurred_at", "id")[: size + 1]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _timed(read, size: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        read(size)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
    django.setup()
    _seed(args.events, args.months)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {_load()}")
    print(_explain_old(args.size))
    assert _old_page(args.size)[: args.size] == _new_page(args.size), "the two reads disagree"
    before = _timed(_old_page, args.size, args.repeat)
    after = _timed(_new_page, args.size, args.repeat)
    print(
        f"old first page {before * 1000:.1f} ms, new {after * 1000:.1f} ms: {before / after:.0f}x ({_load()})"
    )


if __name__ == "__main__":
    main()
