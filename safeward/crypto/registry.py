"""The register of ciphertext stores: every place where something encrypted
under a keyring key lives.

`safeward keys status` counts what each key version protects from this
register, `safeward keys reencrypt` moves every store to the primary key and
`safeward keys retire` refuses while any store still counts a value under the
version. A kind of ciphertext that is not registered would be destroyed by a
retirement, so encrypting one is refused at run time
(`require_stream_kind`, `require_secret_purpose`) and an architecture test
(tests/crypto/test_store_registry.py) fails on code that encrypts for a kind
no store owns.

Apps register their stores from `AppConfig.ready()`:

    from safeward.crypto.registry import register_store
    from safeward.crypto.stores import FileStreamStore

    register_store(FileStreamStore(label="clinical.document files", ...))

Encrypted model fields and blind indexes need no registration: their stores
are found through the app registry (`safeward.crypto.stores.all_stores`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Protocol

from safeward.crypto.errors import UnregisteredCiphertext

ProgressCallback = Callable[[int], None]


class CiphertextStore(Protocol):
    """Where values encrypted under one keyring purpose live."""

    @property
    def label(self) -> str: ...

    @property
    def purpose(self) -> str:
        """The keyring purpose whose versions protect it ("data" or "blind_index")."""
        ...

    @property
    def stream_prefixes(self) -> tuple[bytes, ...]:
        """Associated-data prefixes of the encrypted streams it owns (safeward.crypto.streams)."""
        ...

    @property
    def secret_purposes(self) -> tuple[str, ...]:
        """Purposes of the secret tokens it owns (safeward.crypto.secrets)."""
        ...

    @property
    def writers(self) -> tuple[str, ...]:
        """Modules that create its ciphertext: the registry test matches them against call sites."""
        ...

    @property
    def lifetime(self) -> dt.timedelta | None:
        """For values that live at most this long and cannot be counted (paging
        cursors): a key retires only once it has been out of use for longer."""
        ...

    def counts(self) -> dict[str, Counter[int]]:
        """Stored values per key id, per part (column, folder...) of the store."""
        ...

    def pending(self, primary_key_id: int) -> int:
        """Values not yet under the primary key."""
        ...

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        """Move values to the primary key in batches, yielding the number moved
        per batch. Resumable: it selects what is not under the primary yet."""
        ...


_registered: dict[str, CiphertextStore] = {}


def register_store(store: CiphertextStore) -> CiphertextStore:
    """Add a store (idempotent per label: a reloaded app replaces its entry)."""
    _registered[store.label] = store
    return store


def registered_stores() -> list[CiphertextStore]:
    return list(_registered.values())


def stream_store_for(associated_data: bytes) -> CiphertextStore | None:
    for store in _registered.values():
        if any(associated_data.startswith(prefix) for prefix in store.stream_prefixes):
            return store
    return None


def require_stream_kind(associated_data: bytes) -> None:
    if stream_store_for(associated_data) is None:
        raise UnregisteredCiphertext(
            "No registered ciphertext store owns this kind of encrypted file: register one "
            "(safeward.crypto.registry.register_store) so that key rotation re-encrypts it and "
            "retirement counts it."
        )


def require_secret_purpose(purpose: str) -> None:
    if not any(purpose in store.secret_purposes for store in _registered.values()):
        raise UnregisteredCiphertext(
            f"No registered ciphertext store owns secrets of purpose {purpose!r}: register one "
            "(safeward.crypto.registry.register_store) so that key rotation covers them."
        )
