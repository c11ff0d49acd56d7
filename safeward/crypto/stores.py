"""The ciphertext stores SafeWard knows, so status can count what each key
version protects and re-encryption can move it (the register and the
Protocol are in ``safeward.crypto.registry``).

Found without registration, through the app registry:

* ``ModelStore`` - every encrypted model field, one store per model (data keys);
* ``BlindIndexStore`` - every blind index and prefix-token column, one store per
  model (blind-index keys).

Kinds an app registers from its ``AppConfig.ready()``:

* ``FileStreamStore`` - files encrypted with ``safeward.crypto.streams`` in one
  folder (clinical documents, audit archives, backups);
* ``JSONSecretStore`` - secret tokens inside JSON columns of models SafeWard
  does not own (allauth's MFA authenticators);
* ``EnvironmentSecretStore`` - a secret token an operator put in a setting
  (counted, never rewritten: the operator reseals it);
* ``TransientSecrets`` - short-lived tokens nobody stores (paging cursors):
  nothing to count, but a key retires only after they have expired;
* ``StoredBlindValues`` - blind-index values kept without their plaintext
  (detection's staff match keys): counted, renewed by whoever holds it.

Every store counts values per key id without decrypting and moves values to
the primary key in batches, each batch one short transaction (files: one
atomic rename each), each row written with a compare-and-swap so a
concurrent edit by the application wins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction

from safeward.crypto import registry
from safeward.crypto.errors import IntegrityError
from safeward.crypto.fields import (
    INDEX_BYTES,
    PREFIX_MARKER,
    BlindIndexField,
    BlindPrefixField,
    EncryptedField,
    blind_fields,
    blind_indexer,
    encrypted_fields,
    index_marker,
    prefix_marker,
)
from safeward.crypto.keyring import LoadedKey, Purpose, keyring
from safeward.crypto.models import DataKey
from safeward.crypto.phi import PhiCategory
from safeward.crypto.registry import CiphertextStore, ProgressCallback
from safeward.crypto.secrets import is_secret_token, reseal_secret, secret_key_id


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(field: models.Field[Any, Any]) -> str:
    assert field.column is not None  # concrete fields always have a column
    return field.column


def _key_id_expr(column: str) -> str:
    # Bytes 2..5 of the header; SUBSTR works on bytea (PostgreSQL) and BLOB (SQLite).
    return f"SUBSTR({_qn(column)}, 2, 4)"


@dataclasses.dataclass
class ModelStore:
    """All encrypted columns of one model, handled row by row."""

    model: type[models.Model]
    fields: list[EncryptedField]

    purpose = Purpose.DATA
    stream_prefixes: tuple[bytes, ...] = ()
    secret_purposes: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()
    lifetime: dt.timedelta | None = None

    @property
    def label(self) -> str:
        return self.model._meta.label

    def columns(self) -> list[str]:
        return [f"{self.label}.{f.name}" for f in self.fields]

    def counts(self) -> dict[str, Counter[int]]:
        table = _qn(self.model._meta.db_table)
        result: dict[str, Counter[int]] = {}
        with connection.cursor() as cursor:
            for field in self.fields:
                expr = _key_id_expr(_column(field))
                cursor.execute(
                    # Quoted identifiers only; values are parameters.
                    f"SELECT {expr}, COUNT(*) FROM {table} "  # noqa: S608
                    f"WHERE {_qn(_column(field))} IS NOT NULL GROUP BY {expr}"
                )
                result[f"{self.label}.{field.name}"] = Counter(
                    {int.from_bytes(bytes(kid), "big"): n for kid, n in cursor.fetchall()}
                )
        return result

    def _stale_condition(self) -> str:
        return " OR ".join(
            f"({_qn(_column(f))} IS NOT NULL AND {_key_id_expr(_column(f))} <> %s)" for f in self.fields
        )

    def pending(self, primary_key_id: int) -> int:
        table = _qn(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {self._stale_condition()}",  # noqa: S608
                [primary_key_id.to_bytes(4, "big")] * len(self.fields),
            )
            return int(cursor.fetchone()[0])

    def _row_id_columns(self) -> list[models.Field[Any, Any]]:
        targets: list[models.Field[Any, Any]] = []
        for field in self.fields:
            target = field._row_id_target()
            if target not in targets:
                targets.append(target)
        return targets

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        """Keyset batches of raw tuples (primary key order); each batch resealed
        in memory and written by one compare-and-swap UPDATE (ADR 1611)."""
        meta = self.model._meta
        assert meta.pk is not None
        pk = meta.pk
        row_ids = [c for c in self._row_id_columns() if c is not pk]
        # Where each field's row id sits in a fetched row (0: the primary key).
        id_position = [
            0 if f._row_id_target() is pk else 1 + row_ids.index(f._row_id_target()) for f in self.fields
        ]
        first = 1 + len(row_ids)
        writer = _CasWriter(self.model, self.fields, keep_unmoved=True)
        ring = keyring()
        last: Any = None
        while True:
            primary = ring.primary().key_id.to_bytes(4, "big")
            rows = _fetch_batch(
                self.model,
                [_column(pk), *(_column(c) for c in row_ids), *(_column(f) for f in self.fields)],
                self._stale_condition(),
                [primary] * len(self.fields),
                last,
                batch_size,
            )
            if not rows:
                return
            sealed: list[tuple[bytes, bytes]] = []
            for row in rows:
                for j, field in enumerate(self.fields):
                    stored = row[first + j]
                    if stored is not None:
                        sealed.append((bytes(stored), field.associated_data(_as_uuid(row[id_position[j]]))))
            resealed = iter(ring.reseal_many(sealed))
            changes: list[_RowChange] = []
            for row in rows:
                new: list[bytes | None] = []
                old: list[bytes | None] = []
                for j in range(len(self.fields)):
                    stored = row[first + j]
                    moved = None if stored is None else next(resealed)
                    new.append(moved)
                    old.append(None if moved is None else bytes(stored))
                weight = sum(value is not None for value in new)
                if weight:
                    changes.append(_RowChange(row[0], new, old, weight))
            with transaction.atomic():
                count = writer.write(changes)
            last = rows[-1][0]
            on_batch(count)
            yield count


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _fetch_batch(
    model: type[models.Model], columns: list[str], condition: str, params: list[Any], after: Any, size: int
) -> list[tuple[Any, ...]]:
    """The next `size` rows (primary key order) after `after` matching
    `condition`, as raw tuples: no model instances, one short statement."""
    meta = model._meta
    assert meta.pk is not None
    pk = _qn(_column(meta.pk))
    keyset = "" if after is None else f"{pk} > %s AND "
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_qn(c) for c in columns)} FROM {_qn(meta.db_table)} "  # noqa: S608
            f"WHERE {keyset}({condition}) ORDER BY {pk} LIMIT %s",
            [*([] if after is None else [after]), *params, size],
        )
        return list(cursor.fetchall())


@dataclasses.dataclass
class _RowChange:
    """One row's compare-and-swap: write `new` where the columns still hold `old`."""

    pk: Any
    new: list[Any]
    old: list[Any]
    weight: int  # values it moves


