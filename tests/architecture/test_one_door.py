"""One door to patient data, enforced by machine (the static half; the
runtime half is tests/one_door.py). Parse every module and template under
safeward/ and fail when anything but the clinical gateway reaches the PHI
models, the clinical tables or decryption, by any of these routes:

* an import of `safeward.clinical.models`, absolute or relative;
* `importlib.import_module` / `__import__` / `import_string`, or any string
  naming the models module (e.g. `sys.modules[...]`);
* `apps.get_model("clinical", ...)`, `get_model("clinical.X")`,
  `get_model(app_label="clinical", ...)`, `apps.get_app_config("clinical")`;
* raw SQL: a string naming a clinical table;
* `getattr(<safeward.clinical>, "models")`, `<safeward.clinical>.models`,
  and `getattr(x, "reveal")`-style lookups of a decryption name;
* the gateway's private machinery: `gateway._core` and its decrypt helper `plain`,
  `gateway._relationships` (reads and decrypts the rows of a care relationship);
* the crypto app's decryption API (`reveal`, `decrypt_field`, the keyring,
  `decrypt_stream`, `decrypt_to_path`, `reencrypt_stream`, `decrypt_secret`,
  `reseal_secret`) outside the gateway and crypto, except the listed uses
  that decrypt no patient data;
* templates that call `reveal`, decrypt, or show ciphertext or blind indexes.

Each route has a planted bypass below that the checker must catch (ADR 0546)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.one_door import clinical_tables

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "safeward"
PHI_MODULE = "safeward.clinical.models"
CLINICAL = "safeward.clinical"
GATEWAY = "safeward.clinical.gateway"
GATEWAY_PRIVATE = (f"{GATEWAY}._core", f"{GATEWAY}._relationships")
GATEWAY_DECRYPT_HELPER = "plain"
FIELD_DECRYPTION = {"reveal", "decrypt_field", "decrypt_stored"}
CRYPTO_DECRYPTION = {
    "decrypt_stream",
    "decrypt_to_path",
    "reencrypt_stream",
    "decrypt_secret",
    "reseal_secret",
}
CRYPTO_KEYRING = "safeward.crypto.keyring"
MODULE_LOADERS = {"import_module", "__import__", "import_string"}

# Who may touch the PHI models and tables: the gateway, the models and their migrations.
PHI_ALLOWED_PREFIXES = ("safeward/clinical/gateway/", "safeward/clinical/migrations/")
PHI_ALLOWED_FILES = {"safeward/clinical/models.py"}
# Who may decrypt: the gateway and the crypto app (which implements it) ...
# (The service-dates migration decrypts to move encrypted times back when reversed.)
DECRYPT_ALLOWED_PREFIXES = ("safeward/clinical/gateway/", "safeward/crypto/", "safeward/clinical/migrations/")
# ... and these uses of crypto's secret and stream API, none of which holds patient data.
DECRYPT_ALLOWED_USES = {
    "safeward/identity/adapters.py": {"decrypt_secret"},  # MFA secrets (allauth adapter)
    "safeward/fhir/cursor.py": {"decrypt_secret"},  # FHIR paging cursors
    # The visitor desk's patient references: a patient's opaque id, the user, an expiry (ADR 1115).
    "safeward/facilities/patient_refs.py": {"decrypt_secret"},
    "safeward/incidents/notifications.py": {"decrypt_secret"},  # notification channel secrets
    "safeward/audit/archive.py": {"decrypt_stream", "decrypt_to_path"},  # sealed audit archives
    # Incident evidence: files an officer brought in (disk images, logs), opaque to SafeWard,
    # released hash-checked with each download in the chain of custody and the audit trail.
    "safeward/incidents/case_services.py": {"decrypt_stream"},
    "safeward/continuity/services.py": {"decrypt_stream"},  # backups: verify and restore, never shown
    # Files vendors give us (signed BAAs, questionnaire evidence): no patient data,
    # released hash-checked and audited.
    "safeward/vendors/sealed_files.py": {"decrypt_stream"},
    "safeward/assessments/campaign_services.py": {"reveal"},  # assessment evidence files (NOT_PHI)
}


def _module_name(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module a relative `from ... import` names."""
    if not level:
        return target or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _text(node: ast.AST) -> str | None:
    """A string the code spells out: a constant, a concatenation or an f-string of constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = [_text(value) for value in node.values]
        return "".join(parts) if all(part is not None for part in parts) else None  # type: ignore[arg-type]
    return None


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


_TABLES: re.Pattern[str] = re.compile(
    r"\b(" + "|".join(sorted(clinical_tables(), key=len, reverse=True)) + r")\b"
)


@dataclass
class Checker:
    rel: str = "safeward/elsewhere.py"
    tables: re.Pattern[str] = field(default_factory=lambda: _TABLES)
    found: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> module it is bound to

    @property
    def phi_allowed(self) -> bool:
        return self.rel in PHI_ALLOWED_FILES or self.rel.startswith(PHI_ALLOWED_PREFIXES)

    @property
    def decrypt_allowed(self) -> bool:
        return self.rel.startswith(DECRYPT_ALLOWED_PREFIXES)

    def _phi(self, message: str) -> None:
        if not self.phi_allowed:
            self.found.append(message)

    def _decrypt(self, name: str, message: str) -> None:
        if not self.decrypt_allowed and name not in DECRYPT_ALLOWED_USES.get(self.rel, set()):
            self.found.append(message)

    def _module(self, name: str, how: str) -> None:
        if name == PHI_MODULE or name.startswith(PHI_MODULE + "."):
            self._phi(f"{how} {name}")
        if any(name == private or name.startswith(private + ".") for private in GATEWAY_PRIVATE):
            self._decrypt(GATEWAY_DECRYPT_HELPER, f"{how} the gateway's private {name}")
        if name == CRYPTO_KEYRING:
            self._decrypt("keyring", f"{how} {name} (raw decryption)")

    def _name(self, name: str, how: str) -> None:
        if name in FIELD_DECRYPTION | CRYPTO_DECRYPTION:
            self._decrypt(name, f"{how} {name}")

    def check(self, source: str) -> list[str]:
        tree = ast.parse(source)
        module = _module_name(self.rel)
        is_package = self.rel.endswith("__init__.py")
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._module(alias.name, "imports")
                    self.aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
            elif isinstance(node, ast.ImportFrom):
                source_module = _resolve(module, is_package, node.level, node.module)
                self._module(source_module, "imports from")
                for alias in node.names:
                    full = f"{source_module}.{alias.name}"
                    self._module(full, "imports")
                    self._name(alias.name, f"imports from {source_module}")
                    if alias.name == GATEWAY_DECRYPT_HELPER and source_module.startswith(GATEWAY):
                        self._decrypt(
                            alias.name, f"imports the gateway's decrypt helper from {source_module}"
                        )
                    self.aliases[alias.asname or alias.name] = full
            elif isinstance(node, ast.Attribute):
                self._name(node.attr, "uses .")
                dotted = _dotted(node)
                if dotted:
                    head, _, rest = dotted.partition(".")
                    resolved = f"{self.aliases.get(head, head)}.{rest}" if rest else dotted
                    self._module(resolved, "reaches")
            elif isinstance(node, ast.Name):
                self._name(node.id, "uses")
            elif isinstance(node, ast.Call):
                self._call(node)
            elif (
                isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            ):
                self._string(node.value)
            elif isinstance(node, ast.BinOp | ast.JoinedStr):
                text = _text(node)
                if text is not None:
                    self._string(text)
        return self.found

    def _string(self, text: str) -> None:
        if text == PHI_MODULE or text.startswith(PHI_MODULE + "."):
            self._phi(f"names the module {text!r}")
        table = self.tables.search(text)
        if table:
            self._phi(f"SQL naming the clinical table {table.group(1)}")

    def _call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        args = [_text(arg) for arg in node.args]
        keywords = {kw.arg: _text(kw.value) for kw in node.keywords if kw.arg}
        if name in MODULE_LOADERS and args and args[0]:
            self._module(args[0], f"loads with {name}")
        if name in {"get_model", "get_app_config"}:
            label = keywords.get("app_label") or (args[0] if args else None)
            if label is not None and label.split(".")[0] == "clinical":
                self._phi(f"{name}({label!r})")
        if name == "getattr" and len(node.args) >= 2:
            target, attribute = _dotted(node.args[0]), args[1]
            if attribute is not None:
                self._name(attribute, "getattr")
                if target is not None:
                    head, _, rest = target.partition(".")
                    resolved = f"{self.aliases.get(head, head)}{'.' + rest if rest else ''}"
                    self._module(f"{resolved}.{attribute}", "getattr reaches")


def violations(source: str, rel: str = "safeward/elsewhere.py") -> list[str]:
    """What in this module's source reaches PHI models, clinical tables or decryption."""
    return Checker(rel=rel).check(source)


