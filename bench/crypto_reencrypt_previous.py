"""The re-encryption path as it was before ADR 1611, kept as the baseline
`bench/crypto_reencrypt.py` measures against in the same run: data values
one compare-and-swap UPDATE per row (executemany per set of columns), blind
indexes recomputed row by row through model instances and the ORM."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.db import connection, models, transaction

from safeward.crypto.keyring import Keyring, _seal_with, header_key_id, keyring
from safeward.crypto.registry import ProgressCallback
from safeward.crypto.stores import BlindIndexStore, ModelStore, _column, _qn


def model_reencrypt(self: ModelStore, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
    meta = self.model._meta
    assert meta.pk is not None
    pk = meta.pk
    table = _qn(meta.db_table)
    row_ids: list[models.Field[Any, Any]] = []
    for field in self.fields:
        target = field._row_id_target()
        if target not in row_ids:
            row_ids.append(target)
    select_columns = (
        [_column(pk)] + [_column(c) for c in row_ids if c is not pk] + [_column(f) for f in self.fields]
    )
    stale = " OR ".join(
        f"({_qn(_column(f))} IS NOT NULL AND SUBSTR({_qn(_column(f))}, 2, 4) <> %s)" for f in self.fields
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
                    f"WHERE {after}({stale}) ORDER BY {_qn(_column(pk))} LIMIT %s",
                    params,
                )
                rows = cursor.fetchall()
            if not rows:
                return
            moved = _write_batch(self, [_plan_row(self, row, row_ids, pk) for row in rows], pk)
            last = rows[-1][0]
        on_batch(moved)
        yield moved


def _plan_row(
    self: ModelStore, row: tuple[Any, ...], row_ids: list[models.Field[Any, Any]], pk: models.Field[Any, Any]
) -> tuple[tuple[str, ...], list[Any]]:
    values = dict(zip([_column(pk)] + [_column(c) for c in row_ids if c is not pk], row, strict=False))
    ciphertexts = row[len(row) - len(self.fields) :]
    columns, params_set, params_where = [], [], []
    for field, stored in zip(self.fields, ciphertexts, strict=True):
        if stored is None:
            continue
        raw_id = values[_column(field._row_id_target())]
        row_id = raw_id if isinstance(raw_id, uuid.UUID) else uuid.UUID(str(raw_id))
        old = bytes(stored)
        new = _reseal(keyring(), old, associated_data=field.associated_data(row_id))
        if new is None:
            continue
        columns.append(_column(field))
        params_set.append(new)
        params_where.append(old)
    return tuple(columns), [*params_set, row[0], *params_where]


def _write_batch(
    self: ModelStore, plans: list[tuple[tuple[str, ...], list[Any]]], pk: models.Field[Any, Any]
) -> int:
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
            else:
                for params in param_rows:
                    same = " AND ".join(f"{_qn(c)} = %s" for c in columns)
                    cursor.execute(
                        f"SELECT COUNT(*) FROM {table} WHERE {_qn(_column(pk))} = %s AND {same}",  # noqa: S608
                        [params[len(columns)], *params[: len(columns)]],
                    )
                    moved += len(columns) if cursor.fetchone()[0] else 0
    return moved


def blind_reencrypt(self: BlindIndexStore, *, batch_size: int, on_batch: ProgressCallback) -> Iterator[int]:
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


def _reseal(ring: Keyring, blob: bytes, *, associated_data: bytes) -> bytes | None:
    primary = ring.primary()
    if header_key_id(blob) == primary.key_id:
        return None
    return _seal_with(primary, ring.open(blob, associated_data=associated_data), associated_data)