class _CasWriter:
    """Compare-and-swap UPDATEs for a batch of rows of one table; returns the
    values moved by the rows that still held what was read (a row an edit
    changed meanwhile keeps the edit and counts nothing).

    ``keep_unmoved``: a None in ``new`` leaves that column as it is and its
    ``old`` None skips its check (ciphertexts: NULL is never a new value).
    Otherwise every column is written and checked, NULL-safely (blind
    indexes, which may become NULL).

    PostgreSQL: one statement per batch, the rows as typed arrays bound
    server-side in binary (``unnest``), so nothing is spliced into SQL text
    and the statement text is the same for every batch. SQLite: one prepared
    statement per row on the same in-process connection."""

    def __init__(
        self, model: type[models.Model], fields: Sequence[models.Field[Any, Any]], *, keep_unmoved: bool
    ) -> None:
        meta = model._meta
        assert meta.pk is not None
        self.keep_unmoved = keep_unmoved
        self.columns = [_column(f) for f in fields]
        self.types = [str(f.db_type(connection)) for f in fields]
        self.table, self.pk = _qn(meta.db_table), _qn(_column(meta.pk))
        self.pk_type = str(meta.pk.db_type(connection))

    def write(self, changes: list[_RowChange]) -> int:
        if not changes:
            return 0
        if connection.vendor == "postgresql":
            return self._write_postgresql(changes)
        return self._write_each(changes)

    def _set_and_check(self, new: str, old: str, column: str, null_safe_equal: str) -> tuple[str, str]:
        if self.keep_unmoved:
            return f"COALESCE({new}, {column})", f"({old} IS NULL OR {column} = {old})"
        return new, f"{column} {null_safe_equal} {old}"

    def _write_postgresql(self, changes: list[_RowChange]) -> int:
        import psycopg

        names = (
            ["i", "k"]
            + [f"n{j}" for j in range(len(self.columns))]
            + [f"o{j}" for j in range(len(self.columns))]
        )
        types = ["integer", self.pk_type, *self.types, *self.types]
        sets, checks = [], []
        for j, column in enumerate(self.columns):
            set_expr, check = self._set_and_check(
                f"v.n{j}", f"v.o{j}", f"t.{_qn(column)}", "IS NOT DISTINCT FROM"
            )
            sets.append(f"{_qn(column)} = {set_expr}")
            checks.append(check)
        sql = (
            f"UPDATE {self.table} AS t SET {', '.join(sets)} "  # noqa: S608
            f"FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) AS v({', '.join(names)}) "
            # The batch's key range lets the planner read only the batch's rows (an
            # index range scan); with the join alone it hashes the whole table.
            f"WHERE t.{self.pk} BETWEEN %s AND %s AND t.{self.pk} = v.k AND {' AND '.join(checks)} "
            "RETURNING v.i"
        )
        params: list[Any] = [list(range(len(changes))), [c.pk for c in changes]]
        params += [[c.new[j] for c in changes] for j in range(len(self.columns))]
        params += [[c.old[j] for c in changes] for j in range(len(self.columns))]
        params += [changes[0].pk, changes[-1].pk]  # in key order, as the batch was read
        connection.ensure_connection()
        # A server-side binding cursor on Django's connection (and transaction):
        # Django's own cursors splice parameters into the text client-side.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params)
            return sum(changes[i].weight for (i,) in cursor.fetchall())

    def _write_each(self, changes: list[_RowChange]) -> int:
        n = len(self.columns)
        sets, checks = [], []
        for j, column in enumerate(self.columns):
            set_expr, check = self._set_and_check(f"?{j + 2}", f"?{j + 2 + n}", _qn(column), "IS")
            sets.append(f"{_qn(column)} = {set_expr}")
            checks.append(check)
        sql = (
            f"UPDATE {self.table} SET {', '.join(sets)} "  # noqa: S608
            f"WHERE {self.pk} = ?1 AND {' AND '.join(checks)}"
        )
        connection.ensure_connection()
        cursor = connection.connection.cursor()
        try:
            moved = 0
            for change in changes:
                cursor.execute(sql, [change.pk, *change.new, *change.old])
                if cursor.rowcount:
                    moved += change.weight
            return moved
        finally:
            cursor.close()


