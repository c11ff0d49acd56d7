"""Reads about the keyring: which key versions exist and what each protects."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

from safeward.crypto.models import DataKey
from safeward.crypto.stores import SECRET_STORES as _SECRET_STORES
from safeward.crypto.stores import JSONSecretStore, model_stores
from safeward.one_door import entry


@dataclasses.dataclass(frozen=True)
class KeyStatus:
    purpose: str
    version: int
    key_id: int
    state: str
    created_at: dt.datetime
    demoted_at: dt.datetime | None
    retired_at: dt.datetime | None
    protects: int
    by_store: dict[str, int]

    @property
    def key_id_hex(self) -> str:
        return f"{self.key_id:08x}"


@dataclasses.dataclass(frozen=True)
class KeyringStatus:
    keys: list[KeyStatus]
    stores: list[str]
    unknown: dict[int, int]  # values under key ids the keyring table does not hold

    def key(self, purpose: str, version: int) -> KeyStatus:
        for key in self.keys:
            if key.purpose == purpose and key.version == version:
                return key
        raise LookupError(f"no {purpose} key v{version}")

    @property
    def pending(self) -> int:
        """Data values not under the primary data key (0: re-encryption complete)."""
        return sum(
            k.protects
            for k in self.keys
            if k.purpose == DataKey.Purpose.DATA and k.state != DataKey.State.PRIMARY
        ) + sum(self.unknown.values())


@entry  # counts and moves ciphertext in every table, clinical ones too
def keyring_status(*, secret_stores: list[JSONSecretStore] | None = None) -> KeyringStatus:
    """Counts come from the ciphertext headers (no decryption)."""
    per_store: dict[str, Counter[int]] = {}
    for store in model_stores():
        per_store.update(store.count_by_column())
    for secret_store in _SECRET_STORES if secret_stores is None else secret_stores:
        per_store[f"{secret_store.label}.{secret_store.json_field} ({secret_store.purpose} secrets)"] = (
            secret_store.count()
        )
    rows = list(DataKey.objects.all())
    known = {row.key_id for row in rows}
    keys = []
    for row in rows:
        by_store = {name: counts[row.key_id] for name, counts in per_store.items() if counts[row.key_id]}
        keys.append(
            KeyStatus(
                purpose=row.purpose,
                version=row.version,
                key_id=row.key_id,
                state=row.state,
                created_at=row.created_at,
                demoted_at=row.demoted_at,
                retired_at=row.retired_at,
                protects=sum(by_store.values()),
                by_store=by_store,
            )
        )
    unknown: Counter[int] = Counter()
    for counts in per_store.values():
        unknown.update({key_id: n for key_id, n in counts.items() if key_id not in known})
    return KeyringStatus(keys=keys, stores=sorted(per_store), unknown=dict(unknown))
