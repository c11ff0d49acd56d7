"""A var folder migrated once per run by a real `safeward migrate` in a fresh
process, for the modules that start real processes on a migrated embedded
database (ADR 0306): each copies it instead of migrating again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_migrated_var(var_dir: Path) -> Path:
    """`safeward migrate` and `createcachetable` into `var_dir` with the
    default settings, in a process of their own (about 30 s of CPU)."""
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
