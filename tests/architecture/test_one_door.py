"""One door to patient data, enforced by machine: parse every module under
safeward/ and fail when anything but the clinical gateway imports the PHI
models or the decryption API (`reveal`, `decrypt_field`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "safeward"
PHI_MODULE = "safeward.clinical.models"
DECRYPTION_NAMES = {"reveal", "decrypt_field"}

# Who may: the gateway package; the models themselves and their migrations;
# the crypto app, which implements the fields (and re-encrypts during rotation).
ALLOWED_PREFIXES = ("safeward/clinical/gateway/", "safeward/clinical/migrations/", "safeward/crypto/")
ALLOWED_FILES = {"safeward/clinical/models.py"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _allowed(path: Path) -> bool:
    rel = _relative(path)
    return rel in ALLOWED_FILES or rel.startswith(ALLOWED_PREFIXES)


def violations(source: str) -> list[str]:
    """What in this module's source touches PHI models or decryption."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if a.name.startswith(PHI_MODULE)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = {a.name for a in node.names}
            if module.startswith(PHI_MODULE) or (module == "safeward.clinical" and "models" in names):
                found.append(f"imports {module} {sorted(names)}")
            if names & DECRYPTION_NAMES:
                found.append(f"imports {sorted(names & DECRYPTION_NAMES)} from {module}")
        elif isinstance(node, ast.Attribute) and node.attr in DECRYPTION_NAMES:
            found.append(f"uses .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in DECRYPTION_NAMES:
            found.append(f"uses {node.id}")
        elif isinstance(node, ast.Call) and _is_get_model_of_clinical(node):
            found.append("apps.get_model('clinical', ...)")
    return found


def _is_get_model_of_clinical(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name != "get_model" or not node.args:
        return False
    first = node.args[0]
    return isinstance(first, ast.Constant) and str(first.value).split(".")[0] == "clinical"


def test_only_the_gateway_touches_phi_models_or_decryption():
    offenders = {}
    for path in _modules():
        if _allowed(path):
            continue
        found = violations(path.read_text(encoding="utf-8"))
        if found:
            offenders[_relative(path)] = found
    assert not offenders, f"Only safeward/clinical/gateway/ may touch PHI models or decrypt: {offenders}"


def test_the_scan_covers_the_codebase():
    scanned = [p for p in _modules() if not _allowed(p)]
    assert len(scanned) > 50
    assert any(_relative(p) == "safeward/clinical/views.py" for p in scanned)


@pytest.mark.parametrize(
    "source",
    [
        "from safeward.clinical.models import Patient",
        "from safeward.clinical import models",
        "import safeward.clinical.models as m",
        "from safeward.crypto.fields import decrypt_field",
        "x = patient.family_name.reveal()",
        "apps.get_model('clinical', 'Patient')",
        "apps.get_model('clinical.Patient')",
    ],
)
def test_the_checker_catches(source):
    assert violations(source)


def test_the_checker_lets_ordinary_code_pass():
    assert (
        violations("from safeward.clinical import gateway\nfrom safeward.clinical.types import Chart") == []
    )
