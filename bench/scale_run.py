"""Issue 20's scale run: a hospital group's audit trail on the 1,000,000-patient
PostgreSQL data set, with the numbers the issue asks for.

    SAFEWARD_BENCH_VAR=/tmp/x .venv/bin/python bench/scale_run.py --events 100000000 --reuse
    .venv/bin/python bench/scale_run.py --database sw_scale --patients 2000 --events 200000   # small trial

What it does, each step timed and printed with the load average:
1. patients: tops the database up to --patients with the scale generator
   (`safeward demo scale`, ADR 0510; parallel loaders on a bench_* database);
2. monthly partitions (`partitions_ensure`, the function behind `safeward
   audit partitions`) for every month the events span, from the first;
3. --events audit events over --months months up to now, generated in the
   database with `generate_series` in chunks (one INSERT ... SELECT a chunk,
   the patient index rows of multi-patient events in the same statement),
   naming real patients and real accounts; each chunk is sealed by the real
   sealer (`audit_seal_pending`: format 2, signed, external checkpoints), so
   the trail verifies like a live one. With --reuse a run resumes where the
   previous one stopped (the number of events written is kept in the table
   bench_scale_state);
4. `audit_verify` over the whole trail with 1 and with --workers processes,
   and with `--since` the last month's seals;
5. the audit report for one user and one month (first page and every row,
   as the report page and its CSV read them) and the accounting of
   disclosures for one patient (first page and every row), through the
   selectors the views use;
6. the detection worker's catch-up rate over a backlog of --backlog events
   (its cursor set back by that many ids; the backlog's alerts stay);
7. the size of each table and index (pg_total_relation_size and friends).

The database is never dropped: it is the kept set of issue 18's controls
run (`bench/controls_at_scale.py --keep`). The event mix per 100: 78 chart
reads, 10 updates, 4 searches naming 5 patients each (indexed in
audit_auditeventpatient), 4 logins or logouts, 2 disclosures, 2 denials."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Touch this file to stop generating after the chunk in progress.
STOP_FILE = Path(tempfile.gettempdir()) / "safeward-scale-run.stop"

# Django's marker of an unusable password (these accounts never sign in).
UNUSABLE = "!"

# One chunk of events: g runs over the run's event numbers; the n-th event of
# the run happens at t0 + (n - 1) * step. Actors and patients are spread by
# multiplying by primes (coprime to any round count): 4 consecutive events
# are one chart opening (same user, same patient). The kind of event comes
# from a multiplicative hash of g, not g % 100: with g % 100 the kind and
# the patient were correlated (both follow g / 4 modulo 25), so some
# patients were only ever named by searches.
EVENTS_SQL = """
WITH e AS (
INSERT INTO audit_auditevent (occurred_at, actor_id, actor_username, actor_roles, session_id, client_ip,
    network_zone, user_agent, request_id, action, outcome, resource_type, resource_id, patient_id,
    purpose_of_use, reason, fields, detail, source, client_id, client_name)
SELECT %(t0)s::timestamptz + (g - 1) * %(step)s * interval '1 microsecond',
    a.id, a.username, a.roles, md5(a.n::text || ':' || (g / 20000)::text),
    ('10.' || (16 + a.n %% 8) || '.' || (a.n / 250 %% 250) || '.' || (1 + a.n %% 250))::inet,
    'ward', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36',
    md5(g::text),
    CASE WHEN k < 78 THEN 'read' WHEN k < 88 THEN 'update' WHEN k < 92 THEN 'search'
         WHEN k < 94 THEN 'login' WHEN k < 96 THEN 'logout' WHEN k < 98 THEN 'disclose' ELSE 'read' END,
    CASE WHEN k >= 98 THEN 'denied' ELSE 'success' END,
    CASE WHEN k < 40 THEN 'Patient' WHEN k < 88 THEN 'Observation' WHEN k < 92 THEN 'Patient'
         WHEN k < 96 THEN 'User' WHEN k < 98 THEN 'Patient' ELSE 'Patient' END,
    CASE WHEN k < 40 OR k >= 96 THEN p.id WHEN k < 88 THEN (g %% 9973)::text
         WHEN k < 96 THEN a.id::text ELSE '' END,
    CASE WHEN k < 88 OR k >= 96 THEN p.id ELSE '' END,
    CASE WHEN k < 92 OR k >= 98 THEN 'TREAT' WHEN k >= 96 THEN 'PATRQT' ELSE '' END,
    CASE WHEN k >= 98 THEN 'no care relationship' ELSE '' END,
    CASE WHEN k < 40 THEN '["birth_date", "family_name", "given_name", "mrn"]'::jsonb
         WHEN k < 88 THEN '["code", "value"]'::jsonb ELSE '[]'::jsonb END,
    CASE WHEN k >= 88 AND k < 92 THEN jsonb_build_object(
            'page', 1, 'patients',
            (SELECT jsonb_agg(q.id ORDER BY q.id) FROM bench_scale_patient q
             WHERE q.n IN (p.n, (p.n + 1) %% %(patients)s, (p.n + 2) %% %(patients)s,
                           (p.n + 3) %% %(patients)s, (p.n + 4) %% %(patients)s)))
         ELSE '{}'::jsonb END,
    'web', '', ''
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
CROSS JOIN LATERAL (SELECT ((g * 2654435761 >> 8) %% 100)::int AS k, g / 4 AS visit) v
JOIN bench_scale_actor a ON a.n = v.visit * 7919 %% %(actors)s
JOIN bench_scale_patient p ON p.n = v.visit * 104729 %% %(patients)s
ORDER BY g
RETURNING id, occurred_at, detail)
INSERT INTO audit_auditeventpatient (event_id, occurred_at, patient_id)
SELECT e.id, e.occurred_at, x.value FROM e, jsonb_array_elements_text(e.detail -> 'patients') x
WHERE e.detail ? 'patients'
"""


def _load() -> str:
    return "load " + ", ".join(f"{value:.1f}" for value in os.getloadavg())


def say(text: str) -> None:
    print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {text} ({_load()})", flush=True)


def _scalar(sql: str, params: list | None = None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
    return row[0] if row else None


def _ensure_database(name: str, reuse: bool) -> None:
    import clinical_common as cc
    import psycopg

    with psycopg.connect(f"{cc.PG_SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not reuse:
            raise SystemExit(f"{name} exists: pass --reuse to add to it (this script never drops it)")
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _ensure_patients(name: str, patients: int, workers: int) -> None:
    import clinical_common as cc

    have = _scalar("SELECT count(*) FROM clinical_patient")
    if have >= patients:
        say(f"{have:,} patients present")
        return
    started = time.monotonic()
    if name.startswith("bench"):
        rate = cc.load(name, patients, workers)
    else:
        from safeward.demo import scale

        scale.generate(patients=patients - have, start=have + 1, batch_size=1000)
        rate = (patients - have) / (time.monotonic() - started)
    say(f"patients loaded up to {patients:,} in {time.monotonic() - started:.0f} s ({rate:,.0f}/s)")


def _ensure_actors(actors: int) -> None:
    """Accounts to act: the data set's own (issue 18's run seeds 10,000); a
    small trial database gets plain accounts (usernames scale00000...)."""
    from safeward.identity.models import User

    missing = actors - User.objects.count()
    if missing > 0:
        User.objects.bulk_create(
            [User(username=f"scale{i:05d}", password=UNUSABLE) for i in range(missing)], batch_size=5000
        )


def _mapping_tables(actors: int) -> tuple[int, int]:
    """Numbered patients and accounts for the generator (temporary tables of
    this connection)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS bench_scale_patient AS "
            "SELECT (row_number() OVER (ORDER BY id) - 1)::int AS n, id::text AS id FROM clinical_patient"
        )
        cursor.execute("CREATE UNIQUE INDEX IF NOT EXISTS bench_scale_patient_n ON bench_scale_patient (n)")
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS bench_scale_actor AS "
            "SELECT (row_number() OVER (ORDER BY u.id) - 1)::int AS n, u.id, u.username, "
            "COALESCE((SELECT string_agg(r.code, ',' ORDER BY r.code) FROM identity_roleassignment ra "
            "JOIN identity_role r ON r.id = ra.role_id WHERE ra.user_id = u.id AND ra.status = 'active'), "
            "'') AS roles FROM (SELECT id, username FROM identity_user ORDER BY id LIMIT %s) u",
            [actors],
        )
        cursor.execute("CREATE UNIQUE INDEX IF NOT EXISTS bench_scale_actor_n ON bench_scale_actor (n)")
        cursor.execute("ANALYZE bench_scale_patient")
        cursor.execute("ANALYZE bench_scale_actor")
        cursor.execute(
            "SELECT (SELECT count(*) FROM bench_scale_patient), (SELECT count(*) FROM bench_scale_actor)"
        )
        patients, accounts = cursor.fetchone()
    return patients, accounts


