"""Ed25519 signatures over seals, checkpoints and archives.

The audit trail needs only three things from a signer, written down as the
`SealSigner` protocol: sign bytes (returning the key id), verify a signature
by key id, and export public keys for offline verification. By default the
crypto app's keyring signs (`safeward.crypto.signing`, the key held like the
other keys); `SAFEWARD_AUDIT_SIGNER=local` uses a local Ed25519 key file
(mode 0600 under SAFEWARD_KEY_DIR) instead, and `PublicKeyVerifier` is what
an offline verifier holds."""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from safeward.audit import conf
from safeward.config import env


@runtime_checkable
class SealSigner(Protocol):
    def sign(self, data: bytes) -> tuple[str, bytes]: ...

    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool: ...

    def public_keys_pem(self) -> dict[str, str]: ...


def key_id_for(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


class PublicKeyVerifier:
    """Verifies with public keys only: what an offline verifier holds."""

    def __init__(self, keys: dict[str, Ed25519PublicKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_pem(cls, pems: list[bytes]) -> PublicKeyVerifier:
        keys: dict[str, Ed25519PublicKey] = {}
        for pem in pems:
            key = serialization.load_pem_public_key(pem)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("the audit seal key must be an Ed25519 public key")
            keys[key_id_for(key)] = key
        return cls(keys)

    def sign(self, data: bytes) -> tuple[str, bytes]:
        raise RuntimeError("an offline verifier holds no private key")

    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool:
        # Key ids are labels (the crypto app names its keys differently); an
        # unknown label is tried against every trusted key.
        key = self._keys.get(key_id)
        for candidate in [key] if key is not None else list(self._keys.values()):
            try:
                candidate.verify(signature, data)
            except InvalidSignature:
                continue
            return True
        return False

    def public_keys_pem(self) -> dict[str, str]:
        return {
            key_id: key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii")
            for key_id, key in self._keys.items()
        }


class LocalEd25519Signer(PublicKeyVerifier):
    """One Ed25519 key in a PEM file (PKCS#8), readable by the service only."""

    def __init__(self, path: Path, *, create: bool) -> None:
        if not path.exists():
            if not create:
                raise ImproperlyConfigured(
                    f"The audit seal key {path} does not exist. Create it with "
                    "`safeward audit seal-key` (or configure safeward.crypto.signing)."
                )
            self.generate(path)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ImproperlyConfigured(f"{path} does not hold an Ed25519 private key.")
        self._private = loaded
        self.key_id = key_id_for(loaded.public_key())
        super().__init__({self.key_id: loaded.public_key()})

    @staticmethod
    def generate(path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)

    def sign(self, data: bytes) -> tuple[str, bytes]:
        return self.key_id, self._private.sign(data)


class CryptoAppSigner:
    """Adapter over safeward.crypto.signing: `sign(data) -> (key_id,
    signature)`, `verify(data, signature, *, key_id)` raising on failure,
    `public_keys() -> {key_id: pem}`; the key is held in the keyring."""

    def __init__(self, module: Any, *, keys: Any | None = None) -> None:
        self._module = module
        # `keys`: the module's KeyCache for one run, or None to look each key up.
        self._verify = keys.verify if keys is not None else module.verify

    def with_key_cache(self) -> CryptoAppSigner:
        """This signer with each public key read once: for one run."""
        return CryptoAppSigner(self._module, keys=self._module.KeyCache())

    def sign(self, data: bytes) -> tuple[str, bytes]:
        key_id, signature = self._module.sign(data)
        return str(key_id), bytes(signature)

    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool:
        try:
            self._verify(data, signature, key_id=key_id)
        except Exception:  # SignatureError, an unknown key...: not verified
            return False
        return True

    def public_keys_pem(self) -> dict[str, str]:
        return {str(key): str(value) for key, value in self._module.public_keys().items()}


_signer: SealSigner | None = None


def _crypto_signing() -> Any | None:
    """The keyring's signer unless SAFEWARD_AUDIT_SIGNER=local."""
    choice = getattr(settings, "SAFEWARD_AUDIT_SIGNER", None) or env.string("SAFEWARD_AUDIT_SIGNER", "crypto")
    if choice == "local":
        return None
    try:
        return importlib.import_module("safeward.crypto.signing")
    except ImportError:
        return None


def get_signer() -> SealSigner:
    global _signer
    if _signer is None:
        module = _crypto_signing()
        if module is not None:
            _signer = CryptoAppSigner(module)
        else:
            _signer = LocalEd25519Signer(conf.seal_key_file(), create=not settings.PRODUCTION)
    return _signer


def for_one_run(signer: SealSigner) -> SealSigner:
    """`signer` for checking many signatures in one run (audit verification):
    the keyring's signer reads each public key from the database once instead
    of once a signature. Key-file and public-key verifiers hold their keys
    already; other signers are used as they are."""
    return signer.with_key_cache() if isinstance(signer, CryptoAppSigner) else signer


def install(signer: SealSigner | None) -> SealSigner | None:
    """Replace the process signer (tests); returns the previous one."""
    global _signer
    previous, _signer = _signer, signer
    return previous
