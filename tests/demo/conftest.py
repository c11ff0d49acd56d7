import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_settings(settings, tmp_path):
    """Demo mode with its var folder in a temporary directory. Passwords are
    hashed with a fast hasher here: these tests are about the seed, not about
    argon2 (tests/demo/test_seed.py's login test keeps the real one)."""
    settings.SAFEWARD_DEMO = True
    settings.VAR_DIR = tmp_path / "var"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture(scope="session")
def migrated_sqlite_var(tmp_path_factory):
    """A var folder (embedded database and its key folder) that a real
    `safeward migrate` and `createcachetable` built in a fresh process, once
    per run: the modules that start real processes on a migrated database
    (tests/demo/test_production_settings.py, test_gunicorn_proxy_and_tls.py)
    each take a copy of it instead of migrating again (about 30 s of CPU,
    minutes of wall time on the loaded CI machine; ADR 0306)."""
    var_dir = tmp_path_factory.mktemp("migrated") / "var"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SAFEWARD_", "DJANGO_", "FORWARDED_ALLOW")) and key != "DATABASE_URL"
    }
    env.update({"DJANGO_SETTINGS_MODULE": "safeward.settings", "SAFEWARD_VAR_DIR": str(var_dir)})
    for command in (["migrate", "-v0"], ["createcachetable"]):
        done = subprocess.run(  # our own argv
            [sys.executable, "-m", "safeward.cli", *command],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return var_dir


def copy_of_migrated(template: Path, tmp_path: Path) -> Path:
    """The migrated var folder copied under tmp_path/var, for one module's processes."""
    var_dir = tmp_path / "var"
    shutil.copytree(template, var_dir)
    return var_dir
