"""The app dependency graph (issue 11, item 20; ADRs 0548, 0562, 0566).

Built from every import in every module of every app (module level,
function level and `TYPE_CHECKING` alike: a lazy import is still a
dependency). It must match the allowed graph written in docs/architecture.md
(the table between `<!-- table:app-graph -->` markers), have no cycle, and
no app may import another app's `models` except as `ALLOWED_MODEL_IMPORTS` says."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "safeward"
DOC = ROOT / "docs" / "architecture.md"

# (importing app, models module's app) -> the names it may import, and why.
# `identity.models.User` is the account model: every app may name it.
ALLOWED_MODEL_IMPORTS: dict[tuple[str, str], set[str]] = {
    # The worker reads the audit stream (ADR 0700) and its per-patient index (ADR 0208).
    ("detection", "audit"): {"AuditEvent", "AuditEventPatient"},
    ("incidents", "detection"): {"Alert"},  # incidents are opened from alerts
    ("detection", "identity"): {
        "DRILL_USERNAME_PREFIX",
        "Role",
        "RoleAssignment",
        "Department",
        "UserSession",
    },
    ("workforce", "identity"): {"DRILL_USERNAME_PREFIX", "Department", "Role", "RoleAssignment"},
    ("demo", "identity"): {"Department", "NetworkZone", "Role", "RoleAssignment"},  # seeds the demo hospital
}
EVERYONE_MAY_IMPORT = {("identity", "User")}


def _apps() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if (p / "apps.py").exists()}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool) -> list[tuple[str, tuple[str, ...]]]:
    """Every (module, names) imported anywhere in `source`, relative imports resolved."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            found.append((target, tuple(alias.name for alias in node.names)))
    return found


def _app_of(module: str, apps: set[str]) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "safeward" and parts[1] in apps else None


