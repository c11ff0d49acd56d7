"""The keyring: versioned keys, one primary per purpose, wrapped by the KEK.

Three purposes (``DataKey.Purpose``):

* ``data`` - the data-encryption keys (DEKs). The primary encrypts every new
  field value, secret and file; older versions stay *active* to decrypt what
  they still protect until ``safeward keys reencrypt`` has moved everything
  to the primary, after which ``safeward keys retire`` destroys them.
* ``blind_index`` - the HMAC key behind blind indexes. It is deliberately
  separate from the DEKs, so rotating the DEKs leaves every index valid.
* ``signing`` - the Ed25519 key that seals audit checkpoints.

Ciphertext format of a sealed value (fields and secrets)::

    0x01 | key id (4 bytes, big-endian) | nonce (12) | AES-256-GCM-SIV ciphertext + tag (16)

The 5-byte header is authenticated together with the caller's associated
data, so the key id cannot be edited either. Plaintext is padded to a
multiple of 16 bytes before encryption, so a ciphertext's length tells the
plaintext's length only to within 16 bytes.

Each process caches the unwrapped keys. Its view of *which* key is primary
is refreshed at most every ``SAFEWARD_KEYRING_REFRESH_SECONDS`` (30), and at
once when a ciphertext names a key id it does not know yet.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import IntegrityError as DatabaseIntegrityError
from django.db import transaction

from safeward import clock
from safeward.crypto import conf
from safeward.crypto.errors import IntegrityError, KeyProviderError, KeyringError
from safeward.crypto.models import DataKey
from safeward.crypto.providers import KeyProvider, provider_from_settings

FORMAT_V1 = 0x01
HEADER_BYTES = 5
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
PAD_BLOCK = 16
KEY_BYTES = 32

Purpose = DataKey.Purpose


def _derive(material: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"safeward/v1/" + label).derive(
        material
    )


def wrap_associated_data(purpose: str, key_id: int) -> bytes:
    return b"safeward-dek|v1|" + purpose.encode("ascii") + b"|" + struct.pack(">I", key_id)


@dataclasses.dataclass(eq=False)
class LoadedKey:
    """One unwrapped key in this process's memory. ``repr`` never shows it."""

    purpose: str
    version: int
    key_id: int
    material: bytes = dataclasses.field(repr=False)
    _aead: AESGCMSIV | None = dataclasses.field(default=None, repr=False)
    _subkeys: dict[bytes, bytes] = dataclasses.field(default_factory=dict, repr=False)

    header: bytes = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.header = bytes([FORMAT_V1]) + struct.pack(">I", self.key_id)

    @property
    def aead(self) -> AESGCMSIV:
        if self._aead is None:
            self._aead = AESGCMSIV(self.subkey(b"aead"))
        return self._aead

    def subkey(self, label: bytes) -> bytes:
        """An independent key for one use (HKDF-SHA256 over the key material)."""
        derived = self._subkeys.get(label)
        if derived is None:
            derived = self._subkeys[label] = _derive(self.material, label)
        return derived

    def signing_key(self) -> Ed25519PrivateKey:
        if self.purpose != Purpose.SIGNING:
            raise KeyringError(f"{self.purpose} key v{self.version} is not a signing key")
        return Ed25519PrivateKey.from_private_bytes(self.material)


def _pad(data: bytes) -> bytes:
    # ISO/IEC 7816-4: 0x80 then zeros up to the next multiple of PAD_BLOCK.
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % PAD_BLOCK)


def _unpad(data: bytes) -> bytes:
    end = data.rfind(b"\x80")
    if end < 0 or data[end + 1 :].strip(b"\x00") or len(data) % PAD_BLOCK:
        raise IntegrityError("a decrypted value has invalid padding")
    return data[:end]


def header_key_id(blob: bytes) -> int:
    """The key id a sealed value names in its header (no decryption)."""
    if len(blob) < OVERHEAD or blob[0] != FORMAT_V1:
        raise IntegrityError("the value is not a SafeWard ciphertext (unknown format or truncated)")
    return int(struct.unpack(">I", blob[1:HEADER_BYTES])[0])


# The values opened inside `opened_once()`, by (ciphertext, associated data).
_opened: ContextVar[dict[tuple[bytes, bytes], bytes] | None] = ContextVar("safeward_opened", default=None)


@contextmanager
def opened_once() -> Iterator[None]:
    """Within the block, a value opened twice (the same ciphertext bound to
    the same row and field) is decrypted once: a ward census reads each
    encounter's start for the relationship facts and again for its row.
    Only an exact repeat of both is a hit, so an altered ciphertext or
    another row's context is still decrypted, and fails, as outside it;
    the plaintexts live as long as the block, which the caller's result
    outlives anyway."""
    token = _opened.set({})
    try:
        yield
    finally:
        _opened.reset(token)


