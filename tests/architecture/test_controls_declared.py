"""Every control test the apps declare (issue 18, ADR 0920) is itself
tested, named after its app, reads only what its app may read, and runs
on an empty database.

Each `tests/<app>/test_controls.py` says which of its tests see a control
fail on a seeded violation and which see it pass without it, in a module
constant: `COVERED_CONTROLS = {control id: (fail test, pass test)}`."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from safeward.compliance import discover
from tests.architecture.test_app_graph import PACKAGE, ROOT, _app_of, _apps, documented_graph, imports_of

TESTS = ROOT / "tests"
# Other apps' modules a controls.py may import besides their selectors: constants only.
CONSTANT_MODULES = {"vocabulary", "permissions"}


def _covered() -> dict[str, tuple[str, str, str]]:
    """control id -> (test module, fail test, pass test), from every
    tests/<app>/test_*controls.py. A single name is one test that sees the
    control fail on its violation and pass once the violation is removed."""
    found: dict[str, tuple[str, str, str]] = {}
    for path in sorted(TESTS.glob("*/test_*controls.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.{path.stem}")
        for control_id, tests in getattr(module, "COVERED_CONTROLS", {}).items():
            fail, passing = (tests, tests) if isinstance(tests, str) else tests
            assert control_id not in found, f"{control_id} is covered twice"
            found[control_id] = (module.__name__, fail, passing)
    return found


def test_every_control_has_a_fail_test_and_a_pass_test():
    covered = _covered()
    controls = discover()
    assert controls, "no control test is declared"
    missing = sorted(set(controls) - set(covered))
    assert not missing, f"controls without a fail and a pass test (COVERED_CONTROLS): {missing}"
    unknown = sorted(set(covered) - set(controls))
    assert not unknown, f"COVERED_CONTROLS names controls nobody declares: {unknown}"
    for control_id, (module_name, fail, passing) in covered.items():
        module = importlib.import_module(module_name)
        assert module_name.startswith(f"tests.{controls[control_id].app}.test_"), (
            f"{control_id} is tested outside tests/{controls[control_id].app}/"
        )
        for name in (fail, passing):
            function = getattr(module, name, None)
            assert name.startswith("test_"), f"{module_name}.{name} is no test"
            assert inspect.isfunction(function), f"{module_name}.{name} is missing"


def test_every_control_id_starts_with_its_app():
    for control_id, test in discover().items():
        module = test.function.__module__
        # An app may split its controls: safeward/<app>/<part>_controls.py, imported by its controls.py.
        split = module.startswith(f"safeward.{test.app}.") and module.endswith("_controls")
        assert module == f"safeward.{test.app}.controls" or split, (
            f"{control_id} is declared in {test.function.__module__}, not in safeward/{test.app}/controls.py"
        )


def _controls_files() -> list[Path]:
    return sorted([*PACKAGE.glob("*/controls.py"), *PACKAGE.glob("*/*_controls.py")])


def _file_id(path: Path) -> str:
    return path.parent.name if path.stem == "controls" else f"{path.parent.name}.{path.stem}"


@pytest.mark.parametrize("path", _controls_files(), ids=_file_id)
def test_controls_read_only_what_their_app_may(path):
    """Own app (never its services: a control writes nothing), the apps the
    graph allows it, and of those only their selectors and constants."""
    apps = _apps()
    app = path.parent.name
    allowed = documented_graph().get(app, set())
    module = f"safeward.{app}.{path.stem}"
    problems = []
    for target, names in imports_of(path.read_text(encoding="utf-8"), module, False):
        parts = target.split(".")
        other = _app_of(target, apps)
        submodule = parts[2] if len(parts) > 2 else None
        if other is None:
            continue
        if other == app:
            if submodule == "services" or (submodule is None and "services" in names):
                problems.append(f"{target}: a control test writes nothing")
            continue
        if other not in allowed:
            problems.append(f"{target}: {app} may not import {other} (docs/architecture.md)")
        elif submodule is None:
            problems += [f"{target}.{n}: not a selectors module" for n in names if n not in {"selectors"}]
        elif submodule != "selectors" and submodule not in CONSTANT_MODULES:
            problems.append(f"{target}: only another app's selectors and constants")
    assert not problems, problems


def test_the_import_check_sees_a_forbidden_import(tmp_path):
    """The check above is not vacuous: a services import and an import of an
    app outside the graph are both reported."""
    source = "from safeward.identity import services\nfrom safeward.clinical.models import Patient\n"
    found = imports_of(source, "safeward.identity.controls", False)
    assert ("safeward.identity", ("services",)) in found
    assert _app_of("safeward.clinical.models", _apps()) == "clinical"
    assert "clinical" not in documented_graph()["identity"]


@pytest.mark.django_db
@pytest.mark.parametrize("control_id", sorted(discover()))
def test_every_control_runs_on_an_empty_database(control_id):
    from safeward import clock

    checks = discover()[control_id].run(clock.now())
    assert isinstance(checks, list)