def model_stores() -> list[ModelStore]:
    grouped: dict[type[models.Model], list[EncryptedField]] = {}
    for field in encrypted_fields():
        grouped.setdefault(field.model, []).append(field)
    return [ModelStore(model, fields) for model, fields in grouped.items()]


@dataclasses.dataclass(frozen=True)
class JSONSecretStore:
    """Secret tokens under some keys of a JSON column (strings or lists of strings)."""

    model_label: str
    json_field: str
    keys: tuple[str, ...]
    secret_purpose: str
    writers: tuple[str, ...] = ()

    purpose = Purpose.DATA
    stream_prefixes: tuple[bytes, ...] = ()
    lifetime: dt.timedelta | None = None

    @property
    def label(self) -> str:
        return f"{self.model_label}.{self.json_field} ({self.secret_purpose} secrets)"

    @property
    def secret_purposes(self) -> tuple[str, ...]:
        return (self.secret_purpose,)

    def _model(self) -> type[models.Model] | None:
        try:
            return apps.get_model(self.model_label)
        except LookupError:
            return None

    def _tokens(self, data: Any) -> Iterator[str]:
        if not isinstance(data, dict):
            return
        for key in self.keys:
            value = data.get(key)
            for item in value if isinstance(value, list) else [value]:
                if is_secret_token(item):
                    yield item

    def counts(self) -> dict[str, Counter[int]]:
        model = self._model()
        counts: Counter[int] = Counter()
        if model is not None:
            for data in model._default_manager.values_list(self.json_field, flat=True).iterator():
                counts.update(secret_key_id(token) for token in self._tokens(data))
        return {self.label: counts}

    def pending(self, primary_key_id: int) -> int:
        return _not_under(self.counts(), primary_key_id)

    def _reseal(self, data: dict[str, Any]) -> int:
        moved = 0
        for key in self.keys:
            value = data.get(key)
            if isinstance(value, list):
                new_list = [
                    reseal_secret(v, purpose=self.secret_purpose) if is_secret_token(v) else None
                    for v in value
                ]
                if any(n is not None for n in new_list):
                    data[key] = [n if n is not None else v for n, v in zip(new_list, value, strict=True)]
                    moved += sum(n is not None for n in new_list)
            elif is_secret_token(value):
                new = reseal_secret(value, purpose=self.secret_purpose)
                if new is not None:
                    data[key] = new
                    moved += 1
        return moved

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        model = self._model()
        if model is None:
            return
        manager = model._default_manager
        pks = list(manager.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), batch_size):
            moved = 0
            with transaction.atomic():
                for obj in manager.select_for_update().filter(pk__in=pks[start : start + batch_size]):
                    data = getattr(obj, self.json_field)
                    if isinstance(data, dict) and (n := self._reseal(data)):
                        obj.save(update_fields=[self.json_field])
                        moved += n
            on_batch(moved)
            yield moved


