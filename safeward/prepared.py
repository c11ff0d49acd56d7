"""A cursor whose statements PostgreSQL prepares once per connection (ADR 0591).

Django's cursors bind parameters on the client (psycopg's `ClientCursor`),
so the server parses and plans every statement again. A few hot statements
have a fixed text and run on every list and chart: the relationship-facts
statement (a UNION ALL over care team, encounters, appointments, grants and
restrictions, about 0.5 ms to plan) and the audit event's insert. Through
this cursor they are bound on the server and prepared on their first use in
a connection, then only bound and executed.

The cursor is Django's wrapper around a psycopg server-binding cursor, so the
connection's execute wrappers (the one-door guard in the tests, query
counting) and its error translation see these statements like any other.
The settings give psycopg a `prepare_threshold` so that it may prepare at
all (Django's default None turns preparing off, and its own cursors never
prepare). Elsewhere than PostgreSQL it is an ordinary cursor; with
`prepare_threshold` None in the database OPTIONS (behind a transaction-
pooling PgBouncer) the statements are bound on the server, not prepared.

`overlapped()` sends a block's statements without waiting for their answers
(psycopg's pipeline mode), so the server executes a list's audit event while
the list's rows are decrypted (ADR 0592).

`Compiled` runs a queryset of a fixed shape, whose values only change, from
SQL the ORM compiled once per thread, through this cursor (ADR 1632)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models.query import ValuesListIterable, get_related_populators
from django.db.models.sql.compiler import SQLCompiler


class _Preparing(psycopg.Cursor[Any]):
    """psycopg's server-binding cursor, asking to prepare every statement it runs."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = True, **kwargs: Any) -> Any:
        return super().execute(query, params, prepare=prepare, **kwargs)


def _this() -> BaseDatabaseWrapper:
    """The default connection itself, not the `connection` proxy: each read
    of the proxy is a context-local look-up (about 0.5 us), and these
    functions read it ten times a list."""
    return connections[DEFAULT_DB_ALIAS]


def in_pipeline() -> bool:
    """Whether this connection is inside `overlapped()` (a statement's answer is then not waited for)."""
    this = _this()
    if this.vendor != "postgresql" or this.connection is None:
        return False
    return bool(this.connection.pgconn.pipeline_status)


@contextmanager
def overlapped() -> Iterator[None]:
    """PostgreSQL: statements executed in the block are sent at once and not
    waited for; the server runs them while the block's Python goes on, and
    the block ends only when every one of them has completed, raising the
    first one's error as Django does. A statement whose rows the block reads
    (any ORM query) waits for its answer on the spot, as outside the block,
    and so does a transaction begun in the block. Elsewhere than PostgreSQL
    the block runs as it is."""
    this = _this()
    if this.vendor != "postgresql":
        yield
        return
    this.ensure_connection()
    begin = this._set_autocommit  # type: ignore[attr-defined]

    def begin_after_what_was_sent(autocommit: bool) -> None:
        # psycopg refuses to start a transaction (an `atomic` block in the
        # block) while a statement is in flight: wait for them first.
        pipeline.sync()
        begin(autocommit)

    with this.wrap_database_errors, this.connection.pipeline() as pipeline:
        setattr(this, "_set_autocommit", begin_after_what_was_sent)  # noqa: B010 - for this block only
        try:
            yield
        finally:
            delattr(this, "_set_autocommit")  # the backend's own method again


