"""Shared set-up for the audit benchmarks: a throwaway PostgreSQL database
(`bench_audit` by default), migrated, and Django configured against it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def fresh_database(name: str, *, settings_module: str | None = None) -> str:
    """Drop and create `name` and migrate it (in a subprocess)."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    env = {**os.environ, "SAFEWARD_DATABASE_URL": url}
    if settings_module:
        env["DJANGO_SETTINGS_MODULE"] = settings_module
    env.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    return url


def use_database(name: str, *, settings_module: str | None = None) -> None:
    os.environ["SAFEWARD_DATABASE_URL"] = database_url(name)
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
    if "SAFEWARD_AUDIT_DIR" not in os.environ:
        import tempfile

        # A fresh checkpoint file for a fresh database (inherited by workers).
        os.environ["SAFEWARD_AUDIT_DIR"] = tempfile.mkdtemp(prefix="bench-audit-")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except OSError:
        memory_kb = 0
    memory = f"{memory_kb / 1024 / 1024:.1f} GiB RAM"
    return f"{os.cpu_count()} CPUs ({cpu}), {memory}, Python {platform.python_version()}"
