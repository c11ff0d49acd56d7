"""Backup + restore test against plain pg_dump + pg_restore of the same
PostgreSQL database, in the same run, alternating rounds.

    .venv/bin/python bench/backup_restore.py --patients 20000 --rounds 3

Builds a throwaway database `bench_continuity` on 127.0.0.1 (migrated, N
synthetic patients through `safeward demo scale`: encrypted, indexed and
audited as the gateway writes them), then per round:

* SafeWard: `backup_create` (exported snapshot + row counts, pg_dump custom
  format streamed through the streaming AEAD, signed manifest, verification)
  followed by `backup_restore_test` (decrypt, pg_restore into a scratch
  database, row counts, audit chain end to end, a decryption sample of every
  encrypted field in a child process, drop);
* baseline: `pg_dump --format=custom` to a file, `createdb`, `pg_restore`,
  `dropdb`.

Prints the median of each and the ratio (goal: at most 1.5x). The database
is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

DB = "bench_continuity"
URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True)


def baseline(folder: Path) -> float:
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGUSER": "postgres"}
    started = time.perf_counter()
    dump = folder / "plain.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", DB], check=True, env=env)
    subprocess.run(["createdb", "--template=template0", f"{DB}_plain"], check=True, env=env)
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", f"--dbname={DB}_plain", str(dump)],
        check=True,
        env=env,
    )
    subprocess.run(["dropdb", "--force", f"{DB}_plain"], check=True, env=env)
    elapsed = time.perf_counter() - started
    dump.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the database (and reuse it next time).")
    args = parser.parse_args()

    env = {**os.environ, "PGHOST": "127.0.0.1", "PGUSER": "postgres"}
    fresh = subprocess.run(["createdb", DB], env=env, capture_output=True).returncode == 0
    os.environ["SAFEWARD_DATABASE_URL"] = URL
    from _setup import configure, machine

    folder = configure()
    from django.conf import settings
    from django.core.management import call_command

    settings.SAFEWARD_BACKUP_DIR = str(folder / "backups")
    settings.SAFEWARD_BACKUP_KEEP = 2
    if fresh or args.patients:
        started = time.perf_counter()
        call_command("demo", "scale", patients=args.patients, benchmark_database=DB)
        print(f"loaded {args.patients} patients in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    from safeward.continuity import services

    ours: list[float] = []
    plain: list[float] = []
    sizes = ""
    try:
        for _round in range(args.rounds):
            with tempfile.TemporaryDirectory() as scratch:
                plain.append(baseline(Path(scratch)))
            started = time.perf_counter()
            backup = services.backup_create(actor=None)
            result = services.backup_restore_test(actor=None)
            ours.append(time.perf_counter() - started)
            assert result.passed, result.problems
            sizes = f"{backup.tables} tables, {backup.rows} rows, {backup.size_bytes / 1e6:.1f} MB encrypted"
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _run("dropdb", "--force", "-h", "127.0.0.1", "-U", "postgres", DB)
    print(machine())
    print(f"database: {args.patients} synthetic patients; {sizes}")
    a, b = statistics.median(ours), statistics.median(plain)
    print(f"backup + restore-test: median {a:.1f} s  ({', '.join(f'{x:.1f}' for x in ours)})")
    print(f"pg_dump + pg_restore:  median {b:.1f} s  ({', '.join(f'{x:.1f}' for x in plain)})")
    print(f"ratio: {a / b:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
