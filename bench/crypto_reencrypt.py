"""Re-encryption rate (values per second) and its effect on concurrent reads.

    .venv/bin/python bench/crypto_reencrypt.py [--records 20000] [--batch-size 500] [--sqlite]

Loads N records of the crypto test model (5 encrypted values each: MRN,
family name, date of birth, phone, JSON notes) into a throwaway PostgreSQL
database `bench_crypto_reencrypt` (or a SQLite file with --sqlite), then:
a separate reader process loads random records and reveals two fields in a
loop, as the gateway would; after a baseline window the data key is rotated
and `keys_reencrypt` moves every value; the reader keeps going. Reported:
values/s of the re-encryption, and the reader's median/p95 latency before
and during it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crypto_common import DEFAULT_PG, configure, machine, postgres_database


def reader(url: str, folder: str, out: str, seconds: float) -> None:
    configure(url, folder=Path(folder), migrate=False)
    from tests.crypto.testapp.models import Record

    pks = list(Record.objects.values_list("pk", flat=True))
    rng = random.Random(7)
    deadline = time.monotonic() + seconds
    with Path(out).open("w", encoding="ascii") as handle:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            record = Record.objects.get(pk=rng.choice(pks))
            record.family_name.reveal()
            record.birth_date.reveal()
            handle.write(f"{time.time():.6f} {time.perf_counter() - start:.6f}\n")


def run(url: str | None, args: argparse.Namespace) -> None:
    folder = configure(url)
    from django.db import connection, transaction

    from safeward.crypto.services import Actor, key_rotate, keys_reencrypt
    from tests.crypto.testapp.models import Record

    started = time.perf_counter()
    batch = []
    for i in range(args.records):
        batch.append(
            Record(
                mrn=f"MRN-{i:08d}",
                family_name=f"Family{i}",
                birth_date=dt.date(1940, 1, 1) + dt.timedelta(days=i % 30000),
                phone=f"+1 555 {i % 1000:03d} {i % 10000:04d}",
                notes={"n": i},
            )
        )
        if len(batch) == 2000:
            with transaction.atomic():
                Record.objects.bulk_create(batch)
            batch = []
    if batch:
        Record.objects.bulk_create(batch)
    load = time.perf_counter() - started
    values = args.records * 5
    connection.close()

    out = folder / "reads.txt"
    env = {**os.environ}
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--reader",
            url or os.environ["SAFEWARD_DATABASE_URL"],
            str(folder),
            str(out),
            str(args.baseline + args.max_seconds),
        ],
        env=env,
    )
    time.sleep(args.baseline)
    before_end = time.time()
    key_rotate(actor=Actor(name="bench"))
    t0 = time.perf_counter()
    result = keys_reencrypt(actor=Actor(name="bench"), batch_size=args.batch_size)
    elapsed = time.perf_counter() - t0
    during_end = time.time()
    proc.terminate()
    proc.wait(timeout=30)

    samples = [tuple(map(float, line.split())) for line in out.read_text().splitlines() if line.strip()]
    before = sorted(lat for t, lat in samples if t < before_end and t > before_end - args.baseline + 2)
    during = sorted(lat for t, lat in samples if before_end <= t <= during_end)

    def summary(latencies: list[float]) -> str:
        if not latencies:
            return "no samples"
        return (
            f"median {statistics.median(latencies) * 1e3:6.2f} ms  "
            f"p95 {latencies[int(len(latencies) * 0.95)] * 1e3:6.2f} ms"
            f"  ({len(latencies)} reads)"
        )

    print(f"# {machine()}")
    print(
        f"# {connection.vendor} ({'file' if url is None else 'local server'}), "
        f"{args.records:,} records = {values:,} "
        f"encrypted values loaded in {load:.1f} s; batch size {args.batch_size}"
    )
    print(
        f"re-encryption: {result.moved:,} values in {elapsed:.1f} s = {result.moved / elapsed:,.0f} values/s "
        f"(remaining {result.remaining})"
    )
    print(f"reads before : {summary(before)}")
    print(f"reads during : {summary(during)}")
    if before and during:
        print(
            "read latency during/before (median): "
            f"{statistics.median(during) / statistics.median(before):.2f}x"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--reader":
        reader(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--baseline", type=float, default=8.0, help="seconds of reads before rotation")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--server", default=DEFAULT_PG)
    args = parser.parse_args()
    if args.sqlite:
        run(None, args)
    else:
        with postgres_database("bench_crypto_reencrypt", args.server) as url:
            run(url, args)


if __name__ == "__main__":
    main()