def _state(key: str, value: int | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_scale_state (key text PRIMARY KEY, value bigint)")
        if value is not None:
            cursor.execute(
                "INSERT INTO bench_scale_state VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = %s",
                [key, value, value],
            )
            return value
        cursor.execute("SELECT value FROM bench_scale_state WHERE key = %s", [key])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _window(args: argparse.Namespace) -> tuple[dt.datetime, int]:
    """(first event's time, microseconds between events), fixed at the first
    run and kept for resumed ones so the events stay in time order."""
    from safeward import clock

    t0 = _state("t0_epoch_us")
    if not t0:
        end = clock.now().replace(microsecond=0) - dt.timedelta(hours=1)
        start = (end - dt.timedelta(days=round(args.months * 30.44))).replace(
            day=1, hour=0, minute=0, second=0
        )
        t0 = _state("t0_epoch_us", int(start.timestamp() * 1_000_000))
        _state("step_us", max(1, int((end - start).total_seconds() * 1_000_000) // args.events))
    return dt.datetime.fromtimestamp(t0 / 1_000_000, tz=dt.UTC), _state("step_us")


def _partitions(t0: dt.datetime, step: int, events: int) -> None:
    from safeward import clock
    from safeward.audit.partitions import partitions_default_rows, partitions_ensure

    end = max(clock.now(), t0 + dt.timedelta(microseconds=step * events))
    months = (end.year - t0.year) * 12 + end.month - t0.month + 3
    started = time.monotonic()
    created = partitions_ensure(start=t0, months_ahead=months)
    say(
        f"partitions: {len(created)} created in {time.monotonic() - started:.1f} s "
        f"({months + 1} months per table); {partitions_default_rows():,} rows left in DEFAULT"
    )


def _generate(args: argparse.Namespace, t0: dt.datetime, step: int, patients: int, actors: int) -> None:
    from django.db import connection

    from safeward.audit.sealing import audit_seal_pending

    done = _state("generated")
    if done >= args.events:
        say(f"{done:,} events already generated and sealed")
        return
    with connection.cursor() as cursor:
        # The chunk is sorted by event number so ids follow time: in memory.
        cursor.execute("SET work_mem = '512MB'")
    say(f"generating events {done + 1:,}..{args.events:,} in chunks of {args.chunk:,}")
    insert_s = seal_s = 0.0
    written = 0
    run_started = time.monotonic()
    while done < args.events:
        hi = min(done + args.chunk, args.events)
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(
                EVENTS_SQL,
                {"t0": t0, "step": step, "lo": done + 1, "hi": hi, "patients": patients, "actors": actors},
            )
        inserted = time.monotonic()
        seals = audit_seal_pending()
        sealed = time.monotonic()
        insert_s += inserted - started
        seal_s += sealed - inserted
        chunk = hi - done
        written += chunk
        done = _state("generated", hi)
        say(
            f"events {hi:,}: chunk inserted in {inserted - started:.1f} s "
            f"({chunk / max(inserted - started, 1e-9):,.0f}/s), sealed in "
            f"{sealed - inserted:.1f} s ({chunk / max(sealed - inserted, 1e-9):,.0f}/s, "
            f"{len(seals)} seals); overall "
            f"{written / (sealed - run_started):,.0f} events/s"
        )
        free = os.statvfs("/")
        if free.f_bavail * free.f_frsize < args.min_free_gb * 2**30:
            say(f"stopping: less than {args.min_free_gb} GB free on /")
            break
        if args.minutes and time.monotonic() - run_started > args.minutes * 60:
            say(f"stopping: {args.minutes} minutes of generating are up (--reuse resumes)")
            break
        if STOP_FILE.exists():
            say(f"stopping: {STOP_FILE} exists (--reuse resumes)")
            break
    say(
        f"generated {written:,} events in {time.monotonic() - run_started:.0f} s: insert {insert_s:.0f} s "
        f"({written / max(insert_s, 1e-9):,.0f}/s), "
        f"sealing {seal_s:.0f} s ({written / max(seal_s, 1e-9):,.0f}/s)"
    )
    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventpatient")
        say(f"ANALYZE of the event tables: {time.monotonic() - started:.0f} s")


def _verify(args: argparse.Namespace, t0: dt.datetime, step: int) -> None:
    from safeward.audit.models import AuditSeal
    from safeward.audit.verification import audit_verify

    total = _scalar("SELECT count(*) FROM audit_auditevent")
    for workers in sorted({1, args.workers}):
        if workers == 1 and args.skip_single_verify:
            continue
        started = time.monotonic()
        report = audit_verify(workers=workers)
        elapsed = time.monotonic() - started
        say(
            f"audit verify, {workers} process(es): {report.events:,} events in {report.seals:,} seals, "
            f"{elapsed:.0f} s = {report.events / elapsed:,.0f} events/s, ok={report.ok} "
            f"(table holds {total:,}; {report.unsealed:,} unsealed)"
        )
        if not report.ok:
            for problem in report.problems[:5]:
                print("  ", problem.describe())
    # --since: the seals of the last --since-fraction of the trail.
    numbers = AuditSeal.objects.order_by("number").values_list("number", "sealed_at")
    count = numbers.count()
    since = numbers[max(0, count - max(1, count // args.months))][1]
    for workers in sorted({1, args.workers}):
        started = time.monotonic()
        report = audit_verify(since=since, workers=workers)
        elapsed = time.monotonic() - started
        say(
            f"audit verify --since (last 1/{args.months} of the seals), {workers} process(es): "
            f"{report.events:,} events, {elapsed:.1f} s = "
            f"{report.events / elapsed:,.0f} events/s, ok={report.ok}"
        )


def _seal_read(sample: int) -> None:
    """The part of a seal that ADR 1650 changed, over the newest `sample`
    events in batches of the seal size, alternating rounds: reading and
    hashing them as the sealer did before (ORM `values_list`, JSON parsed,
    `canonical_event_v2`) and as it does now (`verification.event_hashes`)."""
    from safeward.audit import chain, conf, verification
    from safeward.audit.models import AuditEvent

    last = _scalar("SELECT max(id) FROM audit_auditevent")
    first = max(1, last - sample + 1)
    batch = conf.seal_batch()

    def before() -> list[bytes]:
        hashes = []
        for lo in range(first, last + 1, batch):
            rows = AuditEvent.objects.filter(id__gte=lo).order_by("id").values_list(*chain.EVENT_COLUMNS)
            hashes += [chain.event_hash(chain.canonical_event_v2(row)) for row in rows[:batch]]
        return hashes

    def now() -> list[bytes]:
        hashes = []
        for lo in range(first, last + 1, batch):
            hashes += [
                digest for _, digest in verification.event_hashes(lo, 2**63 - 1, version=2, limit=batch)
            ]
        return hashes

    assert before() == now(), "the two reads hash differently"
    times: dict[str, list[float]] = {"before": [], "now": []}
    for _ in range(3):
        for name, function in (("before", before), ("now", now)):
            started = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - started)
    old, new = min(times["before"]), min(times["now"])
    count = last - first + 1
    say(
        f"sealer's read + hash of {count:,} events: before {count / old:,.0f} events/s, "
        f"now {count / new:,.0f} events/s ({old / new:.1f}x)"
    )


READ_TIMEOUT_S = 60


def _timed(function, rounds: int = 3) -> tuple[str, object]:
    """Median of `rounds` as text, or "> 60 s" when a statement ran into the
    timeout (the scale run found a plan that walks the whole trail)."""
    from django.db import OperationalError, connection

    times, result = [], None
    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = '{READ_TIMEOUT_S}s'")
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - started)
    except OperationalError:
        return f"> {READ_TIMEOUT_S} s (cancelled by statement_timeout)", None
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
    return f"{statistics.median(times) * 1000:,.1f} ms", result


def _reads(t0: dt.datetime, step: int, events: int) -> None:
    from safeward.audit import selectors

    # An account active in the run's middle month, and a patient named by a search then.
    middle = t0 + dt.timedelta(microseconds=step * events // 2)
    month_start = middle.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month_end = (month_start + dt.timedelta(days=32)).replace(day=1)
    actor_id = _scalar(
        "SELECT actor_id FROM audit_auditevent WHERE occurred_at >= %s AND occurred_at < %s "
        "AND actor_id IS NOT NULL LIMIT 1",
        [month_start, month_end],
    )
    patient_id = _scalar(
        "SELECT patient_id FROM audit_auditeventpatient WHERE occurred_at >= %s LIMIT 1", [month_start]
    )
    query = selectors.EventFilter(start=month_start, end=month_end, actor_id=actor_id)
    first, _ = _timed(lambda: selectors.audit_events_page(query=query, after=None, size=50))
    every, rows = _timed(lambda: sum(1 for _ in selectors.audit_events_filtered(query=query)))
    say(
        f"audit report, one user ({actor_id}) and one month ({month_start:%Y-%m}): first page of 50 "
        f"{first}; all {rows} rows (the CSV's read) {every}"
    )
    direct = _scalar("SELECT count(*) FROM audit_auditevent WHERE patient_id = %s", [patient_id])
    linked = _scalar("SELECT count(*) FROM audit_auditeventpatient WHERE patient_id = %s", [patient_id])
    first, _ = _timed(lambda: selectors.patient_accesses_page(patient_id=patient_id, after=None, size=200))
    every, rows = _timed(lambda: sum(1 for _ in selectors.patient_accesses(patient_id=patient_id)))
    say(
        f"accounting of disclosures, one patient ({direct} events naming it, {linked} searches listing it): "
        f"first page of 200 {first}; all {rows} events {every}"
    )


def _detection(backlog: int) -> None:
    from safeward.detection.models import DetectorCursor
    from safeward.detection.selectors import WORKER_NAME
    from safeward.detection.worker import process_pending

    last = _scalar("SELECT max(id) FROM audit_auditevent")
    DetectorCursor.objects.update_or_create(
        name=WORKER_NAME, defaults={"watermark": max(0, last - backlog), "pending": []}
    )
    started = time.monotonic()
    result = process_pending()
    elapsed = time.monotonic() - started
    say(
        f"detection worker catch-up: {result.events:,} events in {result.batches} batches, {elapsed:.1f} s = "
        f"{result.events / elapsed:,.0f} events/s ({result.alerts_created} alerts created, "
        f"{result.alerts_grown} grown, {result.reviews} reviews)"
    )


SIZES_SQL = """
SELECT c.relname, c.relkind, pg_total_relation_size(c.oid), pg_relation_size(c.oid),
       pg_indexes_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""
PARTITIONED_SQL = """
SELECT parent.relname, sum(pg_total_relation_size(child.oid)), sum(pg_relation_size(child.oid)),
       sum(pg_indexes_size(child.oid)), count(*)
FROM pg_inherits JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
JOIN pg_class child ON child.oid = pg_inherits.inhrelid GROUP BY parent.relname
"""
INDEX_SQL = """
SELECT pi.indexrelid::regclass::text, sum(pg_relation_size(ci.inhrelid))
FROM pg_index pi JOIN pg_class c ON c.oid = pi.indrelid
JOIN pg_inherits ci ON ci.inhparent = pi.indexrelid
WHERE c.relname IN ('audit_auditevent', 'audit_auditeventpatient') GROUP BY 1 ORDER BY 2 DESC
"""


def _gb(value: int) -> str:
    return f"{value / 2**30:,.2f} GiB"


def _sizes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(PARTITIONED_SQL)
        partitioned = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(SIZES_SQL)
        rows = []
        for name, kind, total, heap, indexes in cursor.fetchall():
            if kind == "p" and name in partitioned:
                total, heap, indexes, _ = partitioned[name]
            rows.append((name, int(total), int(heap), int(indexes)))
        cursor.execute(INDEX_SQL)
        index_rows = cursor.fetchall()
        cursor.execute("SELECT pg_database_size(current_database())")
        database = cursor.fetchone()[0]
    print(f"\ndatabase {_gb(database)}\n\n| table | total | table | indexes |\n|---|---|---|---|")
    for name, total, heap, indexes in sorted(rows, key=lambda row: -row[1])[:15]:
        print(f"| `{name}` | {_gb(total)} | {_gb(heap)} | {_gb(indexes)} |")
    print("\n| index (all partitions) | size |\n|---|---|")
    for name, size in index_rows:
        print(f"| `{name}` | {_gb(int(size))} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="bench_sw_assess2")
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--actors", type=int, default=10_000, help="accounts the events name")
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="events per INSERT and seal pass")
    parser.add_argument("--workers", type=int, default=2, help="patient loaders and verify processes")
    parser.add_argument("--backlog", type=int, default=200_000, help="events the detection worker catches up")
    parser.add_argument("--seal-sample", type=int, default=200_000, help="events of the sealer comparison")
    parser.add_argument("--min-free-gb", type=int, default=15)
    parser.add_argument(
        "--minutes",
        type=float,
        help="start no chunk after this many minutes of generating (a session's budget)",
    )
    parser.add_argument("--reuse", action="store_true", help="add to an existing database, resume the events")
    parser.add_argument("--skip-single-verify", action="store_true", help="verify with --workers only")
    parser.add_argument("--only", choices=("generate", "measure"), help="run one half")
    args = parser.parse_args()

    import clinical_common as cc

    _ensure_database(args.database, args.reuse)
    var_dir = Path(os.environ.get("SAFEWARD_BENCH_VAR") or tempfile.mkdtemp(prefix="safeward-bench-scale-"))
    cc.configure(args.database, var_dir)
    from _setup import machine

    print(machine(), flush=True)
    say(f"database {args.database}, var {var_dir}")
    if args.only != "measure":
        _ensure_patients(args.database, args.patients, args.workers)
        _ensure_actors(args.actors)
        patients, actors = _mapping_tables(args.actors)
        t0, step = _window(args)
        say(f"{patients:,} patients, {actors:,} accounts; events from {t0:%Y-%m-%d} every {step} µs")
        _partitions(t0, step, args.events)
        _generate(args, t0, step, patients, actors)
    if args.only != "generate":
        t0, step = _window(args)
        events = _state("generated")
        _seal_read(args.seal_sample)
        _verify(args, t0, step)
        _reads(t0, step, events)
        _detection(args.backlog)
        _sizes()


if __name__ == "__main__":
    main()
