"""The acknowledgement gate, decided on every request (ADR 0930).

A person who holds a role (or is in a workforce position) that a published
document is required for must acknowledge the document's current revision.
Within the grace period (`SAFEWARD_POLICY_ACKNOWLEDGE_GRACE_DAYS`, counted
from the revision's publication, or from the account's creation for someone
who joined later) they see a banner and an interstitial; after it the
permissions of the roles the document is required for are removed, until
they acknowledge, which restores them on the next permission read.

`gate_state(user)` answers in one query (the requirements of the person's
roles and position whose document's current revision they have not
acknowledged) and caches the answer on the user object for the request.
`filter_permissions` is registered with identity's permission filters (in
apps.py), like the workforce app's training filter; it costs one more query
only when some role is locked, to read the permissions of the roles kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.dateparse import parse_datetime

from safeward import clock
from safeward.prepared import prepared_cursor

if TYPE_CHECKING:
    from safeward.identity.models import User

STATE_ATTRIBUTE = "_safeward_policy_gate"


@dataclass(frozen=True)
class Pending:
    """One document the person still has to acknowledge."""

    document_id: int
    code: str
    title: str
    revision_id: int
    revision_number: int
    deadline: dt.datetime
    roles: tuple[str, ...]  # role codes the requirement names (directly, or through the position)
    via_position: str  # the position code, when the requirement is by position

    def locked(self, now: dt.datetime) -> bool:
        return now >= self.deadline


@dataclass(frozen=True)
class GateState:
    pending: tuple[Pending, ...]
    locked_roles: frozenset[str]
    now: dt.datetime

    @property
    def any(self) -> bool:
        return bool(self.pending)

    @property
    def locked(self) -> tuple[Pending, ...]:
        return tuple(p for p in self.pending if p.locked(self.now))

    @property
    def earliest_deadline(self) -> dt.datetime | None:
        return min((p.deadline for p in self.pending), default=None)


CLEAR = GateState(pending=(), locked_roles=frozenset(), now=dt.datetime.min.replace(tzinfo=dt.UTC))


def grace() -> dt.timedelta:
    return dt.timedelta(days=settings.SAFEWARD_POLICY_ACKNOWLEDGE_GRACE_DAYS)


def gate_state(user: User) -> GateState:
    from safeward.identity.selectors import user_role_codes

    cached: GateState | None = getattr(user, STATE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    if user.pk is None:
        return CLEAR
    # Reading the role codes may load the permissions, whose filter asks
    # for this state: then it is cached by the time the codes return.
    codes = user_role_codes(user=user)
    loaded: GateState | None = getattr(user, STATE_ATTRIBUTE, None)
    if loaded is not None:
        return loaded
    state = _compute(user, codes)
    setattr(user, STATE_ATTRIBUTE, state)
    return state


def _statement(roles: int) -> str:
    """The gate's one statement: the requirements matching the person's
    roles (`roles` parameters) or position whose document's current
    revision the person has not acknowledged. Plain SQL, built once per
    number of roles: the ORM compiling the same query on every request cost
    more than running it. Run through the prepared cursor: on PostgreSQL each
    text is parsed and planned once per connection (ADR 0309)."""
    cached = _STATEMENTS.get(roles)
    if cached is not None:
        return cached
    from safeward.policies.models import Acknowledgement, PolicyDocument, PolicyRequirement, PolicyRevision
    from safeward.workforce.selectors import person_position_code_sql

    requirement = PolicyRequirement._meta.db_table
    document = PolicyDocument._meta.db_table
    revision = PolicyRevision._meta.db_table
    acknowledgement = Acknowledgement._meta.db_table
    by_role = f"(r.kind = 'role' AND r.code IN ({', '.join(['%s'] * roles)}))" if roles else "FALSE"
    # Table names from model metadata; every value is a parameter.
    statement = (
        "SELECT r.document_id, d.code, d.title, d.current_revision_id,"  # noqa: S608
        " v.number, v.published_at, r.kind, r.code"
        f" FROM {requirement} r JOIN {document} d ON d.id = r.document_id"
        f" JOIN {revision} v ON v.id = d.current_revision_id"
        f" WHERE d.retired_at IS NULL AND ({by_role}"
        f" OR (r.kind = 'position' AND r.code IN ({person_position_code_sql(user_column='%s')})))"
        f" AND NOT EXISTS (SELECT 1 FROM {acknowledgement} a"
        " WHERE a.revision_id = d.current_revision_id AND a.user_id = %s)"
        " ORDER BY d.title, r.kind, r.code"
    )
    _STATEMENTS[roles] = statement
    return statement


_STATEMENTS: dict[int, str] = {}


def _moment(value: object) -> dt.datetime:
    """A timestamp column as the driver returns it (SQLite: text)."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        parsed = parse_datetime(str(value))
        if parsed is None:
            raise ValueError("unreadable publication time")
        moment = parsed
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _compute(user: User, codes: list[str]) -> GateState:
    now = clock.now()
    with prepared_cursor() as cursor:
        cursor.execute(_statement(len(codes)), [*codes, user.pk, user.pk])
        rows = [(*row[:5], _moment(row[5]), *row[6:]) for row in cursor.fetchall()]
    if not rows:
        return GateState(pending=(), locked_roles=frozenset(), now=now)
    joined = user.date_joined or now
    by_document: dict[int, dict[str, object]] = {}
    position_roles: list[str] | None = None
    for document_id, code, title, revision_id, number, published_at, kind, requirement_code in rows:
        entry = by_document.setdefault(
            document_id,
            {
                "code": code,
                "title": title,
                "revision_id": revision_id,
                "number": number,
                "deadline": max(published_at, joined) + grace(),
                "roles": set(),
                "position": "",
            },
        )
        roles: set[str] = entry["roles"]  # type: ignore[assignment]
        if kind == "role":
            roles.add(requirement_code)
        else:
            entry["position"] = requirement_code
            if position_roles is None:
                position_roles = _position_roles(user)
            # The roles the person holds because of the position; with none
            # named there, every role they hold.
            roles.update(set(position_roles or codes) & set(codes))
    pending = tuple(
        Pending(
            document_id=document_id,
            code=str(entry["code"]),
            title=str(entry["title"]),
            revision_id=int(entry["revision_id"]),  # type: ignore[call-overload]
            revision_number=int(entry["number"]),  # type: ignore[call-overload]
            deadline=entry["deadline"],  # type: ignore[arg-type]
            roles=tuple(sorted(entry["roles"])),  # type: ignore[call-overload]
            via_position=str(entry["position"]),
        )
        for document_id, entry in by_document.items()
    )
    locked = frozenset(role for p in pending if p.locked(now) for role in p.roles)
    return GateState(pending=pending, locked_roles=locked, now=now)


def _position_roles(user: User) -> list[str]:
    from safeward.workforce.selectors import person_position_roles

    return person_position_roles(user_id=user.pk)


def forget_state(user: User) -> None:
    """Drop the cached gate state and the permissions it narrowed."""
    from safeward.identity.selectors import user_permissions_forget

    user.__dict__.pop(STATE_ATTRIBUTE, None)
    user_permissions_forget(user=user)


def filter_permissions(user: User, permissions: frozenset[str]) -> frozenset[str]:
    """The identity permission hook: without the permissions of the roles
    locked by an acknowledgement past its grace period."""
    if user.pk is None or not permissions:
        return permissions
    state = gate_state(user)
    if not state.locked_roles:
        return permissions
    from safeward.identity.selectors import user_active_roles

    kept: set[str] = set()
    for permission_list in (
        user_active_roles(user=user)
        .exclude(code__in=state.locked_roles)
        .values_list("permissions", flat=True)
    ):
        kept.update(permission_list)
    return frozenset(p for p in permissions if p in kept)
