"""Patient search at scale: by name prefix and by MRN through the gateway
(policy, blind indexes, decryption of the rows shown, audit), on PostgreSQL.

    .venv/bin/python bench/clinical_search.py --patients 1000000 --workers 2

Creates the database bench_clinical_search on 127.0.0.1:5432 (user postgres),
loads the patients with `safeward demo scale` in parallel ranges (the trigram
indexes are dropped during the load and built afterwards, as for any bulk
load), prints the plan of a prefix query (EXPLAIN ANALYZE: it must use the
trigram GIN index), times the searches and drops the database (--keep keeps
it; --reuse reuses a kept one).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

DB = "bench_clinical_search"


def explain(name: str) -> str:
    from django.db import connection

    from safeward.clinical.gateway._patients import _name_query  # bench-only peek at the query
    from safeward.clinical.models import Patient  # the bench, not the product: reads no PHI

    query, _ = _name_query(name)
    sql, params = Patient.objects.filter(query).order_by("created_at", "id")[:101].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_bitmapscan = off")  # the same query without the index, for comparison
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        without = [row[0] for row in cursor.fetchall()]
        cursor.execute("RESET enable_bitmapscan")
    return plan + "\nwithout the trigram index: " + " / ".join(line.strip() for line in without[-4:])


def timed(calls: list, label: str) -> str:
    from _setup import summary_ms

    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return f"{label:<34} {summary_ms(times)}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--reuse", action="store_true", help="Reuse a kept database (no load).")
    args = parser.parse_args()

    created = cc.create_database(DB, reuse=args.reuse)
    var_dir = Path(os.environ.get("BENCH_VAR_DIR") or tempfile.mkdtemp(prefix="safeward-bench-search-"))
    try:
        cc.configure(DB, var_dir)
        from _setup import machine, make_user

        from safeward.audit.vocabulary import PurposeOfUse
        from safeward.clinical import gateway
        from safeward.clinical.types import SessionContext
        from safeward.demo import scale

        print(machine())
        if created:
            rate = cc.load(DB, args.patients, args.workers)
            print(f"loaded {args.patients} patients at {rate:.0f} patients/s ({args.workers} loaders)")
            user, _ = make_user("bench.searcher", role="registration_clerk")
            print(f"var dir (for --reuse): BENCH_VAR_DIR={var_dir}")
        else:
            from safeward.identity.models import User

            user = User.objects.get(username="bench.searcher")
        session = SessionContext(
            session_id="bench", reachable=True, reachable_reason="bench", step_up_fresh=True
        )
        pools = scale.Pools.build()
        rng = random.Random(7)
        chosen: dict[int, object] = {}
        while len(chosen) < args.queries:  # names of plain letters, 5 or more (prefixes of 3 and 5)
            n = rng.randint(1, args.patients)
            record = next(scale.records(n, n, pools))[1]
            names = (record.patient.family_name, record.patient.given_name)
            if all(name.isalpha() and len(name) >= 5 for name in names):
                chosen[n] = record
        picks = list(chosen)
        families = [chosen[n].patient.family_name for n in picks]
        givens = [chosen[n].patient.given_name for n in picks]

        def search(**criteria):
            return lambda: gateway.patient_search(
                actor=user, session=session, purpose=PurposeOfUse.OPERATIONS, **criteria
            )

        sample = families[0]
        print(f"EXPLAIN ANALYZE of a 4-letter family-name prefix query ({len(sample)}-letter name):")
        print(explain(sample[:4]))
        hits = gateway.patient_search(
            actor=user, session=session, purpose=PurposeOfUse.OPERATIONS, mrn=scale.mrn(picks[0])
        )
        assert len(hits.results) == 1, "MRN search must find the patient"
        for _ in range(2):  # warm-up and then the measured round
            lines = [
                timed([search(mrn=scale.mrn(n)) for n in picks], "MRN (exact, blind index)"),
                timed([search(name=f[:3]) for f in families], "name prefix, 3 letters"),
                timed([search(name=f[:5]) for f in families], "name prefix, 5 letters"),
                timed(
                    [search(name=f"{g[:3]} {f[:3]}") for g, f in zip(givens, families, strict=True)],
                    "given + family prefixes, 3+3",
                ),
                timed([search(name=f) for f in families], "full family name"),
            ]
        print(f"{args.patients} patients, {args.queries} queries each (page of 20, cap 100, audited):")
        print("\n".join(lines))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            cc.drop_database(DB)


if __name__ == "__main__":
    main()
