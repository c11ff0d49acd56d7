"""The one function every part of SafeWard calls to record what happened.

It writes in the caller's transaction: if the event cannot be written, the
caller's atomic block fails with it and the access it guards does not happen
(fail closed)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, connections, transaction

from safeward import clock
from safeward.audit import context
from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.prepared import in_pipeline, prepared_cursor, sync_sent

if TYPE_CHECKING:
    from safeward.crypto.services import KeyEvent

# Keys that could carry a secret. A detail mapping holding one is a bug in the
# caller and is refused loudly rather than written.
_FORBIDDEN_DETAIL_KEYS = ("password", "secret", "token", "code", "otp", "key_material", "seed")
_MAX_DETAIL_VALUE = 200


class AuditWriteError(RuntimeError):
    """The event was refused; the surrounding access must not proceed."""


# The actor's roles, stamped on each event, are identity's to know: identity
# registers its `user_role_codes` in its `ready()` (as it registers the
# permission filters other apps hand it), so the audit writer sits below
# identity and imports nothing of it. With none registered an event with an
# actor is refused (fail closed), never written without its roles.
ActorRoles = Callable[[AbstractBaseUser], Iterable[str]]
_ACTOR_ROLES: list[ActorRoles] = []


def register_actor_roles(provider: ActorRoles) -> None:
    _ACTOR_ROLES[:] = [provider]


def _actor_roles(actor: AbstractBaseUser) -> str:
    if not _ACTOR_ROLES:
        raise AuditWriteError("no provider of the actor's roles is registered (identity's ready())")
    return ",".join(sorted(_ACTOR_ROLES[0](actor)))


def _check_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in detail.items():
        lowered = key.lower()
        if any(word in lowered for word in _FORBIDDEN_DETAIL_KEYS):
            raise AuditWriteError(f"audit detail key {key!r} may carry a secret")
        if isinstance(value, str) and len(value) > _MAX_DETAIL_VALUE:
            raise AuditWriteError(f"audit detail {key!r} is longer than {_MAX_DETAIL_VALUE}")
        if not isinstance(value, str | int | float | bool | list | type(None)):
            raise AuditWriteError(f"audit detail {key!r} has an unsupported type")
        clean[key] = value
    return clean


def _actor_name(
    actor: AbstractBaseUser | None, actor_username: str, request_context: context.AuditContext
) -> str:
    if actor is not None:
        return actor.get_username()
    if request_context.source == context.SETUP_SOURCE:
        return context.SETUP_ACTOR
    return actor_username


def audit_record(
    *,
    action: Action,
    outcome: Outcome = Outcome.SUCCESS,
    actor: AbstractBaseUser | None = None,
    actor_username: str = "",
    resource_type: str = "",
    resource_id: str | int = "",
    patient_id: str | int = "",
    purpose: PurposeOfUse | None = None,
    reason: str = "",
    fields: Iterable[str] = (),
    detail: Mapping[str, Any] | None = None,
    source: str = "",
    patient_ids: Iterable[str] = (),
    with_row: RowWithEvent | None = None,
) -> AuditEvent:
    """Record one event. `actor_username` names an actor that is not (or not
    yet) a known user, e.g. a failed login for a username that may not exist;
    it is never a password or any other secret.

    `patient_ids` are the patients an event about several discloses (a
    search page, a clinic day, a worklist): sealed with the event as
    `detail["patients"]` and indexed one row each (`AuditEventPatient`), so
    every one of them finds the event in their accounting of disclosures.

    Call it inside the caller's `transaction.atomic()` block: the event then
    commits or rolls back with the access it records, and when it cannot be
    written the exception aborts the access (fail closed). The event and its
    index rows are all or nothing by themselves, so a read whose only write
    is its event (a list) may call it outside a transaction (ADR 0588).

    `with_row` (PostgreSQL): a row of the caller's written in the same
    statement, the row holding the event's id and the event's `resource_id`
    the row's id (ADR 0815)."""
    request_context = context.current()
    roles = _actor_roles(actor) if actor is not None else ""
    disclosed = sorted({str(pid) for pid in patient_ids if pid})
    clean = _check_detail(detail or {})
    if disclosed:
        clean["patients"] = disclosed
    event = AuditEvent(
        occurred_at=clock.now(),
        actor_id=actor.pk if actor is not None else None,
        actor_username=_actor_name(actor, actor_username, request_context)[:150],
        actor_roles=roles[:300],
        session_id=request_context.session_id,
        client_ip=request_context.client_ip,
        network_zone=request_context.network_zone,
        user_agent=request_context.user_agent[:300],
        request_id=request_context.request_id,
        action=action.value,
        outcome=outcome.value,
        resource_type=resource_type,
        resource_id=str(resource_id),
        patient_id=str(patient_id),
        purpose_of_use=purpose.value if purpose is not None else "",
        reason=reason[:500],
        fields=sorted(fields),
        detail=clean,
        source=(source or request_context.source or ("web" if request_context.request_id else "system"))[:64],
        client_id=request_context.client_id[:100],
        client_name=request_context.client_name[:255],
    )
    indexed = [pid[:64] for pid in disclosed]
    if with_row is None:
        _write(event, indexed)
        return event
    if resource_id != "" or indexed:
        raise AuditWriteError("an event written with a row names that row only: no resource id, no patients")
    _write_with_row(event, with_row)
    return event


