"""Re-encryption rate (values per second) and its effect on concurrent reads.

    .venv/bin/python bench/crypto_reencrypt.py [--records 20000] [--batch-size 500] [--rounds 2]
        [--blind] [--sqlite] [--profile] [--database NAME] [--before COMMIT]

Loads N records of the crypto test model (5 encrypted values each: MRN,
family name, date of birth, phone, JSON notes; with --blind also their 5
blind indexes and prefix tokens) into a throwaway PostgreSQL database
`bench_crypto_reencrypt` (--database; or a SQLite file with --sqlite). A
separate reader process loads random records and reveals two fields in a
loop, as the gateway would. Each round rotates the data key (and the
blind-index key with --blind) and runs `keys_reencrypt` twice, alternating:
with the store code of commit --before, loaded from git (the baseline;
default the commit before ADR 1611), and with the current one, with idle
windows in between. Reported: values/s of each path and the reader's median
latency during each against the idle windows.
--profile runs each path once under pyinstrument, without the reader.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import module_at
from crypto_common import DEFAULT_PG, configure, machine, postgres_database


def reader(url: str, folder: str, out: str) -> None:
    configure(url, folder=Path(folder), migrate=False)
    from tests.crypto.testapp.models import Record

    pks = list(Record.objects.values_list("pk", flat=True))
    rng = random.Random(7)
    with Path(out).open("w", encoding="ascii", buffering=1) as handle:
        while True:
            start = time.perf_counter()
            record = Record.objects.get(pk=rng.choice(pks))
            record.family_name.reveal()
            record.birth_date.reveal()
            handle.write(f"{time.time():.6f} {time.perf_counter() - start:.6f}\n")


def load(records: int) -> float:
    from django.db import transaction

    from tests.crypto.testapp.models import Record

    started = time.perf_counter()
    batch = []
    for i in range(records):
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
    return time.perf_counter() - started


@contextlib.contextmanager
def previous_path(before: str) -> Iterator[None]:
    """The stores' re-encryption and `Keyring.reseal` as they were at commit
    `before` (default: before ADR 1611), loaded from git: the baseline."""
    from safeward.crypto.keyring import Keyring
    from safeward.crypto.stores import BlindIndexStore, ModelStore

    stores = module_at(before, "safeward/crypto/stores.py", "bench_stores_before")
    ring = module_at(before, "safeward/crypto/keyring.py", "bench_keyring_before")

    # The registry holds today's store objects; each runs the old method on
    # an old-class store over the same model and fields.
    def model_reencrypt(self: ModelStore, **kwargs: Any) -> Iterator[int]:
        return stores.ModelStore(self.model, self.fields).reencrypt(**kwargs)

    def blind_reencrypt(self: BlindIndexStore, **kwargs: Any) -> Iterator[int]:
        return stores.BlindIndexStore(self.model, self.fields).reencrypt(**kwargs)

    with (
        mock.patch.object(ModelStore, "reencrypt", model_reencrypt),
        mock.patch.object(BlindIndexStore, "reencrypt", blind_reencrypt),
        mock.patch.object(Keyring, "reseal", ring.Keyring.reseal),
    ):
        yield


def paths(before: str) -> tuple[tuple[str, contextlib.AbstractContextManager[None]], ...]:
    return (("previous", previous_path(before)), ("batched", contextlib.nullcontext()))


def rotate_and_reencrypt(args: argparse.Namespace) -> tuple[int, float]:
    """Rotate the data key (and the blind-index key with --blind), then time
    `keys_reencrypt`: (values moved, seconds)."""
    from safeward.crypto.keyring import Purpose
    from safeward.crypto.services import Actor, key_rotate, keys_reencrypt

    key_rotate(actor=Actor(name="bench"))
    if args.blind:
        key_rotate(actor=Actor(name="bench"), purpose=Purpose.BLIND_INDEX)
    t0 = time.perf_counter()
    result = keys_reencrypt(actor=Actor(name="bench"), batch_size=args.batch_size)
    elapsed = time.perf_counter() - t0
    assert result.remaining == 0, result
    return result.moved, elapsed


def profile(args: argparse.Namespace) -> None:
    from pyinstrument import Profiler

    for name, context in paths(args.before):
        with context:
            profiler = Profiler(interval=0.001)
            profiler.start()
            moved, elapsed = rotate_and_reencrypt(args)
            profiler.stop()
        print(
            f"## {name}: {moved:,} values in {elapsed:.1f} s = {moved / elapsed:,.0f} values/s "
            "(under the profiler)"
        )
        print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=True))


def run(url: str | None, args: argparse.Namespace) -> None:
    folder = configure(url)
    from django.db import connection

    from safeward.crypto.keyring import keyring

    load_seconds = load(args.records)
    print(f"# {machine()}")
    print(
        f"# {connection.vendor} ({'file' if url is None else 'local server'}), {args.records:,} records "
        f"loaded in {load_seconds:.1f} s; batch size {args.batch_size}; "
        f"{'data and blind-index keys' if args.blind else 'data key'} rotated each round"
    )
    if args.profile:
        profile(args)
        return
    connection.close()

    out = folder / "reads.txt"
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--reader",
            url or os.environ["SAFEWARD_DATABASE_URL"],
            str(folder),
            str(out),
        ],
        env={**os.environ},
    )
    windows: dict[str, list[tuple[float, float]]] = {"idle": [], "previous": [], "batched": []}
    rates: dict[str, list[float]] = {"previous": [], "batched": []}

    def idle(seconds: float) -> None:
        start = time.time()
        time.sleep(seconds)
        windows["idle"].append((start, time.time()))

    try:
        time.sleep(2.0)  # the reader loads its primary keys and warms up
        idle(args.baseline)
        for _ in range(args.rounds):
            for name, context in paths(args.before):
                with context:
                    start = time.time()
                    moved, elapsed = rotate_and_reencrypt(args)
                    windows[name].append((start, time.time()))
                rates[name].append(moved / elapsed)
                keyring().refresh()
                idle(args.baseline)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    report(args, reader_samples(out), windows, rates)


def reader_samples(out: Path) -> list[tuple[float, float]]:
    """(time, latency) of each read; none when the reader never wrote its file
    (terminated before it had loaded its records: tiny --records, heavy load).
    A line cut short by the termination is left out."""
    if not out.exists():
        return []
    rows = (line.split() for line in out.read_text().splitlines())
    return [(float(row[0]), float(row[1])) for row in rows if len(row) == 2]


def report(
    args: argparse.Namespace,
    samples: list[tuple[float, float]],
    windows: dict[str, list[tuple[float, float]]],
    rates: dict[str, list[float]],
) -> None:
    if not samples:
        print("reader produced no samples: read latencies are not reported (try more --records)")

    def latencies(name: str) -> list[float]:
        return sorted(lat for t, lat in samples if any(a <= t <= b for a, b in windows[name]))

    def summary(values: list[float]) -> str:
        if not values:
            return "no samples"
        return (
            f"median {statistics.median(values) * 1e3:6.2f} ms  "
            f"p95 {values[int(len(values) * 0.95)] * 1e3:6.2f} ms  ({len(values)} reads)"
        )

    idle_reads = latencies("idle")
    print(f"values per round: {args.records * (10 if args.blind else 5):,}")
    print(f"reads while idle    : {summary(idle_reads)}")
    for name in ("previous", "batched"):
        during = latencies(name)
        ratio = (
            statistics.median(during) / statistics.median(idle_reads)
            if during and idle_reads
            else float("nan")
        )
        print(
            f"{name:9s}: {', '.join(f'{r:,.0f}' for r in rates[name])} values/s "
            f"(median {statistics.median(rates[name]):,.0f}); reads during: {summary(during)}; "
            f"read slowdown {ratio:.2f}x"
        )
    speedup = statistics.median(rates["batched"]) / statistics.median(rates["previous"])
    print(f"batched / previous (median rates): {speedup:.2f}x")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--reader":
        reader(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--baseline", type=float, default=6.0, help="seconds of idle reads before each run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (previous, batched), alternating")
    parser.add_argument("--blind", action="store_true", help="rotate the blind-index key too")
    parser.add_argument("--profile", action="store_true", help="pyinstrument each path once, no reader")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--server", default=DEFAULT_PG)
    parser.add_argument("--database", default="bench_crypto_reencrypt")
    parser.add_argument("--before", default="76d6be5", help="the baseline's commit (before ADR 1611)")
    args = parser.parse_args()
    if args.sqlite:
        run(None, args)
    else:
        with postgres_database(args.database, args.server) as url:
            run(url, args)


if __name__ == "__main__":
    main()
