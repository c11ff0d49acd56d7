"""The database side of a backup: a consistent dump with the row counts of
the same snapshot, a restore into a scratch database that is created and
dropped, and the checks run on that copy in a separate process.

PostgreSQL: a REPEATABLE READ transaction exports its snapshot; the row
counts are read in it and ``pg_dump --format=custom --snapshot=...`` dumps
exactly that state, streamed. The restore goes into ``<live>_restore_<id>``
on the same server (``createdb`` / ``pg_restore`` / ``dropdb``).
SQLite: the online backup API copies the database into a private temporary
file (mode 0600, removed when streamed); the counts are read from the copy.
Inside an open transaction the copy is the connection's serialized view
instead (the online backup would wait forever on its own write lock).
The restore writes a temporary file.

The checks (row counts, the audit chain end to end, a decryption sample of
every encrypted field) run in a child process, ``safeward backup
check-restored``, whose only database is the scratch copy: the live
database is never opened by it, and the keyring it uses is the one restored
from the backup (unwrapped with the KEK the process is configured with)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.db import connection

from safeward.continuity.bundle import CHUNK, BackupError


def engine_name() -> str:
    vendor = connection.vendor
    if vendor not in {"postgresql", "sqlite"}:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {vendor}")
    return vendor


def model_tables() -> list[str]:
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    return sorted(tables)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def count_rows(cursor: Any, tables: Iterable[str], existing: set[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        if table not in existing:
            continue
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608 - quoted model table names
        counts[table] = int(cursor.fetchone()[0])
    return counts


# --- PostgreSQL ----------------------------------------------------------------------------------
def _pg_params(name: str | None = None) -> dict[str, str]:
    db = settings.DATABASES["default"]
    return {
        "host": str(db.get("HOST") or "127.0.0.1"),
        "port": str(db.get("PORT") or "5432"),
        "user": str(db.get("USER") or ""),
        "password": str(db.get("PASSWORD") or ""),
        "dbname": name or str(connection.settings_dict["NAME"]),
    }


def _pg_env(params: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PGHOST=params["host"], PGPORT=params["port"], PGUSER=params["user"], PGDATABASE=params["dbname"]
    )
    if params["password"]:
        env["PGPASSWORD"] = params["password"]
    return env


def _pg_url(params: dict[str, str]) -> str:
    auth = quote(params["user"], safe="")
    if params["password"]:
        auth += ":" + quote(params["password"], safe="")
    return f"postgresql://{auth}@{params['host']}:{params['port']}/{quote(params['dbname'], safe='')}"


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, check=False)  # noqa: S603
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:] or [""]
        raise BackupError(f"{what} failed: {message[0][:300]}")


@contextlib.contextmanager
def pg_snapshot_dump() -> Iterator[tuple[dict[str, int], Callable[[], Iterator[bytes]]]]:
    """(row counts, dump chunks) of one exported snapshot."""
    import psycopg

    params = _pg_params()
    with psycopg.connect(_pg_url(params), autocommit=False) as snap:
        snap.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = snap.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = str(row[0])
        with snap.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            existing = {str(r[0]) for r in cursor.fetchall()}
            counts = count_rows(cursor, model_tables(), existing)

        def chunks() -> Iterator[bytes]:
            args = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
            with subprocess.Popen(  # noqa: S603
                args, env=_pg_env(params), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            ) as process:
                assert process.stdout is not None
                assert process.stderr is not None
                while chunk := process.stdout.read(CHUNK):
                    yield chunk
                error = process.stderr.read().decode("utf-8", errors="replace").strip()
                if process.wait() != 0:
                    last = error.splitlines()[-1][:300] if error else "no message"
                    raise BackupError(f"pg_dump failed: {last}")

        yield counts, chunks
        snap.rollback()


@contextlib.contextmanager
def pg_scratch(restore_from: Iterator[bytes]) -> Iterator[str]:
    """Create a scratch database, pg_restore the dump chunks into it, yield its
    URL, drop it (whatever happens)."""
    live = _pg_params()
    name = f"{live['dbname']}_restore_{uuid.uuid4().hex[:10]}"[:63]
    params = {**live, "dbname": name}
    admin_env = _pg_env({**live, "dbname": "postgres"})
    _run(["createdb", "--template=template0", name], admin_env, "createdb (scratch database)")
    try:
        with subprocess.Popen(  # noqa: S603
            ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={name}"],  # noqa: S607
            env=_pg_env(params),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ) as process:
            assert process.stdin is not None
            assert process.stderr is not None
            try:
                for chunk in restore_from:
                    process.stdin.write(chunk)
            except BrokenPipeError:
                pass
            finally:
                process.stdin.close()
            error = process.stderr.read().decode("utf-8", errors="replace").strip()
            if process.wait() != 0:
                last = error.splitlines()[-1][:300] if error else "no message"
                raise BackupError(f"pg_restore failed: {last}")
        yield _pg_url(params)
    finally:
        _run(["dropdb", "--force", "--if-exists", name], admin_env, "dropdb (scratch database)")


# --- SQLite --------------------------------------------------------------------------------------
@contextlib.contextmanager
def sqlite_snapshot_dump(workdir: Path) -> Iterator[tuple[dict[str, int], Callable[[], Iterator[bytes]]]]:
    connection.ensure_connection()
    live = connection.connection
    descriptor, name = tempfile.mkstemp(dir=workdir, prefix=".swbk-", suffix=".sqlite3")
    os.close(descriptor)
    copy_path = Path(name)
    try:
        if live.in_transaction:
            # The online backup API cannot copy a database its own source
            # connection is writing: sqlite3_backup_step() answers SQLITE_LOCKED,
            # which Python's `backup()` retries forever. Inside an open
            # transaction (the demo seed's first scheduled run, ADR 1506) the
            # copy is the pages this connection sees, its own writes included,
            # taken in memory. `backup create`, `schedule run-due` and Run now
            # run outside any transaction and take the online backup.
            copy_path.write_bytes(live.serialize())
        target = sqlite3.connect(copy_path)
        try:
            if not live.in_transaction:
                live.backup(target)
            cursor = target.cursor()
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            existing = {str(r[0]) for r in cursor.fetchall()}
            counts = count_rows(cursor, model_tables(), existing)
        finally:
            target.close()

        def chunks() -> Iterator[bytes]:
            with copy_path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        yield counts, chunks
    finally:
        copy_path.unlink(missing_ok=True)


@contextlib.contextmanager
def sqlite_scratch(restore_from: Iterator[bytes]) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="safeward-restore-") as folder:
        path = Path(folder) / "restore.sqlite3"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in restore_from:
                handle.write(chunk)
        yield f"sqlite://{path}"


# --- the check process ---------------------------------------------------------------------------
def run_checks_on(url: str, *, sample: int, stderr: IO[str] | None = None) -> dict[str, Any]:
    """Run `safeward backup check-restored` in a child process whose database
    is `url`; returns its JSON report."""
    env = dict(os.environ)
    env["SAFEWARD_DATABASE_URL"] = url
    env.pop("DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = (
        os.environ.get("DJANGO_SETTINGS_MODULE")
        or getattr(settings, "SETTINGS_MODULE", None)
        or "safeward.settings"
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    args = [sys.executable, "-m", "django", "backup", "check-restored", "--sample", str(sample)]
    done = subprocess.run(args, env=env, capture_output=True, check=False, timeout=3600)  # noqa: S603
    if stderr is not None and done.stderr:
        stderr.write(done.stderr.decode("utf-8", errors="replace")[-2000:])
    try:
        report: dict[str, Any] = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = done.stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise BackupError(f"the check process on the restored copy failed: {tail[0][:300]}") from None
    return report


def checks_here(*, sample: int) -> dict[str, Any]:
    """What the child process runs against its own (scratch) database."""
    from safeward.audit.verification import audit_verify
    from safeward.crypto.selectors import encrypted_field_decrypt_check, key_versions

    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        counts = count_rows(cursor, model_tables(), existing)
    with tempfile.TemporaryDirectory() as folder:
        # No checkpoint file: the copy is checked against its own signed seals.
        report = audit_verify(checkpoint_path=Path(folder) / "none.jsonl")
    fields = encrypted_field_decrypt_check(limit=sample)
    return {
        "counts": counts,
        "audit": {
            "ok": report.ok,
            "events": report.events,
            "seals": report.seals,
            "problems": [p.kind for p in report.problems[:20]],
        },
        "fields": [{"label": f.label, "sampled": f.sampled, "decrypted": f.decrypted} for f in fields],
        "keys": [v.key_id for v in key_versions()],
    }
