"""Reads about the keyring: which key versions exist and what each protects."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

from safeward.crypto.models import DataKey
from safeward.crypto.stores import all_stores
from safeward.one_door import entry

# Purposes whose versions protect stored values (signing keys protect none: their public halves stay).
COUNTED = (DataKey.Purpose.DATA, DataKey.Purpose.BLIND_INDEX)


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
    unknown_by_purpose: dict[tuple[str, int], int]  # (purpose, key id) the keyring table does not hold

    @property
    def unknown(self) -> dict[int, int]:
        """Values under key ids the keyring table does not hold."""
        totals: Counter[int] = Counter()
        for (_, key_id), n in self.unknown_by_purpose.items():
            totals[key_id] += n
        return dict(totals)

    def key(self, purpose: str, version: int) -> KeyStatus:
        for key in self.keys:
            if key.purpose == purpose and key.version == version:
                return key
        raise LookupError(f"no {purpose} key v{version}")

    def pending_of(self, purpose: str) -> int:
        """Values of `purpose` not under its primary key (0: nothing left to move)."""
        return sum(
            k.protects for k in self.keys if k.purpose == purpose and k.state != DataKey.State.PRIMARY
        ) + sum(n for (p, _), n in self.unknown_by_purpose.items() if p == purpose)

    @property
    def pending(self) -> int:
        """Values not under the primary key of their purpose (0: re-encryption complete)."""
        return sum(self.pending_of(purpose) for purpose in COUNTED)


@entry  # counts ciphertext in every table, clinical ones too
def keyring_status() -> KeyringStatus:
    """Counts come from the ciphertext headers and index markers (no decryption),
    over every registered store (safeward.crypto.registry)."""
    per_store: dict[str, tuple[str, Counter[int]]] = {}
    for store in all_stores():
        for part, counts in store.counts().items():
            per_store[part] = (store.purpose, counts)
    rows = list(DataKey.objects.all())
    known = {row.key_id for row in rows}
    keys = []
    for row in rows:
        by_store = {
            name: counts[row.key_id]
            for name, (purpose, counts) in per_store.items()
            if purpose == row.purpose and counts[row.key_id]
        }
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
    unknown: Counter[tuple[str, int]] = Counter()
    for purpose, counts in per_store.values():
        unknown.update({(purpose, key_id): n for key_id, n in counts.items() if key_id not in known})
    return KeyringStatus(keys=keys, stores=sorted(per_store), unknown_by_purpose=dict(unknown))
