"""Exact search by blind index against an indexed plaintext equality lookup,
over the same 1,000,000-row PostgreSQL table.

    .venv/bin/python bench/crypto_blind_index.py [--rows 1000000] [--lookups 2000] [--rounds 3]

A database `bench_crypto` is created on the local PostgreSQL server (URL from
--server, default postgres://postgres@127.0.0.1:5432/postgres) and dropped at
the end. The table holds a plaintext MRN (the baseline, with a b-tree index)
and its blind index (bytea, b-tree index), loaded with COPY; the index values
come from SafeWard's own compute_blind_index with the run's keyring.

"plaintext": SELECT id WHERE mrn = %s with the literal MRN.
"blind index": normalise + HMAC the query MRN in Python (what a search does),
then SELECT id WHERE mrn_bidx = %s. Both through psycopg on one connection,
alternating rounds, random MRNs that exist; median and p95 per lookup. Goal:
blind/plaintext <= 1.5.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crypto_common import DEFAULT_PG, configure, machine, postgres_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", default=DEFAULT_PG)
    args = parser.parse_args()

    with postgres_database("bench_crypto", args.server) as url:
        configure(url)
        from django.db import connection

        from safeward.crypto.fields import compute_blind_index

        scope = "bench.patient.mrn_index"

        def mrn(i: int) -> str:
            return f"MRN-{i:08d}"

        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bench_patient "
                "(id bigint PRIMARY KEY, mrn text NOT NULL, mrn_bidx bytea NOT NULL)"
            )
            # Index values first: computing them may refresh the keyring, a query
            # that cannot run on a connection in the middle of a COPY.
            indexes = [compute_blind_index(mrn(i), normaliser="mrn", scope=scope) for i in range(args.rows)]
            raw = connection.connection
            with raw.cursor() as pg, pg.copy("COPY bench_patient (id, mrn, mrn_bidx) FROM STDIN") as copy:
                for i, index in enumerate(indexes):
                    copy.write_row((i, mrn(i), index))
            del indexes
            cursor.execute("CREATE INDEX bench_patient_mrn ON bench_patient (mrn)")
            cursor.execute("CREATE INDEX bench_patient_mrn_bidx ON bench_patient (mrn_bidx)")
            cursor.execute("VACUUM ANALYZE bench_patient")
            cursor.execute(
                "SELECT pg_size_pretty(pg_relation_size('bench_patient_mrn')), "
                "pg_size_pretty(pg_relation_size('bench_patient_mrn_bidx'))"
            )
            sizes = cursor.fetchone()
        load_seconds = time.perf_counter() - started

        rng = random.Random(42)
        raw = connection.connection
        samples: dict[str, list[float]] = {"plaintext": [], "blind index": []}
        ratios = []
        with raw.cursor() as pg:
            for i in rng.sample(range(args.rows), 400):  # warm both indexes
                pg.execute("SELECT id FROM bench_patient WHERE mrn = %s", (mrn(i),)).fetchall()
                pg.execute(
                    "SELECT id FROM bench_patient WHERE mrn_bidx = %s",
                    (compute_blind_index(mrn(i), normaliser="mrn", scope=scope),),
                ).fetchall()
            for _ in range(args.rounds):
                targets = rng.sample(range(args.rows), args.lookups)
                round_times = {}
                for name in ("plaintext", "blind index"):
                    times = []
                    for i in targets:
                        start = time.perf_counter()
                        if name == "plaintext":
                            rows = pg.execute(
                                "SELECT id FROM bench_patient WHERE mrn = %s", (mrn(i),)
                            ).fetchall()
                        else:
                            query = compute_blind_index(f" mrn {i:08d} ", normaliser="mrn", scope=scope)
                            rows = pg.execute(
                                "SELECT id FROM bench_patient WHERE mrn_bidx = %s", (query,)
                            ).fetchall()
                        times.append(time.perf_counter() - start)
                        assert rows == [(i,)], (name, i, rows)
                    samples[name].extend(times)
                    round_times[name] = statistics.median(times)
                ratios.append(round_times["blind index"] / round_times["plaintext"])
            plan = pg.execute(
                "EXPLAIN SELECT id FROM bench_patient WHERE mrn_bidx = %s",
                (compute_blind_index(mrn(1), normaliser="mrn", scope=scope),),
            ).fetchall()

        print(f"# {machine()}")
        print(
            f"# PostgreSQL {connection.pg_version // 10000}, {args.rows:,} rows "
            f"loaded with COPY in {load_seconds:.1f} s"
        )
        print(f"# index sizes: plaintext mrn {sizes[0]}, blind index {sizes[1]}; plan: {plan[0][0].strip()}")
        for name, times in samples.items():
            times.sort()
            print(
                f"{name:<12} median {statistics.median(times) * 1e6:7.1f} µs  "
                f"p95 {times[int(len(times) * 0.95)] * 1e6:7.1f} µs  ({len(times)} lookups)"
            )
        print(
            "ratio blind/plaintext (median of per-round medians): "
            f"{statistics.median(ratios):.2f} (goal <= 1.5)"
        )


if __name__ == "__main__":
    main()