# --- templates ------------------------------------------------------------------------------------
def _ciphertext_names() -> set[str]:
    from django.apps import apps

    from safeward.crypto.fields import EncryptedField

    names = set()
    for model in apps.get_app_config("clinical").get_models():
        for model_field in model._meta.get_fields():
            internal = getattr(model_field, "get_internal_type", lambda: "")()
            derived = not isinstance(model_field, EncryptedField) and internal in {"BinaryField", "TextField"}
            if derived and model_field.name.endswith(("_index", "_prefixes")):
                names.add(model_field.name)
    return names


TEMPLATE_DECRYPTION = re.compile(r"\.(reveal|decrypt\w*|ciphertext|sealed)\b")


def template_violations(text: str, ciphertext_names: set[str]) -> list[str]:
    found = [f"template uses .{m.group(1)}" for m in TEMPLATE_DECRYPTION.finditer(text)]
    for name in ciphertext_names:
        if re.search(rf"\.{re.escape(name)}\b", text):
            found.append(f"template shows the blind index {name}")
    return found


# --- the scan -------------------------------------------------------------------------------------
def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_only_the_gateway_touches_phi_models_tables_or_decryption():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = _relative(path)
        found = violations(path.read_text(encoding="utf-8"), rel)
        if found:
            offenders[rel] = found
    assert not offenders, f"Only safeward/clinical/gateway/ may touch PHI models or decrypt: {offenders}"


