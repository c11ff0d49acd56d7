"""Starting with the wrong KEK stops with a clear message naming the key
provider, before any request is served: a real migrate, then the real WSGI
module and a real gunicorn, in child processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _env(tmp_path: Path, key_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SAFEWARD_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTEST_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="safeward.settings",
        SAFEWARD_ENV="development",
        SAFEWARD_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SAFEWARD_VAR_DIR=str(tmp_path / "var"),
        SAFEWARD_KEY_PROVIDER="file",
        SAFEWARD_KEY_DIR=str(key_dir),
        PYTHONPATH=str(ROOT),
        HOME=str(tmp_path),
    )
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("startup")
    right = tmp_path / "right-keys"
    result = _run([sys.executable, "-m", "safeward.cli", "migrate", "--noinput"], _env(tmp_path, right))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (right / "kek.key").exists()  # migrate created the KEK and the first keys
    return tmp_path, right


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_wsgi_loads_with_the_right_kek(migrated):
    tmp_path, right = migrated
    result = _run([sys.executable, "-c", "import safeward.wsgi"], _env(tmp_path, right))
    assert result.returncode == 0, result.stderr[-3000:]


def test_wsgi_refuses_a_wrong_kek_and_names_the_provider(migrated):
    tmp_path, _ = migrated
    wrong = tmp_path / "wrong-keys"
    result = _run([sys.executable, "-c", "import safeward.wsgi"], _env(tmp_path, wrong))
    assert result.returncode != 0
    assert f"SafeWard cannot start: The key provider 'file' ({wrong / 'kek.key'})" in result.stderr
    assert "different key-encryption key" in result.stderr


def test_wsgi_refuses_a_missing_env_kek(migrated):
    tmp_path, right = migrated
    env = _env(tmp_path, right) | {"SAFEWARD_KEY_PROVIDER": "env"}
    result = _run([sys.executable, "-c", "import safeward.wsgi"], env)
    assert result.returncode != 0
    assert "The key provider 'env' ($SAFEWARD_KEK) has no KEK" in result.stderr


def test_gunicorn_stops_before_listening(migrated):
    tmp_path, _ = migrated
    port = _free_port()
    result = _run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "safeward.wsgi:application",
            "--preload",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--control-socket",
            str(tmp_path / "gunicorn.ctl"),
        ],
        _env(tmp_path, tmp_path / "another-wrong-keys"),
        timeout=120,
    )
    assert result.returncode != 0
    assert "SafeWard cannot start: The key provider 'file'" in result.stderr
    assert "Listening at" not in result.stderr
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing ever served


def test_partial_migrate_leaves_key_creation_to_the_full_one(tmp_path):
    keys = tmp_path / "keys"
    env = _env(tmp_path, keys)
    partial = _run([sys.executable, "-m", "safeward.cli", "migrate", "crypto", "--noinput"], env)
    assert partial.returncode == 0, partial.stderr[-3000:]
    full = _run([sys.executable, "-m", "safeward.cli", "migrate", "--noinput"], env)
    assert full.returncode == 0, full.stderr[-3000:]
    status = _run([sys.executable, "-m", "safeward.cli", "keys", "status"], env)
    assert status.returncode == 0, status.stderr[-3000:]
    assert "primary" in status.stdout
