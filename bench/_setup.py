"""Shared set-up for the benchmarks: a throwaway SafeWard in a temporary var
folder (embedded SQLite unless SAFEWARD_DATABASE_URL is given), with one
signed-up user holding a role and an enrolled TOTP authenticator."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_PASSWORD = "bench-" + "Qv7pLw2x" * 3  # synthetic; passes the password rules
BENCH_SECRET_KEY = "bench-only-" + "Zk4mT9rQ" * 8


def configure(var_dir: Path | None = None) -> Path:
    """Point Django at a fresh var folder and set it up. Call before importing models."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    var_dir = var_dir or Path(tempfile.mkdtemp(prefix="safeward-bench-"))
    os.environ["SAFEWARD_VAR_DIR"] = str(var_dir)
    os.environ["SAFEWARD_ENV"] = "development"
    os.environ["SAFEWARD_SECRET_KEY"] = BENCH_SECRET_KEY
    os.environ.setdefault("SAFEWARD_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return var_dir


def make_user(username: str, role: str = "nurse") -> tuple[Any, str]:
    """A user with `role` and a TOTP authenticator; returns (user, secret)."""
    from allauth.mfa.adapter import get_adapter
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import generate_totp_secret

    from safeward.identity import services
    from safeward.identity.models import Role

    user = services.user_create(
        actor=None, username=username, first_name="Bench", last_name="User", password=BENCH_PASSWORD
    )
    services.role_request(actor=None, user=user, role=Role.objects.get(code=role))
    secret = generate_totp_secret()
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": get_adapter().encrypt(secret)}
    )
    return user, secret


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {percentile(ms, 0.50):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms   "
        f"mean {statistics.fmean(ms):7.1f} ms   (n={len(ms)})"
    )


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "unknown RAM"
    return (
        f"{os.cpu_count()} CPU ({model}), {memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def module_at(commit: str, path: str, name: str) -> ModuleType:
    """The module `path` as it was at `commit`, loaded under `name` in this
    process: a benchmark's baseline is the old code from git, not a copy."""
    source = run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"]).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{commit}:{path}", "exec"), module.__dict__)  # noqa: S102 - our own source at a commit
    return module


def against_tree(
    script: str,
    tree_variable: str,
    var: Path,
    tree: Path,
    runs: int,
    argv: list[str],
    *,
    copy_var: bool = True,
) -> None:
    """Alternate whole runs of `script` (with `argv` and `--quiet`) between
    TREE's code and this tree's: the script reads TREE's root from
    `tree_variable` ("" for this tree). Each run gets a copy of the seeded
    var folder when `copy_var` (an SQLite database lives in it)."""
    print(f"machine:  {machine()}")
    for n in range(runs):
        for name, code in ((f"before ({tree})", str(tree)), ("after (this tree)", "")):
            with tempfile.TemporaryDirectory(prefix="safeward-against-") as scratch:
                folder = var
                if copy_var:
                    folder = Path(scratch) / "var"
                    shutil.copytree(var, folder)
                load = os.getloadavg()[0]
                result = subprocess.run(
                    [sys.executable, script, "--var", str(folder), *argv, "--quiet"],
                    env=dict(os.environ, **{tree_variable: code}),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode != 0:
                    raise SystemExit(result.stderr[-3000:])
                print(f"run {n + 1}, {name}, load {load:.2f}")
                print(result.stdout.rstrip())
