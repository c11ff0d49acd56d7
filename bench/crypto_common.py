"""Shared set-up for the crypto benchmarks: SafeWard with the crypto test models
(tests/crypto/testapp) on a throwaway database — a temporary SQLite file, or a
PostgreSQL database created for the run and dropped after it."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


def machine() -> str:
    import django

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} vCPU {cpu}, Python {platform.python_version()}, Django {django.get_version()}, "
        f"{platform.system()} {platform.release()}"
    )


@contextlib.contextmanager
def postgres_database(name: str, server_url: str = DEFAULT_PG) -> Iterator[str]:
    """Create database `name` on the server, yield its URL, drop it after."""
    import psycopg

    parsed = urlparse(server_url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(parsed._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def configure(database_url: str | None = None, *, folder: Path | None = None, migrate: bool = True) -> Path:
    """Set Django up on a fresh database with the crypto test models; returns the
    temp folder (which holds the KEK: pass it to helper processes)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    folder = folder or Path(tempfile.mkdtemp(prefix="safeward-crypto-bench-"))
    os.environ["SAFEWARD_VAR_DIR"] = str(folder)
    os.environ["SAFEWARD_KEY_DIR"] = str(folder / "keys")
    os.environ["SAFEWARD_DATABASE_URL"] = database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ.setdefault("SAFEWARD_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.core.management import call_command

    if migrate:
        call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)
    return folder