def sync_sent() -> None:
    """Inside `overlapped()`: end what was sent so far with a Sync, without
    waiting for the answers. Outside a transaction the server then commits
    it at once (an implicit transaction ends at a Sync), so the commit's
    WAL flush overlaps the block's Python too. psycopg has no public call for
    this (`Pipeline.sync()` waits for every answer); its pipeline's own
    queueing is used, pinned by tests/audit/test_overlapped_event.py."""
    this = _this()
    raw = this.connection
    pipeline = raw._pipeline
    assert pipeline is not None, "sync_sent() is for a block of overlapped()"
    with this.wrap_database_errors:
        pipeline._enqueue_sync()
        raw.wait(pipeline._communicate_gen())


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose `execute` prepares its statement on the server (PostgreSQL)."""
    this = _this()
    if this.vendor != "postgresql":
        with this.cursor() as plain:
            yield plain
        return
    this.ensure_connection()
    with this.wrap_database_errors:
        raw = _Preparing(this.connection)
    # Django's own wrapping of a new cursor (thread check, debug logging).
    wrapped: CursorWrapper = this._prepare_cursor(raw)  # type: ignore[attr-defined]
    with wrapped:
        yield wrapped


def _stand_in(value: Any, n: int) -> Any:
    """A value of `value`'s kind that no real value has: the n-th value of
    a compiled query, found among the compiled parameters and replaced
    there by each run's value."""
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=0x5AFE_3A2D_0000_4000_8000_C0A1_D5A1_E000 + n)
    if isinstance(value, dt.datetime):
        return dt.datetime(1901, 2, 3, 4, 5, 6, n, tzinfo=dt.UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return -(0x5AFE_0000 + n)  # ids are positive; fits a 32-bit column
    if isinstance(value, str):
        return f"\x1fsafeward-stand-in-{n}\x1f"
    raise TypeError(f"a compiled query takes UUIDs, times, ints and text, not {type(value).__name__}")


_UUID = models.UUIDField()


def _adapted(value: Any) -> Any:
    """A value as the ORM passes it to the database for a UUID or a time column."""
    if isinstance(value, uuid.UUID):
        return _UUID.get_db_prep_value(value, connection)
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"a compiled query takes UUIDs, times, ints and text, not {type(value).__name__}")


type _Converters = tuple[tuple[int, tuple[Any, ...], Any], ...]


@dataclass(frozen=True)
class _Shape:
    """A compiled statement: its SQL, its parameters with the run's values'
    positions (`slots`), and the ORM's converters of its selected columns."""

    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position in params, name of the value)
    converters: _Converters


@dataclass(frozen=True)
class _Plan(_Shape):
    from_db: Callable[..., Any]  # the model class's from_db with the fetch mode
    init_list: tuple[str, ...]
    start: int
    end: int
    populators: tuple[Any, ...]
    db: str


@dataclass(frozen=True)
class _ValuesPlan(_Shape):
    width: int  # the selected columns (the rest, if any, are the ordering's)


def _converted(row: list[Any], converters: _Converters) -> list[Any]:
    """A fetched row with the ORM's converters applied, as its iterables do."""
    for position, convs, expression in converters:
        value = row[position]
        for convert in convs:
            value = convert(value, expression, connection)
        row[position] = value
    return row


class _Fixed[P: _Shape, Q: models.QuerySet[Any]]:
    """What `Compiled` and `CompiledValues` share: a queryset builder whose
    SQL the ORM compiles once per thread and connection, with stand-in
    values (`_stand_in`) found again among the compiled parameters, each
    run's values put in their place. Per thread because a plan holds the
    converters of that thread's connection."""

    _plans = threading.local()

    def __init__(self, name: str, build: Callable[..., Q]) -> None:
        self.name = name
        self.build = build

    def _plan(self, values: dict[str, Any]) -> P:
        plans: dict[tuple[type, str, str], P] = self._plans.__dict__.setdefault("by_name", {})
        key = (type(self), self.name, connection.alias)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = self._compile(values)
        return plan

    def _compile(self, values: dict[str, Any]) -> P:
        raise NotImplementedError

    def _compiled(self, values: dict[str, Any]) -> tuple[Q, SQLCompiler, _Shape]:
        """The queryset built from stand-ins, its compiler, and its shape
        without converters (the caller chooses the columns they apply to)."""
        stand_ins = {name: _stand_in(value, n) for n, (name, value) in enumerate(sorted(values.items()))}
        query = self.build(**stand_ins)
        compiler = query.query.get_compiler(using=query.db)
        sql, params = compiler.as_sql()
        adapted = {name: _adapted(value) for name, value in stand_ins.items()}
        slots = tuple((i, name) for i, p in enumerate(params) for name, a in adapted.items() if p == a)
        missing = set(values) - {name for _, name in slots}
        assert not missing, f"{self.name}: the compiled query does not use {sorted(missing)}"
        return query, compiler, _Shape(sql=sql, params=tuple(params), slots=slots, converters=())

    @staticmethod
    def _converters(compiler: SQLCompiler, fields: list[Any]) -> _Converters:
        return tuple(
            (pos, tuple(convs), expr) for pos, (convs, expr) in compiler.get_converters(fields).items()
        )

    def _params(self, plan: P, values: dict[str, Any]) -> list[Any]:
        params = list(plan.params)
        for position, name in plan.slots:
            params[position] = _adapted(values[name])
        return params

    def _fetched(self, values: dict[str, Any]) -> tuple[P, list[Any]]:
        plan = self._plan(values)
        with prepared_cursor() as cursor:
            cursor.execute(plan.sql, self._params(plan, values))
            return plan, cursor.fetchall()


