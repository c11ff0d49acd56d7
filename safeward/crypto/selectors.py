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


# --- Reads for the control tests (issue 18, crypto/controls.py; ADR 0920) ---


@dataclasses.dataclass(frozen=True)
class KeyAge:
    purpose: str
    version: int
    key_id: int
    state: str
    created_at: dt.datetime
    demoted_at: dt.datetime | None


def keys_in_service() -> list[KeyAge]:
    """Every key not retired, from the keyring table (no key material)."""
    return [
        KeyAge(*row)
        for row in DataKey.objects.exclude(state=DataKey.State.RETIRED)
        .order_by("purpose", "version")
        .values_list("purpose", "version", "key_id", "state", "created_at", "demoted_at")
    ]


@dataclasses.dataclass(frozen=True)
class FieldSample:
    """A sample of one encrypted column's stored values, judged by their
    header alone: never decrypted, no value leaves this function."""

    label: str  # "clinical.Patient.name"
    phi_category: str  # "" when the field declares none
    sampled: int
    not_ciphertext: int  # too short or not the ciphertext format
    unknown_key: int  # a header naming no data key the keyring can open

    @property
    def ok(self) -> bool:
        return bool(self.phi_category) and self.not_ciphertext == 0 and self.unknown_key == 0


@entry  # reads ciphertext in every table, clinical ones too, as keyring_status does
def encrypted_field_samples(*, limit: int) -> list[FieldSample]:
    """For every encrypted field of every model: its PHI category and the
    headers of up to `limit` stored values (one indexed statement per column,
    ordered by the primary key, newest ids of serial keys first)."""
    from django.db import connection

    from safeward.crypto.fields import encrypted_fields
    from safeward.crypto.keyring import FORMAT_V1, HEADER_BYTES, OVERHEAD
    from safeward.crypto.phi import PhiCategory

    usable = set(
        DataKey.objects.filter(purpose=DataKey.Purpose.DATA)
        .exclude(state=DataKey.State.RETIRED)
        .values_list("key_id", flat=True)
    )
    quote = connection.ops.quote_name
    samples = []
    for field in sorted(encrypted_fields(), key=lambda f: f.label):
        meta = field.model._meta
        assert meta.pk is not None
        assert meta.pk.column is not None
        assert field.column is not None
        with connection.cursor() as cursor:
            cursor.execute(
                # Quoted identifiers from model metadata; the limit is a parameter.
                f"SELECT {quote(field.column)} FROM {quote(meta.db_table)} "  # noqa: S608
                f"WHERE {quote(field.column)} IS NOT NULL ORDER BY {quote(meta.pk.column)} DESC LIMIT %s",
                [limit],
            )
            blobs = [bytes(row[0]) for row in cursor.fetchall()]
        malformed = [b for b in blobs if len(b) < OVERHEAD or b[0] != FORMAT_V1]
        unknown = [
            b
            for b in blobs
            if len(b) >= OVERHEAD
            and b[0] == FORMAT_V1
            and int.from_bytes(b[1:HEADER_BYTES], "big") not in usable
        ]
        category = field.phi_category
        samples.append(
            FieldSample(
                label=field.label,
                phi_category=category.value if isinstance(category, PhiCategory) else "",
                sampled=len(blobs),
                not_ciphertext=len(malformed),
                unknown_key=len(unknown),
            )
        )
    return samples


@dataclasses.dataclass(frozen=True)
class DecryptCheck:
    label: str  # "clinical.Patient.name"
    sampled: int
    decrypted: int  # opened and decoded; the values are dropped at once, never returned

    @property
    def ok(self) -> bool:
        return self.sampled == self.decrypted


@entry  # opens ciphertext in every table, clinical ones too; returns counts only
def encrypted_field_decrypt_check(*, limit: int) -> list[DecryptCheck]:
    """For every encrypted field: decrypt up to `limit` stored values with the
    keyring and count how many open (authenticated against their row). Used
    by the restore test on a scratch copy, to prove the key metadata in a
    backup plus the KEK are enough; it never returns or logs a value."""
    import uuid

    from django.db import connection

    from safeward.crypto.errors import CryptoError
    from safeward.crypto.fields import encrypted_fields
    from safeward.crypto.keyring import keyring

    quote = connection.ops.quote_name
    results = []
    for field in sorted(encrypted_fields(), key=lambda f: f.label):
        meta = field.model._meta
        row_column = field._row_id_target().column
        assert field.column is not None
        assert row_column is not None
        with connection.cursor() as cursor:
            cursor.execute(
                # Quoted identifiers from model metadata; the limit is a parameter.
                f"SELECT {quote(row_column)}, {quote(field.column)} FROM {quote(meta.db_table)} "  # noqa: S608
                f"WHERE {quote(field.column)} IS NOT NULL ORDER BY {quote(row_column)} LIMIT %s",
                [limit],
            )
            rows = cursor.fetchall()
        opened = 0
        for row_id, stored in rows:
            try:
                key = row_id if isinstance(row_id, uuid.UUID) else uuid.UUID(str(row_id))
                field.codec_decode(keyring().open(bytes(stored), associated_data=field.associated_data(key)))
            except (CryptoError, ValueError):
                continue
            opened += 1
        results.append(DecryptCheck(label=field.label, sampled=len(rows), decrypted=opened))
    return results


@dataclasses.dataclass(frozen=True)
class KeyVersion:
    purpose: str
    version: int
    key_id: str
    state: str
    provider: str
    kek_fingerprint: str


def key_versions() -> list[KeyVersion]:
    """The keyring's versions as metadata (never key material): what a backup manifest records."""
    return [
        KeyVersion(row.purpose, row.version, row.key_id_hex, row.state, row.provider, row.kek_fingerprint)
        for row in DataKey.objects.order_by("purpose", "version")
    ]
