"""PHI discovery scanner throughput against `grep -E` (issue 13).

Builds a corpus of mixed CSV / XLSX / PDF files (1 % of the rows hold MRNs
of patients in SafeWard, the rest synthetic strangers), loads N patients'
blind indexes into a throwaway SafeWard, then times over the same files:

* `grep -E -r -c` of the SSN pattern (the baseline);
* the engine alone (walk, hash, parse, patterns, candidates), in one
  process and in `--workers` processes (`Scanner.scan_all`, ADR 0812);
* the whole scan (`scan_run`: engine + keyed hashes of every candidate +
  batched `gateway.discovery_match` against the N patients + findings).

The N patients are written with raw SQL: real blind indexes (MRN, national
id, phone, birth date) under the real keys, and placeholder bytes in the
encrypted columns, which the discovery lookup never reads (the gateway's
bulk path would take ~8 minutes for 1,000,000 on this machine).

    .venv/bin/python bench/discovery_throughput.py --mb 200 --patients 1000000
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import configure, machine

SSN_PATTERN = "[0-9]{3}-[0-9]{2}-[0-9]{4}"


def load_patients(count: int) -> list[str]:
    """`count` patients' blind indexes by raw SQL; returns their MRNs."""
    from django.db import connection, transaction

    from safeward import clock
    from safeward.clinical.models import Patient
    from safeward.crypto.keyring import ensure_keys

    ensure_keys()
    fields = {
        name: Patient._meta.get_field(f"{name}_index")
        for name in ("mrn", "national_id", "phone", "birth_date")
    }
    now = clock.now().isoformat()
    mrns = [f"BENCH-{number:07d}" for number in range(count)]
    columns = [
        "id", "mrn", "given_name", "family_name", "birth_date", "sex", "is_employee", "is_vip",
        "is_confidential", "deceased", "created_at", "updated_at", "mrn_index", "national_id_index",
        "phone_index", "birth_date_index", "family_name_prefixes", "given_name_prefixes",
    ]  # fmt: skip
    # The column names are the constants above; the values go as parameters.
    sql = f"INSERT INTO clinical_patient ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    rng = random.Random(13)
    placeholder = b"\x00" * 48
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        batch = []
        for number, mrn in enumerate(mrns):
            row_id = uuid.UUID(int=number + 1)
            birth = f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            batch.append(
                (
                    row_id.hex if connection.vendor == "sqlite" else row_id,
                    placeholder, placeholder, placeholder, placeholder, "unknown", False, False, False, False,
                    now, now,
                    fields["mrn"].compute(mrn),
                    fields["national_id"].compute(f"900-{number // 10000 % 100:02d}-{number % 10000:04d}"),
                    fields["phone"].compute(f"+1 555 {number // 10000:03d} {number % 10000:04d}"),
                    fields["birth_date"].compute(birth),
                    "", "",
                )
            )  # fmt: skip
            if len(batch) == 20_000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
    print(f"loaded {count:,} patients' blind indexes in {time.perf_counter() - started:.1f} s")
    return mrns


def build_corpus(root: Path, megabytes: int, mrns: list[str]) -> dict[str, int]:
    from safeward.demo.share_files import write_pdf, write_xlsx

    rng = random.Random(7)
    first = ["Ada", "Ben", "Cleo", "Dev", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jun"]
    last = ["Quist", "Roe", "Stone", "Tran", "Underwood", "Vale", "Wu", "Xu", "Young", "Zed"]

    def row(number: int) -> list[str]:
        ours = rng.random() < 0.01
        mrn = rng.choice(mrns) if ours and mrns else f"EXT-{rng.randint(0, 9_999_999):07d}"
        return [
            mrn,
            f"{rng.choice(first)} {rng.choice(last)}",
            f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"{rng.randint(100, 665):03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}",
            f"+1 555 {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
            f"{rng.choice(['E11.9', 'I10', 'J45.909', 'Z00.00'])}",
            f"{rng.randint(1, 999)} Main Street",
        ]

    root.mkdir(parents=True, exist_ok=True)
    target = megabytes * 1_000_000
    sizes = {"csv": 0, "xlsx": 0, "pdf": 0}
    number = 0
    while sum(sizes.values()) < target:
        index = len(list(root.iterdir()))
        kind = ("csv", "csv", "xlsx", "pdf")[index % 4]
        path = root / f"file-{index:04d}.{kind}"
        if kind == "csv":
            with path.open("w") as handle:
                for _ in range(100_000):
                    handle.write(",".join(row(number)) + "\n")
                    number += 1
        elif kind == "xlsx":
            rows = [row(n) for n in range(20_000)]
            write_xlsx(path, ["mrn", "name", "dob", "ssn", "phone", "dx", "address"], rows)
        else:
            write_pdf(path, [" ".join(row(n)) for n in range(2_000)])
        sizes[kind] += path.stat().st_size
    return sizes


def timed(label: str, function) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - started
    print(f"{label:<48} {elapsed:8.2f} s  {result}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="corpus size in MB")
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: one per core)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="safeward-discovery-bench-"))
    try:
        configure(work / "var")
        print(machine())
        mrns = load_patients(args.patients)
        corpus = work / "share"
        sizes = build_corpus(corpus, args.mb, mrns)
        total = sum(sizes.values())
        print(
            f"corpus: {total / 1e6:,.0f} MB in {len(list(corpus.iterdir()))} files "
            + ", ".join(f"{kind} {size / 1e6:,.0f} MB" for kind, size in sizes.items())
        )
        from safeward.assets.discovery.engine import Scanner, plan
        from safeward.assets.discovery_services import default_workers, scan_run, scanner_from_settings

        subprocess.run(
            ["cat", *map(str, corpus.iterdir())], stdout=subprocess.DEVNULL, check=True
        )  # warm cache
        grep = timed(
            "grep -E -r -c (SSN pattern)",
            lambda: subprocess.run(
                ["grep", "-E", "-r", "-c", SSN_PATTERN, str(corpus)], capture_output=True, check=False
            ).stdout.count(b"\n"),
        )
        workers = args.workers or default_workers()
        entries = list(plan([str(corpus)]))
        one = Scanner()
        engine = timed(
            "engine alone, 1 process (parse + patterns)",
            lambda: sum(1 for r in one.scan_all(entries, {}) if r.status),
        )
        many = Scanner(workers=workers)
        engine_many = timed(
            f"engine alone, {workers} worker processes",
            lambda: sum(1 for r in many.scan_all(entries, {}) if r.status),
        )
        scanner = scanner_from_settings(workers=workers)
        full = timed(
            f"scan_run, exact match vs {args.patients:,} patients",
            lambda: (
                scan_run(
                    actor=None, roots=[str(corpus)], trigger="command", scanner=scanner
                ).scan.patients_matched
            ),
        )
        again = timed(
            "scan_run again (incremental: nothing changed)",
            lambda: (
                scan_run(
                    actor=None, roots=[str(corpus)], trigger="command", scanner=scanner
                ).scan.files_unchanged
            ),
        )
        print(
            f"throughput: grep {total / 1e6 / grep:,.0f} MB/s, engine {total / 1e6 / engine:,.1f} MB/s "
            f"({total / 1e6 / engine_many:,.1f} MB/s in {workers} workers), "
            f"full scan {total / 1e6 / full:,.1f} MB/s; full / grep = {full / grep:,.1f}x; "
            f"rescan {again:.2f} s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