class Compiled[M: models.Model](_Fixed[_Plan, models.QuerySet[M]]):
    """A queryset of a fixed shape (a chart section's: the same filters,
    joins, order and limit for every patient) whose SQL the ORM compiles
    once per thread; each run substitutes its values (UUIDs, times, ids,
    text) in the compiled parameters, executes the statement through
    `prepared_cursor` and builds the model instances exactly as the ORM
    does (its converters, `from_db`, its select_related populators), so
    callers get the same instances as `list(build(**values))`, without
    building and compiling the queryset on every call."""

    def _compile(self, values: dict[str, Any]) -> _Plan:
        query, compiler, shape = self._compiled(values)
        select, klass_info = compiler.select, compiler.klass_info
        assert klass_info is not None, "model rows only"
        assert not compiler.annotation_col_map, "model rows only"
        first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        fetch_mode = query._fetch_mode  # type: ignore[attr-defined]
        assert not fetch_mode.track_peers, "peers are tracked per run, not per plan"
        model = klass_info["model"]
        return _Plan(
            sql=shape.sql,
            params=shape.params,
            slots=shape.slots,
            converters=self._converters(compiler, [s[0] for s in select[: compiler.col_count]]),
            from_db=lambda db, names, values: model.from_db(db, names, values, fetch_mode=fetch_mode),
            init_list=tuple(f[0].target.attname for f in select[first:last]),
            start=first,
            end=last,
            populators=tuple(get_related_populators(klass_info, select, query.db, fetch_mode)),
            db=query.db,
        )

    def rows(self, **values: Any) -> list[M]:
        """The instances `list(build(**values))` would give (one statement)."""
        return self._objects(*self._fetched(values))

    def _objects(self, plan: _Plan, fetched: list[Any]) -> list[M]:
        objects: list[M] = []
        for row in map(list, fetched):
            _converted(row, plan.converters)
            obj: M = plan.from_db(plan.db, plan.init_list, row[plan.start : plan.end])
            for populator in plan.populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects


class CompiledValues(_Fixed[_ValuesPlan, models.QuerySet[Any]]):
    """`Compiled` for a `values_list()` queryset (plain, not flat or named):
    each run gives the tuples `list(build(**values))` would, converted by
    the ORM's own converters (a JSON column read, a time made aware). For
    the fixed reads every signed-in request makes (ADR 0309)."""

    def _compile(self, values: dict[str, Any]) -> _ValuesPlan:
        query, compiler, shape = self._compiled(values)
        assert query._iterable_class is ValuesListIterable, f"{self.name}: values_list() rows only"
        width = compiler.col_count
        assert width is not None, f"{self.name}: compiled, so its columns are counted"
        fields = [s[0] for s in compiler.select[:width]]
        assert not compiler.has_composite_fields(fields), f"{self.name}: no composite keys"
        return _ValuesPlan(
            sql=shape.sql,
            params=shape.params,
            slots=shape.slots,
            converters=self._converters(compiler, fields),
            width=width,
        )

    def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        """The tuples `list(build(**values))` would give (one statement)."""
        plan, fetched = self._fetched(values)
        return [tuple(_converted(list(row[: plan.width]), plan.converters)) for row in fetched]


def rows_together(queries: dict[str, tuple[Compiled[Any], dict[str, Any]]]) -> dict[str, list[Any]]:
    """Each named compiled query's instances, as its `rows(**values)` gives
    them. PostgreSQL: every statement is sent before the first answer is
    read (`overlapped()`), so a chart's sections cost one round trip
    together instead of one each: the server runs them back to back, with
    no wait for this process in between (ADR 1633). Each statement has its
    own cursor, which its answer is read from; all are read before the
    block ends. Elsewhere they run one after the other. None or one query
    needs no pipeline (its Sync would be a round trip of its own)."""
    if len(queries) <= 1:
        return {name: query.rows(**values) for name, (query, values) in queries.items()}
    plans = {name: (query, query._plan(values), values) for name, (query, values) in queries.items()}
    with overlapped(), ExitStack() as cursors:
        sent = {}
        for name, (query, plan, values) in plans.items():
            cursor = cursors.enter_context(prepared_cursor())
            cursor.execute(plan.sql, query._params(plan, values))
            sent[name] = cursor
        fetched = {name: cursor.fetchall() for name, cursor in sent.items()}
    return {name: query._objects(plan, fetched[name]) for name, (query, plan, _) in plans.items()}
