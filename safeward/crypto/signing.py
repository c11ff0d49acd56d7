"""Ed25519 signatures for audit seals, checkpoints and exported archives.

    key_id, signature = sign(b"checkpoint 42 ...")        # ("sw-ed25519-1a2b3c4d", 64 bytes)
    verify(b"checkpoint 42 ...", signature, key_id=key_id)  # None, or raises SignatureError
    KeyCache().verify(...)  # the same, each public key read once (many signatures in one run)
    public_keys()        # {key_id: PEM}: every signing key ever used, retired ones included
    export_public_key()  # PEM of the primary signing key, for offline verifiers
    verify_offline(pem, data, signature)  # needs no database and no keyring

The private key is held like the other keys: a ``signing`` row of the
keyring, versioned, wrapped by the KEK. ``safeward keys rotate --purpose
signing`` starts a new version; old public keys stay in the table (and in
``public_keys()``) so old seals keep verifying after rotation, even once the
private half is retired and destroyed.
"""

from __future__ import annotations

import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from safeward.crypto.errors import CryptoError
from safeward.crypto.keyring import Purpose, keyring
from safeward.crypto.models import DataKey

KEY_ID_PREFIX = "sw-ed25519-"
_KEY_ID = re.compile(r"^sw-ed25519-([0-9a-f]{8})$")

__all__ = [
    "KeyCache",
    "SignatureError",
    "export_public_key",
    "public_keys",
    "sign",
    "verify",
    "verify_offline",
]


class SignatureError(CryptoError):
    """The signature does not verify, or names an unknown signing key."""


def _key_id_text(key_id: int) -> str:
    return f"{KEY_ID_PREFIX}{key_id:08x}"


def sign(data: bytes) -> tuple[str, bytes]:
    """Sign with the primary signing key; returns (key id, 64-byte signature)."""
    if not isinstance(data, bytes):
        raise TypeError("sign() takes bytes")
    key = keyring().primary(Purpose.SIGNING)
    return _key_id_text(key.key_id), key.signing_key().sign(data)


def _public_key(key_id: str) -> Ed25519PublicKey:
    match = _KEY_ID.match(key_id) if isinstance(key_id, str) else None
    if match is None:
        raise SignatureError(f"not a SafeWard signing key id: {key_id!r}")
    row = DataKey.objects.filter(purpose=Purpose.SIGNING, key_id=int(match.group(1), 16)).first()
    if row is None or not row.public_key:
        raise SignatureError(f"unknown signing key {key_id}")
    return Ed25519PublicKey.from_public_bytes(bytes(row.public_key))


def verify(data: bytes, signature: bytes, *, key_id: str) -> None:
    _verify_with(_public_key(key_id), data, signature, key_id)


def _verify_with(key: Ed25519PublicKey, data: bytes, signature: bytes, key_id: str) -> None:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise SignatureError(f"the signature does not verify under {key_id}") from None


class KeyCache:
    """`verify` for a run that checks many signatures (audit verification
    checks one a seal): each key id's public key is read from the database
    once. A signing key's public half never changes once written; only keys
    found are kept, so a key made during the run is still found. Make one
    per run, so that a run never uses keys read before it."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}

    def verify(self, data: bytes, signature: bytes, *, key_id: str) -> None:
        key = self._keys.get(key_id)
        if key is None:
            key = self._keys[key_id] = _public_key(key_id)
        _verify_with(key, data, signature, key_id)


def _pem(raw: bytes) -> str:
    key = Ed25519PublicKey.from_public_bytes(raw)
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def public_keys() -> dict[str, str]:
    """Every signing public key (including retired ones), as PEM by key id."""
    rows = DataKey.objects.filter(purpose=Purpose.SIGNING).order_by("version")
    return {_key_id_text(row.key_id): _pem(bytes(row.public_key)) for row in rows if row.public_key}


def export_public_key(key_id: str | None = None) -> str:
    """PEM (SubjectPublicKeyInfo) of one signing key, the primary by default."""
    if key_id is None:
        key_id = _key_id_text(keyring().primary(Purpose.SIGNING).key_id)
    return _public_key(key_id).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def verify_offline(public_key_pem: str | bytes, data: bytes, signature: bytes) -> None:
    """Verify with an exported PEM only (no database, no KEK)."""
    pem = public_key_pem.encode("ascii") if isinstance(public_key_pem, str) else public_key_pem
    key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("the public key is not an Ed25519 key")
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise SignatureError("the signature does not verify") from None