def _first_blind_key_id() -> int:
    """Indexes without a marker were made by blind-index key v1."""
    key_id = (
        DataKey.objects.filter(purpose=Purpose.BLIND_INDEX, version=1)
        .values_list("key_id", flat=True)
        .first()
    )
    return int(key_id or 0)


@dataclasses.dataclass
class BlindIndexStore:
    """The blind indexes and prefix tokens of one model, under the blind-index
    keys. Which key made a value is in its marker (none: key v1); moving a
    row means decrypting its sources and computing its indexes under the
    primary, written with a compare-and-swap on the old indexes (an edit by
    the application meanwhile already wrote them under the primary)."""

    model: type[models.Model]
    fields: list[BlindIndexField | BlindPrefixField]

    purpose = Purpose.BLIND_INDEX
    stream_prefixes: tuple[bytes, ...] = ()
    secret_purposes: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()
    lifetime: dt.timedelta | None = None

    @property
    def label(self) -> str:
        return f"{self.model._meta.label} (blind indexes)"

    @staticmethod
    def _marker_expr(field: BlindIndexField | BlindPrefixField) -> str:
        column = _qn(_column(field))
        if isinstance(field, BlindIndexField):
            return f"CASE WHEN LENGTH({column}) = {INDEX_BYTES} THEN NULL ELSE SUBSTR({column}, 1, 4) END"
        return (
            f"CASE WHEN SUBSTR({column}, 1, 1) = '{PREFIX_MARKER}' THEN SUBSTR({column}, 2, 8) ELSE NULL END"
        )

    @staticmethod
    def _present(field: BlindIndexField | BlindPrefixField) -> str:
        column = _qn(_column(field))
        return f"{column} IS NOT NULL" + (
            f" AND {column} <> ''" if isinstance(field, BlindPrefixField) else ""
        )

    def counts(self) -> dict[str, Counter[int]]:
        table = _qn(self.model._meta.db_table)
        legacy = _first_blind_key_id()
        result: dict[str, Counter[int]] = {}
        with connection.cursor() as cursor:
            for field in self.fields:
                cursor.execute(
                    f"SELECT {self._marker_expr(field)}, COUNT(*) FROM {table} "  # noqa: S608
                    f"WHERE {self._present(field)} GROUP BY 1"
                )
                counts: Counter[int] = Counter()
                for marker, n in cursor.fetchall():
                    if marker is None:
                        counts[legacy] += n
                    elif isinstance(marker, str):
                        counts[int(marker, 16)] += n
                    else:
                        counts[int.from_bytes(bytes(marker), "big")] += n
                result[f"{self.model._meta.label}.{field.name}"] = counts
        return result

    def pending(self, primary_key_id: int) -> int:
        return _not_under(self.counts(), primary_key_id)

    def _stale_condition(self) -> tuple[str, list[Any]]:
        primary = keyring().primary(Purpose.BLIND_INDEX)
        parts, params = [], []
        for field in self.fields:
            expr = self._marker_expr(field)
            marker: Any = (
                index_marker(primary) if isinstance(field, BlindIndexField) else prefix_marker(primary)[1:]
            )
            if marker:
                parts.append(f"({self._present(field)} AND ({expr} IS NULL OR {expr} <> %s))")
                params.append(marker)
            else:  # the primary is v1: only marked values are stale
                parts.append(f"({self._present(field)} AND {expr} IS NOT NULL)")
        return " OR ".join(parts), params

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        """Keyset batches of raw tuples: each source decrypted once a row, every
        index and prefix column computed under the primary with its subkey
        derived once a batch, one compare-and-swap UPDATE a batch on the old
        index values (ADR 1611)."""
        meta = self.model._meta
        assert meta.pk is not None
        pk = meta.pk
        sources: list[EncryptedField] = []
        for field in self.fields:
            for name in field.sources:
                source = meta.get_field(name)
                assert isinstance(source, EncryptedField)  # checked by crypto.E103
                if source not in sources:
                    sources.append(source)
        row_ids = [c for c in {s._row_id_target(): None for s in sources} if c is not pk]
        id_position = [
            0 if s._row_id_target() is pk else 1 + row_ids.index(s._row_id_target()) for s in sources
        ]
        first_source = 1 + len(row_ids)
        first_index = first_source + len(sources)
        inputs = [[sources.index(meta.get_field(name)) for name in f.sources] for f in self.fields]  # type: ignore[arg-type]
        columns = [_column(pk), *(_column(c) for c in row_ids), *(_column(s) for s in sources)]
        columns += [_column(f) for f in self.fields]
        writer = _CasWriter(self.model, self.fields, keep_unmoved=False)
        ring = keyring()
        last: Any = None
        while True:
            condition, params = self._stale_condition()
            rows = _fetch_batch(self.model, columns, condition, params, last, batch_size)
            if not rows:
                return
            compute = self._indexers(ring.primary(Purpose.BLIND_INDEX))
            changes: list[_RowChange] = []
            for row in rows:
                plain = [
                    None
                    if row[first_source + i] is None
                    else source.codec_decode(
                        ring.open(
                            bytes(row[first_source + i]),
                            associated_data=source.associated_data(_as_uuid(row[id_position[i]])),
                        )
                    )
                    for i, source in enumerate(sources)
                ]
                old = [_plain_bytes(row[first_index + j]) for j in range(len(self.fields))]
                new = [compute[j]([plain[i] for i in inputs[j]]) for j in range(len(self.fields))]
                weight = sum(a != b for a, b in zip(old, new, strict=True))
                if weight:
                    changes.append(_RowChange(row[0], new, old, weight))
            with transaction.atomic():
                count = writer.write(changes)
            last = rows[-1][0]
            on_batch(count)
            yield count

    def _indexers(self, key: LoadedKey) -> list[Callable[[list[Any]], Any]]:
        """Per field: its stored value from the plain sources under `key`."""
        return [
            _index_of(field, blind_indexer(normaliser=field.normaliser, scope=field.scope, key=key))
            if isinstance(field, BlindIndexField)
            else _prefix_of(field, key)
            for field in self.fields
        ]