@dataclass(frozen=True)
class RowWithEvent:
    """A row of the caller's table written in the same statement as its
    event (`audit_record(with_row=...)`, PostgreSQL): its `columns` and
    their database-ready `values`, and the column that receives the event's
    id. The event's `resource_id` becomes the row's id."""

    table: str
    columns: Sequence[str]
    values: Sequence[Any]
    event_column: str


def _write_with_row(event: AuditEvent, row: RowWithEvent) -> None:
    """Insert the caller's row and the event in one statement, each naming the
    other: all or nothing by itself, in the caller's transaction or as its
    own, so no BEGIN, link UPDATE or COMMIT round trips (an export's
    manifest, ADR 0815)."""
    if connection.vendor != "postgresql":
        raise NotImplementedError(
            "a row written with its event is PostgreSQL's: write them in one atomic block"
        )
    this = connections[connection.alias]
    prepared = [
        f.get_db_prep_save(f.pre_save(event, True), this) for f in _EVENT_FIELDS if f is not _RESOURCE_ID
    ]
    with prepared_cursor() as cursor:
        cursor.execute(
            _with_row_sql(row.table, tuple(row.columns), row.event_column), [*row.values, *prepared]
        )
        row_id, event.pk = cursor.fetchone()
    event.resource_id = str(row_id)
    event._state.adding, event._state.db = False, this.alias


# The event's columns as `_write` inserts them (every concrete field but the sequence number).
_EVENT_FIELDS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
_EVENT_COLUMNS = [str(f.column) for f in _EVENT_FIELDS]  # a concrete field always has its column


@functools.cache
def _event_sql(with_index: bool) -> str:
    """PostgreSQL's one statement for an event, and its index rows when
    `with_index` (built once each): the index rows inserted in a
    data-modifying CTE from the event's RETURNING id."""
    qn = connection.ops.quote_name
    events, index = qn(AuditEvent._meta.db_table), qn(AuditEventPatient._meta.db_table)
    columns = ", ".join(qn(column) for column in _EVENT_COLUMNS)
    values = ", ".join(["%s"] * len(_EVENT_FIELDS))
    insert = f"INSERT INTO {events} ({columns}) VALUES ({values}) RETURNING id"  # noqa: S608 - names from model metadata; values are parameters
    if not with_index:
        return insert
    return f"""WITH e AS ({insert}),
i AS (INSERT INTO {index} (event_id, occurred_at, patient_id)
 SELECT e.id, %s, ids.value FROM e, json_array_elements_text(%s::json) ids)
SELECT id FROM e"""  # noqa: S608 - names from model metadata; values are parameters


_RESOURCE_ID = AuditEvent._meta.get_field("resource_id")


