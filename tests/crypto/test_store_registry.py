"""Every kind of ciphertext SafeWard writes belongs to a registered store, so
key rotation re-encrypts it and retirement counts it (issue 11 item 2).

A new encrypted kind (a model field, a stream-encrypted file, a sealed secret,
or encryption straight with a primitive) that no store owns fails here, and
encrypting it at run time is refused."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

import safeward
from safeward.crypto.errors import UnregisteredCiphertext
from safeward.crypto.fields import BlindIndexField, BlindPrefixField, EncryptedField, encrypted_fields
from safeward.crypto.registry import registered_stores
from safeward.crypto.secrets import encrypt_secret
from safeward.crypto.stores import BlindIndexStore, ModelStore, all_stores
from safeward.crypto.streams import encrypt_stream

ROOT = Path(safeward.__file__).parent
# The crypto app's own modules that implement the APIs below.
IMPLEMENTATION = {
    "safeward.crypto.fields",
    "safeward.crypto.keyring",
    "safeward.crypto.providers",
    "safeward.crypto.secrets",
    "safeward.crypto.signing",
    "safeward.crypto.stores",
    "safeward.crypto.streams",
}
# Calls that create ciphertext (or a stored blind-index value) for a store: the
# calling module must be one of its writers.
WRITING_CALLS = {"encrypt_stream", "encrypt_secret", "new_encrypting_stream", "compute_blind_index"}
# Encryption that bypasses the keyring entirely: nothing could rotate it.
RAW_PRIMITIVES = {"AESGCM", "AESGCMSIV", "ChaCha20Poly1305", "AESSIV", "AESOCB3", "AESCCM", "Fernet"}
RAW_MODULES = ("tink.aead", "tink.streaming_aead", "tink.daead", "tink.hybrid", "cryptography.fernet")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def encryption_sites(source: str, module: str) -> list[tuple[str, int, str]]:
    """(module, line, what) for every call that writes ciphertext and every use
    of a raw encryption primitive or Tink module in `source`."""
    sites = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in WRITING_CALLS or name in RAW_PRIMITIVES:
                sites.append((module, node.lineno, name))
            elif name == "seal" and isinstance(func, ast.Attribute):
                sites.append((module, node.lineno, "keyring seal"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported = [f"{node.module}.{alias.name}" for alias in node.names]
            if any(name.startswith(RAW_MODULES) or name in RAW_MODULES for name in [node.module, *imported]):
                sites.append((module, node.lineno, f"import from {node.module}"))
        elif isinstance(node, ast.Import) and any(alias.name.startswith(RAW_MODULES) for alias in node.names):
            sites.append((module, node.lineno, "import of a Tink/Fernet module"))
    return sites


# Keyed tags that no store holds: nothing looks them up after a key rotation,
# so no store needs to move them and none may block a retirement.
EPHEMERAL_TAGS = {
    # The search event's 2-byte name tag (ADR 0728): compared with other searches
    # of the same detection window only; sealed in the audit detail as it was.
    ("safeward.clinical.gateway._patients", "compute_blind_index"),
    # The PHI discovery scanner's probes (ADR 0810): a stray file's identifiers
    # keyed under every usable key, looked up at once and never stored.
    ("safeward.assets.discovery_services", "compute_blind_index"),
}

# Encryption to a key SafeWard does not hold, so no keyring rotation applies:
# downtime kits are sealed to each ward's workstation public key (Tink hybrid,
# ADR 1502); the private half lives only on the workstation.
OUTSIDE_KEYS = {"safeward.continuity.kits", "safeward.continuity.offline"}


def unowned(sites: list[tuple[str, int, str]], writers: set[str]) -> list[str]:
    def owned(module: str) -> bool:
        return any(module == writer or module.startswith(writer + ".") for writer in writers)

    return [
        f"{module}:{line} ({what})"
        for module, line, what in sites
        if module not in IMPLEMENTATION
        and module not in OUTSIDE_KEYS
        and (module, what) not in EPHEMERAL_TAGS
        and not (owned(module) and what in WRITING_CALLS)  # a writer may only go through the APIs
    ]


def project_sites() -> list[tuple[str, int, str]]:
    sites = []
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        sites.extend(encryption_sites(path.read_text(encoding="utf-8"), _module_name(path)))
    return sites


def all_writers() -> set[str]:
    return {writer for store in registered_stores() for writer in store.writers}


def test_every_site_that_encrypts_belongs_to_a_registered_store():
    sites = project_sites()
    assert any(what == "encrypt_stream" for _, _, what in sites)  # the scan sees the document upload
    assert unowned(sites, all_writers()) == []


def test_the_scan_fails_on_an_unregistered_kind():
    new_kind = (
        "from safeward.crypto.streams import encrypt_stream\n"
        "def backup(src, dst):\n"
        "    encrypt_stream(src, dst, associated_data=b'continuity.backup|1')\n"
    )
    raw = "from cryptography.hazmat.primitives.ciphers.aead import AESGCM\nAESGCM(key).encrypt(n, d, None)\n"
    sites = encryption_sites(new_kind, "safeward.continuity.backups") + encryption_sites(
        raw, "safeward.vendors.tokens"
    )
    assert unowned(sites, all_writers()) == [
        "safeward.continuity.backups:3 (encrypt_stream)",
        "safeward.vendors.tokens:2 (AESGCM)",
    ]
    assert unowned(sites[:1], {*all_writers(), "safeward.continuity.backups"}) == []


def test_every_encrypted_field_and_blind_index_has_a_store():
    stores = all_stores()
    covered = {field for store in stores if isinstance(store, ModelStore) for field in store.fields}
    assert set(encrypted_fields()) <= covered
    assert {f for f in encrypted_fields() if f.model._meta.app_label == "clinical"}  # the scan is not empty
    indexes = {field for store in stores if isinstance(store, BlindIndexStore) for field in store.fields}
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, BlindIndexField | BlindPrefixField):
                assert field in indexes, field
            if isinstance(field, EncryptedField):
                assert field in covered, field


def test_the_document_and_archive_stores_are_registered():
    labels = {store.label for store in registered_stores()}
    assert {"clinical.document files", "audit archives"} <= labels


def test_encrypting_an_unregistered_kind_is_refused():
    with pytest.raises(UnregisteredCiphertext):
        encrypt_stream(io.BytesIO(b"x"), io.BytesIO(), associated_data=b"nobody.owns.this|1")
    with pytest.raises(UnregisteredCiphertext):
        encrypt_secret("value", purpose="vendor-api-key")