def _index_of(field: BlindIndexField, index: Callable[[Any], bytes]) -> Callable[[list[Any]], Any]:
    def compute(plain: list[Any]) -> Any:
        if any(value is None for value in plain):
            return None
        return field._derive_or_empty(index, field._normaliser_input(plain), None)

    return compute


def _prefix_of(field: BlindPrefixField, key: LoadedKey) -> Callable[[list[Any]], Any]:
    def compute(plain: list[Any]) -> Any:
        if plain[0] is None:
            return ""
        return " ".join(field._derive_or_empty(lambda value: field.tokens(value, key=key), plain[0], []))

    return compute


def _plain_bytes(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


@dataclasses.dataclass(frozen=True)
class StoredBlindValues:
    """Blind-index values another app keeps in plain binary columns without
    their plaintext (detection's staff match keys). Counted per key version,
    so the old blind-index key does not retire from under them; they cannot
    be recomputed here: whoever holds the plaintext enters them again."""

    model_label: str
    columns: tuple[str, ...]
    writers: tuple[str, ...]
    how_to_renew: str

    purpose = Purpose.BLIND_INDEX
    stream_prefixes: tuple[bytes, ...] = ()
    secret_purposes: tuple[str, ...] = ()
    lifetime: dt.timedelta | None = None

    @property
    def label(self) -> str:
        return f"{self.model_label} ({self.how_to_renew})"

    def counts(self) -> dict[str, Counter[int]]:
        model = apps.get_model(self.model_label)
        legacy = _first_blind_key_id()
        result: dict[str, Counter[int]] = {}
        for column in self.columns:
            counts: Counter[int] = Counter()
            values = model._default_manager.exclude(**{f"{column}__isnull": True}).values_list(
                column, flat=True
            )
            for value in values.iterator():
                raw = bytes(value)
                counts[legacy if len(raw) == INDEX_BYTES else int.from_bytes(raw[:4], "big")] += 1
            result[f"{self.model_label}.{column} ({self.how_to_renew})"] = counts
        return result

    def pending(self, primary_key_id: int) -> int:
        return _not_under(self.counts(), primary_key_id)

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        return iter(())


def blind_index_stores() -> list[BlindIndexStore]:
    grouped: dict[type[models.Model], list[BlindIndexField | BlindPrefixField]] = {}
    for field in blind_fields():
        grouped.setdefault(field.model, []).append(field)
    return [BlindIndexStore(model, fields) for model, fields in grouped.items()]


def _not_under(counts: dict[str, Counter[int]], primary_key_id: int) -> int:
    return sum(n for part in counts.values() for key_id, n in part.items() if key_id != primary_key_id)


def _replace_file(new: Path, target: Path) -> None:
    new.replace(target)


@dataclasses.dataclass(frozen=True)
class FileStreamStore:
    """Files encrypted with ``safeward.crypto.streams`` in one folder.

    ``associated_data(path)`` rebuilds the associated data a file was written
    with (from its name). Re-encryption writes the moved file beside the old
    one and renames it into place (a reader holding the old file open keeps
    reading it), so plaintext never touches the disk; ``replace(new, target)``
    lets the owner do more at that moment (the audit archive re-signs its
    manifest). A file whose header cannot be read counts under key id 0,
    which no keyring holds, so status reports it and retirement waits."""

    label: str
    directory: Callable[[], Path]
    pattern: str
    associated_data: Callable[[Path], bytes]
    stream_prefixes: tuple[bytes, ...]
    writers: tuple[str, ...]
    replace: Callable[[Path, Path], None] = _replace_file
    # What the files hold (safeward.crypto.phi); None: undeclared, which `safeward check` refuses.
    phi_categories: tuple[PhiCategory, ...] | None = None

    purpose = Purpose.DATA
    secret_purposes: tuple[str, ...] = ()
    lifetime: dt.timedelta | None = None

    def files(self) -> list[Path]:
        folder = self.directory()
        return sorted(folder.glob(self.pattern)) if folder.is_dir() else []

    @staticmethod
    def key_id(path: Path) -> int:
        from safeward.crypto.streams import stream_key_id

        try:
            with path.open("rb") as handle:
                return stream_key_id(handle)
        except (OSError, IntegrityError):
            return 0

    def counts(self) -> dict[str, Counter[int]]:
        return {self.label: Counter(self.key_id(path) for path in self.files())}

    def pending(self, primary_key_id: int) -> int:
        return _not_under(self.counts(), primary_key_id)

    def move(self, path: Path) -> None:
        from safeward.crypto.streams import reencrypt_stream

        moved = path.with_name(f".{path.name}.rekey")
        moved.unlink(missing_ok=True)  # left by an interrupted run
        try:
            descriptor = os.open(moved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with path.open("rb") as source, os.fdopen(descriptor, "wb") as target:
                reencrypt_stream(source, target, associated_data=self.associated_data(path))
                target.flush()
                os.fsync(target.fileno())
            self.replace(moved, path)
        finally:
            moved.unlink(missing_ok=True)

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        primary = keyring().primary().key_id
        stale = [path for path in self.files() if self.key_id(path) not in (primary, 0)]
        for start in range(0, len(stale), batch_size):
            batch = stale[start : start + batch_size]
            for path in batch:
                self.move(path)
            on_batch(len(batch))
            yield len(batch)


@dataclasses.dataclass(frozen=True)
class EnvironmentSecretStore:
    """A secret token an operator keeps in a setting or the environment. It is
    counted (retirement waits for it) but cannot be rewritten from here:
    `safeward keys reencrypt` leaves it pending and the operator reseals it
    with `safeward keys seal --purpose <purpose>`."""

    setting: str
    secret_purpose: str
    read: Callable[[], str]
    writers: tuple[str, ...]

    purpose = Purpose.DATA
    stream_prefixes: tuple[bytes, ...] = ()
    lifetime: dt.timedelta | None = None

    @property
    def label(self) -> str:
        return f"{self.setting} ({self.secret_purpose} secret; reseal with `safeward keys seal`)"

    @property
    def secret_purposes(self) -> tuple[str, ...]:
        return (self.secret_purpose,)

    def counts(self) -> dict[str, Counter[int]]:
        token = self.read()
        if not is_secret_token(token):
            return {self.label: Counter()}
        try:
            key_id = secret_key_id(token)
        except IntegrityError:
            key_id = 0
        return {self.label: Counter({key_id: 1})}

    def pending(self, primary_key_id: int) -> int:
        return _not_under(self.counts(), primary_key_id)

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        return iter(())


@dataclasses.dataclass(frozen=True)
class TransientSecrets:
    """Tokens handed out and never stored (e.g. FHIR paging cursors), valid for
    at most `lifetime`: nothing to count or move, but a key retires only once
    it has stopped encrypting longer ago than that."""

    label: str
    secret_purposes: tuple[str, ...]
    writers: tuple[str, ...]
    lifetime: dt.timedelta

    purpose = Purpose.DATA
    stream_prefixes: tuple[bytes, ...] = ()

    def counts(self) -> dict[str, Counter[int]]:
        return {}

    def pending(self, primary_key_id: int) -> int:
        return 0

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        return iter(())


def all_stores() -> list[CiphertextStore]:
    """Every store: the ones found through the app registry, then the registered ones."""
    return [*model_stores(), *blind_index_stores(), *registry.registered_stores()]


def stores_of(purpose: str) -> list[CiphertextStore]:
    return [store for store in all_stores() if store.purpose == purpose]