def test_no_template_decrypts_or_shows_ciphertext(db):
    names = _ciphertext_names()
    offenders = {}
    for path in sorted(PACKAGE.rglob("templates/**/*.html")):
        found = template_violations(path.read_text(encoding="utf-8"), names)
        if found:
            offenders[_relative(path)] = found
    assert not offenders, offenders


def test_the_scan_covers_the_codebase():
    scanned = [p for p in PACKAGE.rglob("*.py") if not Checker(rel=_relative(p)).phi_allowed]
    assert len(scanned) > 50
    assert any(_relative(p) == "safeward/clinical/views.py" for p in scanned)
    assert any(_relative(p).startswith("safeward/crypto/") for p in scanned)
    assert len(list(PACKAGE.rglob("templates/**/*.html"))) > 20
    assert {"clinical_patient", "clinical_encounter"} <= clinical_tables()


# --- planted bypasses: each must be caught ------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "rel"),
    [
        # absolute imports
        ("from safeward.clinical.models import Patient", "safeward/web/views.py"),
        ("from safeward.clinical import models", "safeward/web/views.py"),
        ("import safeward.clinical.models as m", "safeward/web/views.py"),
        # relative imports
        ("from .models import Patient", "safeward/clinical/views.py"),
        ("from . import models", "safeward/clinical/views.py"),
        ("from ..models import Patient", "safeward/clinical/management/helpers.py"),
        ("from ...clinical.models import Patient", "safeward/fhir/sub/x.py"),
        # importlib and friends
        ("importlib.import_module('safeward.clinical.models')", "safeward/web/views.py"),
        ("import_module('safeward.clinical' + '.models')", "safeward/web/views.py"),
        ("__import__('safeward.clinical.models')", "safeward/web/views.py"),
        ("import_string('safeward.clinical.models.Patient')", "safeward/web/views.py"),
        ("sys.modules['safeward.clinical.models'].Patient", "safeward/web/views.py"),
        # the app registry
        ("apps.get_model('clinical', 'Patient')", "safeward/web/views.py"),
        ("apps.get_model('clinical.Patient')", "safeward/web/views.py"),
        ("apps.get_model(app_label='clinical', model_name='Patient')", "safeward/web/views.py"),
        ("apps.get_app_config('clinical').get_models()", "safeward/web/views.py"),
        # raw SQL
        ("cursor.execute('SELECT family_name FROM clinical_patient')", "safeward/web/views.py"),
        ('cursor.execute(f"DELETE FROM clinical_encounter WHERE id = %s", [x])', "safeward/web/views.py"),
        ("sql = 'SELECT * FROM ' + 'clinical_clinicalnote'", "safeward/audit/export.py"),
        # getattr tricks
        ("from safeward import clinical\nm = getattr(clinical, 'models')", "safeward/web/views.py"),
        ("import safeward.clinical\nsafeward.clinical.models.Patient", "safeward/web/views.py"),
        ("getattr(patient.family_name, 'reveal')()", "safeward/web/views.py"),
        ("getattr(fields, 'decrypt_' + 'field')(p, 'mrn')", "safeward/web/views.py"),
        # the gateway's private decrypt helper
        ("from safeward.clinical.gateway._core import plain", "safeward/clinical/views.py"),
        ("from safeward.clinical.gateway import _core\n_core.plain(p, 'mrn')", "safeward/clinical/views.py"),
        ("from .gateway._core import Patient", "safeward/clinical/views.py"),
        ("from safeward.clinical.gateway import _relationships", "safeward/detection/x.py"),
        ("from safeward.clinical.gateway._relationships import collect", "safeward/web/x.py"),
        # decryption, in any app (crypto's own API included)
        ("from safeward.crypto.fields import decrypt_field", "safeward/web/views.py"),
        ("from safeward.crypto.fields import decrypt_stored", "safeward/web/views.py"),
        ("x = patient.family_name.reveal()", "safeward/web/views.py"),
        (
            "from safeward.crypto.keyring import keyring\nkeyring().open(blob, associated_data=b'')",
            "safeward/web/x.py",
        ),
        (
            "from safeward.crypto import streams\nstreams.decrypt_stream(a, b, associated_data=c)",
            "safeward/web/x.py",
        ),
        ("from safeward.crypto.secrets import decrypt_secret", "safeward/audit/views.py"),
        ("from safeward.crypto.streams import decrypt_to_path", "safeward/fhir/views.py"),
        # the crypto app is scanned for the PHI routes too
        ("from safeward.clinical.models import Patient", "safeward/crypto/stores.py"),
    ],
)
def test_the_checker_catches(source, rel):
    assert violations(source, rel), source


@pytest.mark.parametrize(
    "template",
    [
        "{{ patient.family_name.reveal }}",
        "{{ row.decrypt }}",
        "{{ patient.mrn.ciphertext }}",
        "{{ patient.national_id_index }}",
    ],
)
def test_the_template_check_catches(db, template):
    assert template_violations(template, _ciphertext_names())


def test_the_checker_lets_ordinary_code_pass():
    ordinary = (
        "'''Reads clinical_patient through the gateway.'''\n"
        "from safeward.clinical import gateway\nfrom safeward.clinical.types import Chart\n"
        "gateway.patient_read(actor=a, session=s, purpose=p, patient_id=x)\n"
        "from .forms import NoteForm\n"
        "getattr(settings, 'SAFEWARD_MODELS', None)\n"
    )
    assert violations(ordinary, "safeward/clinical/views.py") == []
    assert violations("from safeward.crypto.secrets import decrypt_secret", "safeward/fhir/cursor.py") == []
    assert violations("from .models import Patient", "safeward/clinical/gateway/_x.py") == []
    assert template_violations("{{ patient.family_name }} {{ view.mrn }}", _ciphertext_names()) == []