def models_looked_up(source: str) -> list[tuple[str, str]]:
    """Every (app label, model name) fetched from the app registry by literal
    name: `apps.get_model("identity", "Role")`, `get_model("identity.Role")`,
    keywords alike. A lookup by name reaches another app's model as an import does."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) != "get_model":
            continue
        args = [arg.value if isinstance(arg, ast.Constant) else None for arg in node.args]
        keywords = {kw.arg: getattr(kw.value, "value", None) for kw in node.keywords}
        label = keywords.get("app_label", args[0] if args else None)
        name = keywords.get("model_name", args[1] if len(args) > 1 else None)
        if isinstance(label, str) and name is None and "." in label:
            label, name = label.split(".", 1)
        if isinstance(label, str) and isinstance(name, str):
            found.append((label, name))
    return found


def build_graph(files: dict[str, str], apps: set[str]) -> tuple[dict[str, set[str]], list[str]]:
    """Edges between apps, and the imports of another app's models that are not allowed."""
    edges: dict[str, set[str]] = defaultdict(set)
    bad_models: list[str] = []
    for rel, source in files.items():
        module = _module_name(ROOT / rel)
        importer = _app_of(module, apps)
        if importer is None:
            continue
        # Migrations fetch the historical models of their dependencies; that is their job.
        if "/migrations/" not in rel:
            bad_models += [
                f"{rel}: get_model of {label}.{name}"
                for label, name in models_looked_up(source)
                if label in apps
                and label != importer
                and name not in ALLOWED_MODEL_IMPORTS.get((importer, label), set())
                and (label, name) not in EVERYONE_MAY_IMPORT
            ]
        for target, names in imports_of(source, module, rel.endswith("__init__.py")):
            app = _app_of(target, apps)
            if app is None or app == importer:
                continue
            edges[importer].add(app)
            models = f"safeward.{app}.models"
            if target == models and not names:
                bad_models.append(f"{rel}: the whole {models}")
            elif target == models:
                allowed = ALLOWED_MODEL_IMPORTS.get((importer, app), set())
                bad_models += [
                    f"{rel}: {models}.{name}"
                    for name in names
                    if name not in allowed and (app, name) not in EVERYONE_MAY_IMPORT
                ]
            elif target == f"safeward.{app}" and "models" in names:
                bad_models.append(f"{rel}: the whole {models}")
    return edges, bad_models


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one app (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(set(edges) | {n for targets in edges.values() for n in targets}):
        if node not in index:
            visit(node)
    return found


def documented_graph() -> dict[str, set[str]]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- table:app-graph -->")[1].split("<!-- /table -->")[0]
    allowed: dict[str, set[str]] = {}
    for line in table.strip().splitlines()[2:]:
        app, targets = (cell.strip() for cell in line.strip().strip("|").split("|")[:2])
        allowed[app.strip("`")] = set(re.findall(r"`(\w+)`", targets))
    return allowed


def _codebase() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


@pytest.fixture(scope="module")
def graph():
    return build_graph(_codebase(), _apps())


def test_the_app_graph_has_no_cycle(graph):
    edges, _ = graph
    assert cycles(edges) == [], "apps that import each other, directly or round a loop"


def test_the_graph_is_the_documented_one(graph):
    edges, _ = graph
    allowed = documented_graph()
    assert set(allowed) == _apps()
    undocumented = {
        app: sorted(targets - allowed[app]) for app, targets in edges.items() if targets - allowed[app]
    }
    assert not undocumented, f"imports not in docs/architecture.md's app graph: {undocumented}"
    unused = {
        app: sorted(allowed[app] - edges.get(app, set()))
        for app in allowed
        if allowed[app] - edges.get(app, set())
    }
    assert not unused, f"docs/architecture.md allows imports nobody makes (remove them): {unused}"


def test_apps_meet_through_services_and_selectors_not_models(graph):
    _, bad_models = graph
    assert not bad_models, bad_models


def test_the_clinical_gateway_reads_no_identity_model_but_the_account(graph):
    gateway = {
        rel: source for rel, source in _codebase().items() if rel.startswith("safeward/clinical/gateway/")
    }
    names = {
        name
        for rel, source in gateway.items()
        for target, imported in imports_of(source, _module_name(ROOT / rel), rel.endswith("__init__.py"))
        if target == "safeward.identity.models"
        for name in imported
    }
    assert names <= {"User"}


# --- the checker itself, on planted code ----------------------------------------------------------
def _planted(files: dict[str, str]) -> tuple[dict[str, set[str]], list[str]]:
    return build_graph(files, {"alpha", "beta", "gamma"})


def test_function_level_and_type_checking_imports_count():
    edges, _ = _planted(
        {
            "safeward/alpha/services.py": "def f():\n    from safeward.beta import services\n",
            "safeward/beta/views.py": "if TYPE_CHECKING:\n    from safeward.alpha.selectors import x\n",
        }
    )
    assert cycles(edges) == [frozenset({"alpha", "beta"})]


def test_relative_imports_resolve_to_their_app():
    edges, bad = _planted({"safeward/alpha/sub/mod.py": "from ...beta.models import Thing\n"})
    assert edges == {"alpha": {"beta"}}
    assert bad == ["safeward/alpha/sub/mod.py: safeward.beta.models.Thing"]


def test_a_longer_cycle_and_an_acyclic_graph():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []


def test_another_apps_models_module_is_caught():
    _, bad = _planted(
        {
            "safeward/alpha/views.py": "from safeward.beta import models\nimport safeward.gamma.models\n",
            "safeward/alpha/api.py": "from safeward.identity.models import User\n",
        }
    )
    assert bad == [
        "safeward/alpha/views.py: the whole safeward.beta.models",
        "safeward/alpha/views.py: the whole safeward.gamma.models",
    ]


def test_a_model_fetched_by_name_from_another_app_is_caught():
    _, bad = _planted(
        {
            "safeward/alpha/services.py": (
                "from django.apps import apps\n"
                "apps.get_model('beta', 'Thing')\n"
                "get_model('gamma.Other')\n"
                "apps.get_model(app_label='beta', model_name='Else')\n"
                "apps.get_model('alpha', 'Mine')\n"  # its own app
                "apps.get_model(label)\n"  # not a literal: the crypto stores' registry
            ),
            "safeward/alpha/migrations/0002_data.py": "apps.get_model('beta', 'Thing')\n",
        }
    )
    assert bad == [
        "safeward/alpha/services.py: get_model of beta.Thing",
        "safeward/alpha/services.py: get_model of gamma.Other",
        "safeward/alpha/services.py: get_model of beta.Else",
    ]