@functools.cache
def _with_row_sql(table: str, columns: tuple[str, ...], event_column: str) -> str:
    """`_write_with_row`'s statement (built once per caller): the
    event's id drawn first from its sequence, then the row inserted with it,
    then the event with the row's id as its resource id."""
    qn = connection.ops.quote_name
    events = AuditEvent._meta.db_table
    row_columns = ", ".join(qn(column) for column in (*columns, event_column))
    row_values = ", ".join(["%s"] * len(columns))
    event_columns = ", ".join(qn(str(f.column)) for f in _EVENT_FIELDS)
    event_values = ", ".join(
        "(SELECT CAST(id AS text) FROM r)" if f is _RESOURCE_ID else "%s" for f in _EVENT_FIELDS
    )
    return f"""WITH ev AS (SELECT nextval(pg_get_serial_sequence('{events}', 'id')) AS id),
r AS (INSERT INTO {qn(table)} ({row_columns}) VALUES ({row_values}, (SELECT id FROM ev)) RETURNING id),
e AS (INSERT INTO {qn(events)} (id, {event_columns}) VALUES ((SELECT id FROM ev), {event_values}))
SELECT r.id, ev.id FROM r, ev"""  # noqa: S608 - names from model metadata; values are parameters


def _write(event: AuditEvent, patient_ids: list[str]) -> None:
    """Insert the event and its patient index rows, all or nothing, also
    outside a caller's transaction. PostgreSQL: one prepared statement (ADR
    0591), the index rows inserted in a data-modifying CTE from the event's
    RETURNING id (a list's event is one round trip, and a statement is a
    transaction of its own, so a list whose only write is its event needs
    no BEGIN and COMMIT); the event's fields prepared as `Model.save` would,
    without its machinery (every audited action writes one). Other
    databases: `save` and the index rows in one transaction (the caller's
    if any). Inside `prepared.overlapped()` an event with index rows is sent
    and not waited for: the event keeps no primary key, and the block's end
    raises its error."""
    if connection.vendor != "postgresql":
        if not patient_ids:
            event.save(force_insert=True)
            return
        with transaction.atomic(savepoint=False):
            event.save(force_insert=True)
            _index_patients(event, patient_ids)
        return
    # The connection itself, not the `connection` proxy: each field's
    # preparation reads it several times, each read a context-local look-up.
    this = connections[connection.alias]
    values = [f.get_db_prep_save(f.pre_save(event, True), this) for f in _EVENT_FIELDS]
    with prepared_cursor() as cursor:
        if not patient_ids:
            cursor.execute(_event_sql(False), values)
        else:
            when = this.ops.adapt_datetimefield_value(event.occurred_at)
            # The ids as one JSON text: psycopg dumps a list parameter element by
            # element in Python (a worklist's 120 ids were a quarter of its event's CPU).
            cursor.execute(_event_sql(True), [*values, when, json.dumps(patient_ids)])
            if in_pipeline():  # committed by the server, not waited for: `overlapped()` waits (ADR 0592)
                sync_sent()
                return
        (event.pk,) = cursor.fetchone()
    event._state.adding, event._state.db = False, this.alias


def _index_patients(event: AuditEvent, patient_ids: list[str]) -> None:
    """The event's patient index rows in one INSERT ... SELECT over one array
    parameter (SQLite `json_each`), in the list's order: a worklist's 190 rows
    cost one short statement instead of a 570-parameter `bulk_create` that
    also builds a model per row and returns every id."""
    table = connection.ops.quote_name(AuditEventPatient._meta.db_table)
    when = connection.ops.adapt_datetimefield_value(event.occurred_at)
    sql = f"INSERT INTO {table} (event_id, occurred_at, patient_id) SELECT %s, %s, value FROM json_each(%s)"  # noqa: S608 - names from model metadata; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [event.pk, when, json.dumps(patient_ids)])


def audit_report_record(
    *,
    actor: AbstractBaseUser,
    action: Action,
    resource_type: str,
    patient_id: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Record one use of the audit report or the disclosure accounting (the
    audit trail's own reads are audited too, ASTM E2147 "audit log used")."""
    return audit_record(
        action=action,
        actor=actor,
        resource_type=resource_type,
        patient_id=patient_id,
        purpose=PurposeOfUse.AUDIT,
        detail=detail,
    )


def record_key_event(event: KeyEvent) -> AuditEvent:
    """Record a key operation of the keyring (crypto, below this app: its
    archives are encrypted under the data keys). Registered with crypto in
    audit's `ready()`; crypto calls it inside the operation's transaction."""
    return audit_record(
        action=Action.KEY_OPERATION,
        outcome=Outcome(event.outcome),
        resource_type="crypto.datakey",
        resource_id=event.key,
        detail={"operation": event.operation, **event.detail},
        actor=event.actor.user,
        actor_username=event.actor.name,
    )
