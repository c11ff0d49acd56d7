"""Where ciphertext lives, so status can count it and re-encryption can move it.

Two kinds of store:

* every encrypted model field (found through the app registry, nothing to
  register): ``FieldStore``;
* secret tokens (``safeward.crypto.secrets``) kept inside JSON columns of
  models SafeWard does not own, registered in ``SECRET_STORES``: allauth's
  MFA authenticators (TOTP secret, recovery-code seed and migrated codes).

Both count values per key id without decrypting, and move values to the
primary key in batches, each batch one short transaction, each row written
with a compare-and-swap so a concurrent edit by the application wins.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from django.apps import apps
from django.db import connection, models, transaction

from safeward.crypto.fields import EncryptedField, encrypted_fields
from safeward.crypto.keyring import keyring
from safeward.crypto.secrets import is_secret_token, reseal_secret, secret_key_id

ProgressCallback = Callable[[int], None]


class CiphertextStore(Protocol):
    label: str

    def count(self) -> Counter[int]:
        """Stored values per key id."""
        ...

    def pending(self, primary_key_id: int) -> int:
        """Values not yet under the primary key."""
        ...

    def reencrypt(self, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
        """Move values to the primary, yielding the number moved per batch."""
        ...


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

    @property
    def label(self) -> str:
        return self.model._meta.label

    def columns(self) -> list[str]:
        return [f"{self.label}.{f.name}" for f in self.fields]

    def count_by_column(self) -> dict[str, Counter[int]]:
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

    def count(self) -> Counter[int]:
        total: Counter[int] = Counter()
        for counts in self.count_by_column().values():
            total.update(counts)
        return total

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

    label: str
    json_field: str
    keys: tuple[str, ...]
    purpose: str

    def _model(self) -> type[models.Model] | None:
        try:
            return apps.get_model(self.label)
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

    def count(self) -> Counter[int]:
        model = self._model()
        counts: Counter[int] = Counter()
        if model is None:
            return counts
        for data in model._default_manager.values_list(self.json_field, flat=True).iterator():
            counts.update(secret_key_id(token) for token in self._tokens(data))
        return counts

    def pending(self, primary_key_id: int) -> int:
        return sum(n for key_id, n in self.count().items() if key_id != primary_key_id)

    def _reseal(self, data: dict[str, Any]) -> int:
        moved = 0
        for key in self.keys:
            value = data.get(key)
            if isinstance(value, list):
                new_list = [
                    reseal_secret(v, purpose=self.purpose) if is_secret_token(v) else None for v in value
                ]
                if any(n is not None for n in new_list):
                    data[key] = [n if n is not None else v for n, v in zip(new_list, value, strict=True)]
                    moved += sum(n is not None for n in new_list)
            elif is_secret_token(value):
                new = reseal_secret(value, purpose=self.purpose)
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


SECRET_STORES: list[JSONSecretStore] = [
    JSONSecretStore("mfa.Authenticator", "data", ("secret", "seed", "migrated_codes"), "mfa"),
]


def all_stores() -> list[ModelStore | JSONSecretStore]:
    return [*model_stores(), *SECRET_STORES]
