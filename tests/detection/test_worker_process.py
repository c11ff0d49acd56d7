"""The worker as an OS process, killed with SIGKILL in the middle of the
stream and restarted: every event is processed exactly once, so no alert is
missed and none is raised twice. A second follower refuses to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from safeward.audit.models import AuditEvent
from safeward.detection.models import AccessReview, Alert, AlertEvidence, DetectorCursor
from tests.detection.conftest import access, login

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ACCOUNTS = 120
FAILURES = 5
ACCESSES = 300


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need PostgreSQL (SQLite in-memory is one process)")


ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    url = f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE") or "tests.settings",
        "SAFEWARD_DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def _worker(*extra: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "safeward.cli", "detect", "--follow", "--interval", "0.05", *extra]
    return subprocess.Popen(args, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop(process: subprocess.Popen[bytes], signum: int) -> bytes:
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)  # also closes the pipe
    return err


def _processed() -> int:
    cursor = DetectorCursor.objects.filter(name="detect").first()
    return cursor.processed if cursor else 0


def _wait(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_sigkill_mid_stream_neither_misses_nor_duplicates(make_user):
    clerk = make_user("registration_clerk")
    for n in range(ACCOUNTS):
        for _ in range(FAILURES):
            login(username=f"target{n:03d}", ip=f"10.9.{n // 200}.{n % 200}")
    for _ in range(ACCESSES):
        access(clerk, str(uuid.uuid4()))
    total = AuditEvent.objects.count()

    worker = _worker("--batch", "40")
    _wait(lambda: _processed() >= 200)
    _stop(worker, signal.SIGKILL)
    stopped_at = _processed()
    assert 0 < stopped_at < total, "the kill landed mid-stream"

    restarted = _worker("--batch", "40")
    try:
        _wait(lambda: _processed() >= total)
        time.sleep(0.5)  # nothing more may arrive
    finally:
        _stop(restarted, signal.SIGTERM)

    assert _processed() == total  # each event exactly once
    keys = list(Alert.objects.filter(rule="failed_login_account").values_list("group_key", flat=True))
    assert sorted(keys) == [f"failed_login_account|account:target{n:03d}" for n in range(ACCOUNTS)]
    assert AccessReview.objects.filter(user_id=clerk.pk).count() == ACCESSES
    for alert in Alert.objects.filter(rule="failed_login_account"):
        assert AlertEvidence.objects.filter(alert=alert).count() == FAILURES


def test_only_one_follower_at_a_time():
    first = _worker()
    try:
        _wait(lambda: DetectorCursor.objects.filter(name="detect").exists() or first.poll() is not None, 60)
        time.sleep(1.0)
        assert first.poll() is None
        second = _worker()
        _, err = second.communicate(timeout=60)
        assert second.returncode != 0
        assert b"another `safeward detect --follow` is running" in err
    finally:
        _stop(first, signal.SIGTERM)
