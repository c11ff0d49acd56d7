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
from collections.abc import Callable, Iterator
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
    encrypted_fields,
    index_marker,
    prefix_marker,
)
from safeward.crypto.keyring import Purpose, keyring
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
        meta = self.model._meta
        assert meta.pk is not None
        pk = meta.pk
        table = _qn(meta.db_table)
        row_ids = self._row_id_columns()
        select_columns = (
            [_column(pk)] + [_column(c) for c in row_ids if c is not pk] + [_column(f) for f in self.fields]
        )
        last: Any = None
        while True:
            primary = keyring().primary().key_id.to_bytes(4, "big")
            params: list[Any] = [primary] * len(self.fields)
            after = ""
            if last is not None:
                after = f"{_qn(_column(pk))} > %s AND "
                params.insert(0, last)
            params.append(batch_size)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {', '.join(_qn(c) for c in select_columns)} FROM {table} "  # noqa: S608
                        f"WHERE {after}({self._stale_condition()}) ORDER BY {_qn(_column(pk))} LIMIT %s",
                        params,
                    )
                    rows = cursor.fetchall()
                if not rows:
                    return
                moved = self._write_batch([self._plan_row(row, row_ids, pk) for row in rows], pk)
                last = rows[-1][0]
            on_batch(moved)
            yield moved

    def _plan_row(
        self, row: tuple[Any, ...], row_ids: list[models.Field[Any, Any]], pk: models.Field[Any, Any]
    ) -> tuple[tuple[str, ...], list[Any]]:
        """(columns to move, UPDATE parameters) for one row; decrypts and
        re-encrypts in memory only."""
        values = dict(zip([_column(pk)] + [_column(c) for c in row_ids if c is not pk], row, strict=False))
        ciphertexts = row[len(row) - len(self.fields) :]
        columns, params_set, params_where = [], [], []
        for field, stored in zip(self.fields, ciphertexts, strict=True):
            if stored is None:
                continue
            raw_id = values[_column(field._row_id_target())]
            row_id = raw_id if isinstance(raw_id, uuid.UUID) else uuid.UUID(str(raw_id))
            old = bytes(stored)
            new = keyring().reseal(old, associated_data=field.associated_data(row_id))
            if new is None:
                continue
            columns.append(_column(field))
            params_set.append(new)
            params_where.append(old)
        return tuple(columns), [*params_set, row[0], *params_where]

    def _write_batch(self, plans: list[tuple[tuple[str, ...], list[Any]]], pk: models.Field[Any, Any]) -> int:
        """One compare-and-swap UPDATE per row, sent with executemany per set of
        columns (pipelined on PostgreSQL). A row edited since it was read does
        not match and keeps the edit; it is counted as not moved."""
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        for columns, params in plans:
            if columns:
                groups.setdefault(columns, []).append(params)
        moved = 0
        table = _qn(self.model._meta.db_table)
        with connection.cursor() as cursor:
            for columns, param_rows in groups.items():
                sql = (
                    f"UPDATE {table} SET {', '.join(f'{_qn(c)} = %s' for c in columns)} "  # noqa: S608
                    f"WHERE {_qn(_column(pk))} = %s AND {' AND '.join(f'{_qn(c)} = %s' for c in columns)}"
                )
                cursor.executemany(sql, param_rows)
                if cursor.rowcount == len(param_rows):
                    moved += len(columns) * len(param_rows)
                else:  # some rows changed meanwhile: count exactly what now holds our new ciphertexts
                    for params in param_rows:
                        moved += self._count_written(cursor, columns, params, pk)
        return moved

    def _count_written(
        self, cursor: Any, columns: tuple[str, ...], params: list[Any], pk: models.Field[Any, Any]
    ) -> int:
        cursor.execute(
            f"SELECT COUNT(*) FROM {_qn(self.model._meta.db_table)} "  # noqa: S608
            f"WHERE {_qn(_column(pk))} = %s AND {' AND '.join(f'{_qn(c)} = %s' for c in columns)}",
            [params[len(columns)], *params[: len(columns)]],
        )
        return len(columns) if cursor.fetchone()[0] else 0


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
        meta = self.model._meta
        assert meta.pk is not None
        pk = _qn(_column(meta.pk))
        table = _qn(meta.db_table)
        manager = self.model._base_manager
        last: Any = None
        while True:
            condition, params = self._stale_condition()
            after = ""
            if last is not None:
                after = f"{pk} > %s AND "
                params.insert(0, last)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {pk} FROM {table} WHERE {after}({condition}) "  # noqa: S608
                        f"ORDER BY {pk} LIMIT %s",
                        [*params, batch_size],
                    )
                    pks = [row[0] for row in cursor.fetchall()]
                if not pks:
                    return
                moved = 0
                for instance in manager.filter(pk__in=pks):
                    old = {f.attname: getattr(instance, f.attname) for f in self.fields}
                    new = {f.attname: f.recompute(instance) for f in self.fields}
                    changed = {name: value for name, value in new.items() if _differs(old[name], value)}
                    if changed and manager.filter(pk=instance.pk, **_exactly(old)).update(**changed):
                        moved += len(changed)
                last = pks[-1]
            on_batch(moved)
            yield moved


def _differs(old: Any, new: Any) -> bool:
    return bool((bytes(old) if isinstance(old, memoryview) else old) != new)


def _exactly(values: dict[str, Any]) -> dict[str, Any]:
    """Filter arguments matching these exact column values (None as IS NULL)."""
    return {
        (f"{name}__isnull" if value is None else name): (True if value is None else value)
        for name, value in values.items()
    }


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
