"""Shared parts of the clinical benchmarks: a throwaway PostgreSQL database
(created and dropped by the script; never any other database), Django set up
against it, and scale data written through `safeward demo scale`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
TRGM_INDEXES = (
    ("clin_patient_family_prefix_trgm", "family_name_prefixes"),
    ("clin_patient_given_prefix_trgm", "given_name_prefixes"),
)


def database_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def create_database(name: str, *, reuse: bool = False) -> bool:
    """Create `name` (must start with "bench_"); True when it was created."""
    assert name.startswith("bench_"), "benchmarks only touch databases named bench_*"
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if exists and reuse:
        return False
    if exists:
        drop_database(name)
    _admin(f'CREATE DATABASE "{name}"')
    return True


def drop_database(name: str) -> None:
    assert name.startswith("bench_"), "benchmarks only touch databases named bench_*"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def configure(name: str, var_dir: Path) -> None:
    """Django against database `name` (development settings, a bench var folder)."""
    os.environ["SAFEWARD_DATABASE_URL"] = database_url(name)
    sys.path.insert(0, str(ROOT / "bench"))
    from _setup import configure as base_configure

    base_configure(var_dir)


def scale(name: str, patients: int) -> float:
    """Write `patients` scale patients with `safeward demo scale`; returns patients/s."""
    from django.core.management import call_command

    started = time.monotonic()
    call_command("demo", "scale", "--patients", str(patients), "--benchmark-database", name)
    return patients / (time.monotonic() - started)


def scale_here(patients: int) -> float:
    """`safeward demo scale` in this process, on the configured (SQLite, demo
    mode) database; returns patients/s."""
    from django.core.management import call_command

    started = time.monotonic()
    call_command("demo", "scale", "--patients", str(patients))
    return patients / (time.monotonic() - started)


def load(name: str, patients: int, workers: int) -> float:
    """`safeward demo scale` in `workers` processes over disjoint ranges of
    patient numbers; the trigram indexes are dropped for the load and built
    after it (as for any bulk load). Returns patients/s of the load itself."""
    from django.db import connection

    with connection.cursor() as cursor:
        for index, _ in TRGM_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {index}")
    per = -(-patients // workers)
    # The loaders import the caller's settings module, which may live in bench/
    # (clinical_chart.py's): the folder is on this process's path, not theirs.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench"), os.environ.get("PYTHONPATH")])),
    }
    started = time.monotonic()
    procs = []
    for w in range(workers):
        first = 1 + w * per
        count = min(per, patients - first + 1)
        if count <= 0:
            break
        argv = [sys.executable, str(ROOT / "manage.py"), "demo", "scale", "--patients", str(count)]
        argv += ["--start", str(first), "--benchmark-database", name]
        # Each loader's errors in a file of its own: a pipe could fill and stall it.
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed after the wait below
        procs.append((subprocess.Popen(argv, env=env, cwd=ROOT, stderr=errors), errors))
    failed = [(n, errors) for n, (proc, errors) in enumerate(procs) if proc.wait() != 0]
    for n, errors in failed:
        errors.seek(0)
        print(f"loader {n} failed:\n" + errors.read().decode(errors="replace")[-3000:], file=sys.stderr)
    for _, errors in procs:
        errors.close()
    if failed:
        raise SystemExit(f"{len(failed)} of {len(procs)} loaders failed (their errors are above)")
    rate = patients / (time.monotonic() - started)
    index_started = time.monotonic()
    with connection.cursor() as cursor:
        for index, column in TRGM_INDEXES:
            cursor.execute(f"CREATE INDEX {index} ON clinical_patient USING gin ({column} gin_trgm_ops)")
        cursor.execute("ANALYZE")
    print(f"trigram indexes built in {time.monotonic() - index_started:.1f} s")
    return rate