class Keyring:
    def __init__(self, provider_factory: Callable[[], KeyProvider] = provider_from_settings) -> None:
        self._provider_factory = provider_factory
        self._provider: KeyProvider | None = None
        self._lock = threading.RLock()
        self._keys: dict[int, LoadedKey] = {}
        self._retired: dict[int, int] = {}  # key id -> version
        self._primary: dict[str, int] = {}
        self._loaded_at: float | None = None
        self._ttl = 30.0

    # --- loading ---------------------------------------------------------------
    @property
    def provider(self) -> KeyProvider:
        with self._lock:
            if self._provider is None:
                self._provider = self._provider_factory()
            return self._provider

    def reset(self) -> None:
        """Forget every cached key (tests, and after a key operation)."""
        with self._lock:
            self._keys.clear()
            self._retired.clear()
            self._primary.clear()
            self._loaded_at = None

    def refresh(self) -> None:
        """Read the keyring table; unwrap keys not seen before; forget retired ones."""
        with self._lock:
            rows = list(
                DataKey.objects.values_list(
                    "purpose", "version", "key_id", "state", "wrapped_key", "provider", "kek_fingerprint"
                )
            )
            primary: dict[str, int] = {}
            for purpose, version, key_id, state, wrapped, provider_name, fingerprint in rows:
                if state == DataKey.State.RETIRED:
                    self._keys.pop(key_id, None)
                    self._retired[key_id] = version
                    continue
                if state == DataKey.State.PRIMARY:
                    primary[purpose] = key_id
                if key_id not in self._keys:
                    material = self.unwrap_key(
                        purpose, version, key_id, bytes(wrapped), provider_name, fingerprint
                    )
                    self._keys[key_id] = LoadedKey(
                        purpose=purpose, version=version, key_id=key_id, material=material
                    )
            self._primary = primary
            self._ttl = conf.keyring_refresh_seconds()
            self._loaded_at = time.monotonic()

    def unwrap_key(
        self, purpose: str, version: int, key_id: int, wrapped: bytes, provider_name: str, fingerprint: str
    ) -> bytes:
        """One stored key's material, unwrapped by this keyring's provider; the
        error names the provider and both KEK fingerprints when it is the wrong KEK."""
        provider = self.provider
        where = f"{purpose} key v{version} (id {key_id:08x})"
        if provider_name != provider.name:
            raise KeyProviderError(
                f"The key provider {provider.describe()} cannot unwrap {where}: that key was wrapped by the "
                f"{provider_name!r} provider. Set SAFEWARD_KEY_PROVIDER={provider_name} with its KEK."
            )
        try:
            return provider.unwrap(wrapped, associated_data=wrap_associated_data(purpose, key_id))
        except KeyProviderError as error:
            hint = (
                f" The keyring was wrapped by KEK {fingerprint}; "
                f"the provider holds KEK {provider.fingerprint()}."
                if fingerprint != provider.fingerprint()
                else ""
            )
            raise KeyProviderError(f"{error} [{where}]{hint}") from None

    def _stale(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at > self._ttl

    def primary(self, purpose: str = Purpose.DATA) -> LoadedKey:
        key_id = self._primary.get(purpose)
        if key_id is not None and not self._stale():  # the hot path: no lock
            key = self._keys.get(key_id)
            if key is not None:
                return key
        with self._lock:
            if self._stale() or purpose not in self._primary:
                self.refresh()
            key_id = self._primary.get(purpose)
            if key_id is None:
                raise KeyringError(
                    f"The keyring has no primary {purpose} key. Run `safeward migrate` (it creates the first "
                    "keys) or `safeward keys status`."
                )
            return self._keys[key_id]

    def usable(self, purpose: str) -> list[LoadedKey]:
        """Every key of `purpose` that is not retired, the primary first (a
        search during a blind-index rotation asks under each of them)."""
        primary = self.primary(purpose)
        with self._lock:  # refresh() may change the cache in another thread
            loaded = list(self._keys.values())
        others = sorted(
            (k for k in loaded if k.purpose == purpose and k.key_id != primary.key_id),
            key=lambda k: -k.version,
        )
        return [primary, *others]

    def get(self, key_id: int) -> LoadedKey:
        key = self._keys.get(key_id)  # the hot path: no lock
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(key_id)
            if key is None:
                self.refresh()
                key = self._keys.get(key_id)
            if key is None:
                if key_id in self._retired:
                    raise IntegrityError(
                        f"the value is encrypted under retired key v{self._retired[key_id]} "
                        f"(id {key_id:08x}), whose material was destroyed"
                    )
                raise IntegrityError(f"the value names key id {key_id:08x}, which this keyring does not hold")
            return key

    def loaded(self) -> list[LoadedKey]:
        with self._lock:
            if self._loaded_at is None:
                self.refresh()
            return sorted(self._keys.values(), key=lambda k: (k.purpose, k.version))

    # --- sealing values -----------------------------------------------------------
    def seal(self, plaintext: bytes, *, associated_data: bytes) -> bytes:
        """Encrypt under the primary data key; associated data binds the value
        to where it belongs (the caller's context: model, field, row...)."""
        key = self.primary(Purpose.DATA)
        return _seal_with(key, plaintext, associated_data)

    def open(self, blob: bytes, *, associated_data: bytes) -> bytes:
        """Decrypt a sealed value, or raise IntegrityError. Never returns
        garbage: any change to any byte, or another context, fails."""
        opened = _opened.get()
        if opened is None:
            return _unpad(self._open_padded(blob, associated_data))
        key = (blob, associated_data)
        plaintext = opened.get(key)
        if plaintext is None:
            plaintext = opened[key] = _unpad(self._open_padded(blob, associated_data))
        return plaintext

    def _open_padded(self, blob: bytes, associated_data: bytes) -> bytes:
        key = self.get(header_key_id(blob))
        if key.purpose != Purpose.DATA:
            raise IntegrityError("the value names a key that is not a data key")
        try:
            return key.aead.decrypt(
                blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES],
                blob[HEADER_BYTES + NONCE_BYTES :],
                blob[:HEADER_BYTES] + associated_data,
            )
        except InvalidTag:
            raise IntegrityError(
                "the ciphertext failed authentication: it was altered, or copied from another row or field"
            ) from None

    def reseal(self, blob: bytes, *, associated_data: bytes) -> bytes | None:
        """Move one sealed value to the primary key; None when it is already there."""
        return self.reseal_many([(blob, associated_data)])[0]

    def reseal_many(self, values: list[tuple[bytes, bytes]]) -> list[bytes | None]:
        """`reseal` for many (sealed value, associated data) pairs: the primary
        is looked up once, the nonces drawn in one call, and the padded
        plaintext sealed again as it is (the padding is the same either way)."""
        primary = self.primary(Purpose.DATA)
        header = primary.header
        aead = primary.aead
        nonces = os.urandom(NONCE_BYTES * len(values))
        moved: list[bytes | None] = []
        for i, (blob, associated_data) in enumerate(values):
            if blob[:HEADER_BYTES] == header:
                moved.append(None)
                continue
            padded = self._open_padded(blob, associated_data)
            nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
            moved.append(header + nonce + aead.encrypt(nonce, padded, header + associated_data))
        return moved


