"""Several OS processes writing and sealing at once on PostgreSQL, and
writers killed with SIGKILL in the middle of writing: the chain never forks,
every committed access has its event, and the trail verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection

from safeward.audit.models import AuditEvent, AuditSeal
from safeward.audit.verification import audit_verify
from tests.audit.conftest import seal_all

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("multi-process writers need PostgreSQL (SQLite in-memory is one process)")


def _env():
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    url = f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE") or "tests.settings",
        "SAFEWARD_DATABASE_URL": url,
        "SAFEWARD_AUDIT_CHECKPOINT_FILE": str(settings.SAFEWARD_AUDIT_CHECKPOINT_FILE),
        "SAFEWARD_AUDIT_SEAL_KEY_FILE": str(settings.SAFEWARD_AUDIT_SEAL_KEY_FILE),
        "SAFEWARD_AUDIT_DIR": str(settings.SAFEWARD_AUDIT_DIR),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def _writer(name, count, **extra):
    args = [sys.executable, "-m", "tests.audit.writer_process", "--writer", name, "--count", str(count)]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return subprocess.Popen(args, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _sealer():
    args = [sys.executable, "-m", "safeward.cli", "audit", "seal", "--follow", "--interval", "0.05"]
    return subprocess.Popen(args, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _committed_markers():
    markers = set(Session.objects.filter(session_key__startswith="w").values_list("session_key", flat=True))
    events = set(AuditEvent.objects.filter(resource_type="Marker").values_list("resource_id", flat=True))
    return markers, events


def _assert_verifies_with_every_event_sealed():
    seal_all()
    report = audit_verify()
    assert report.ok, [problem.describe() for problem in report.problems]
    assert report.unsealed == 0
    assert report.events == AuditEvent.objects.count()
    numbers = list(AuditSeal.objects.order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))  # one chain, no fork


def test_concurrent_writers_and_sealers_keep_one_chain():
    sealers = [_sealer(), _sealer()]
    writers = [_writer(str(n), 120, seal_every=25) for n in range(4)]
    try:
        for writer in writers:
            _, err = writer.communicate(timeout=180)
            assert writer.returncode == 0, err.decode()[-2000:]
    finally:
        for sealer in sealers:
            sealer.send_signal(signal.SIGTERM)
            sealer.communicate(timeout=30)
    markers, events = _committed_markers()
    assert markers == events
    assert len(markers) == 4 * (120 - 120 // 7)
    _assert_verifies_with_every_event_sealed()


def test_writers_killed_mid_writing_leave_a_verifiable_trail():
    sealer = _sealer()
    writers = [_writer(str(n), 0, rollback_every=5) for n in range(3)]
    # Kill them once every writer is well into its work (start-up time varies).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        started = {key.split("-")[0] for key in _committed_markers()[0]}
        if len(started) == len(writers) and AuditSeal.objects.exists():
            break
        time.sleep(0.2)
    time.sleep(0.5)
    for writer in writers:
        writer.send_signal(signal.SIGKILL)
    sealer.send_signal(signal.SIGKILL)
    for process in [*writers, sealer]:
        process.communicate(timeout=30)
    markers, events = _committed_markers()
    assert markers, "the writers committed nothing before they were killed"
    assert markers == events  # every committed access has its event, and only those
    _assert_verifies_with_every_event_sealed()