def _seal_with(key: LoadedKey, plaintext: bytes, associated_data: bytes) -> bytes:
    header = key.header
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + key.aead.encrypt(nonce, _pad(plaintext), header + associated_data)


# --- key creation ------------------------------------------------------------------
def _new_key_id() -> int:
    while True:
        key_id = int.from_bytes(os.urandom(4), "big")
        if key_id and not DataKey.objects.filter(key_id=key_id).exists():
            return key_id


def create_key(*, purpose: str, provider: KeyProvider, primary: bool = True) -> DataKey:
    """Generate, wrap and store a new key version. When `primary`, the current
    primary of that purpose is demoted in the same transaction. Callers hold
    the transaction (services.key_rotate, ensure_keys)."""
    stale = (
        DataKey.objects.exclude(state=DataKey.State.RETIRED)
        .exclude(provider=provider.name, kek_fingerprint=provider.fingerprint())
        .exists()
    )
    if stale:
        # `keys rewrap` moved the keyring to another KEK: a process still holding
        # the old one must not add a key only it could unwrap.
        raise KeyringError(
            f"The keyring is wrapped by another KEK than the one {provider.describe()} holds "
            "(it was rewrapped): restart with the new KEK before creating keys."
        )
    key_id = _new_key_id()
    public = b""
    if purpose == Purpose.SIGNING:
        private = Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        material = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    else:
        material = os.urandom(KEY_BYTES)
    now = clock.now()
    last = (
        DataKey.objects.filter(purpose=purpose).order_by("-version").values_list("version", flat=True).first()
    )
    if primary:
        DataKey.objects.filter(purpose=purpose, state=DataKey.State.PRIMARY).update(
            state=DataKey.State.ACTIVE, demoted_at=now
        )
    return DataKey.objects.create(
        purpose=purpose,
        version=(last or 0) + 1,
        key_id=key_id,
        state=DataKey.State.PRIMARY if primary else DataKey.State.ACTIVE,
        wrapped_key=provider.wrap(material, associated_data=wrap_associated_data(purpose, key_id)),
        public_key=public,
        provider=provider.name,
        kek_fingerprint=provider.fingerprint(),
        created_at=now,
    )


def ensure_keys(*, using_keyring: Keyring | None = None) -> list[DataKey]:
    """Create the first key of every purpose that has no primary yet. Safe to
    run from several processes at once (the database allows one primary).
    Runs at `migrate` (post_migrate) and before serving; never implicitly in
    a request, so a key is never born in a transaction that rolls back."""
    ring = using_keyring or keyring()
    created = []
    for purpose in Purpose.values:
        if DataKey.objects.filter(purpose=purpose, state=DataKey.State.PRIMARY).exists():
            continue
        try:
            with transaction.atomic():
                created.append(create_key(purpose=purpose, provider=ring.provider))
        except DatabaseIntegrityError:
            continue  # another process created it first
    if created:
        ring.refresh()
    return created


# --- the process keyring -------------------------------------------------------------
_keyring = Keyring()


def keyring() -> Keyring:
    return _keyring


def install(ring: Keyring) -> Keyring:
    """Replace the process keyring (tests, tools); returns the previous one."""
    global _keyring
    previous, _keyring = _keyring, ring
    return previous
