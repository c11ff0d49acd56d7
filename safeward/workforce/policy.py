"""How the workforce record limits an account, decided on every request.

`workforce_state(user)` reads the person behind an account in one query and
caches the answer on the user object for the rest of the request. Two hooks
put it on the request path:

* `filter_permissions` is registered with
  `safeward.identity.selectors.permission_filter_register` (see apps.py), so
  every `user.has_perm(...)` — web views, DRF's `DenyUnlessDeclared`, services
  checking their actor — sees the reduced set;
* `safeward.workforce.middleware.WorkforceAccessMiddleware` refuses the
  request outright when access has ended (termination applied or its moment
  passed) or is blocked by overdue training.

Accounts without a workforce record (bootstrap administrators, service
accounts) are not limited here; `selectors.accounts_without_person` lists them
for review.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Min, Q, QuerySet

from safeward import clock
from safeward.identity.permissions import CLINICAL_WRITES
from safeward.prepared import CompiledValues

if TYPE_CHECKING:
    from safeward.identity.models import User

STATE_ATTRIBUTE = "_safeward_workforce_state"


class AccessLevel(StrEnum):
    FULL = "full"
    TRAINING_DUE = "training_due"  # overdue, within the grace period: a banner only
    CLINICAL_READ_ONLY = "clinical_read_only"
    BLOCKED = "blocked"  # overdue past the blocking threshold: nothing but the training page
    ENDED = "ended"  # terminated, termination moment passed, or not yet onboarded


@dataclass(frozen=True)
class TrainingPolicy:
    read_only_after: dt.timedelta
    blocked_after: dt.timedelta


def training_policy() -> TrainingPolicy:
    return TrainingPolicy(
        read_only_after=dt.timedelta(days=settings.SAFEWARD_TRAINING_READ_ONLY_AFTER_DAYS),
        blocked_after=dt.timedelta(days=settings.SAFEWARD_TRAINING_BLOCK_AFTER_DAYS),
    )


@dataclass(frozen=True)
class WorkforceState:
    person_id: int | None
    level: AccessLevel
    status: str = ""
    termination_due: bool = False  # the end moment passed, the termination not yet applied
    overdue_since: dt.datetime | None = None

    @property
    def managed(self) -> bool:
        return self.person_id is not None


UNMANAGED = WorkforceState(person_id=None, level=AccessLevel.FULL)


def access_level(
    *, status: str, access_ends_at: dt.datetime | None, overdue_since: dt.datetime | None, now: dt.datetime
) -> tuple[AccessLevel, bool]:
    """The pure decision: (level, termination_due). Written out in docs/workforce.md."""
    from safeward.workforce.models import Person

    if status == Person.Status.TERMINATED:
        return AccessLevel.ENDED, False
    if access_ends_at is not None and access_ends_at <= now:
        return AccessLevel.ENDED, True
    if status != Person.Status.ACTIVE:
        return AccessLevel.ENDED, False
    if overdue_since is None:
        return AccessLevel.FULL, False
    overdue = now - overdue_since
    policy = training_policy()
    if overdue > policy.blocked_after:
        return AccessLevel.BLOCKED, False
    if overdue > policy.read_only_after:
        return AccessLevel.CLINICAL_READ_ONLY, False
    return AccessLevel.TRAINING_DUE, False


def workforce_state(user: User) -> WorkforceState:
    cached: WorkforceState | None = getattr(user, STATE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    now = clock.now()
    if user.pk is None:  # an unsaved account: the ORM's own `user_id IS NULL`, as before
        rows = list(_state_query(user_id=None, now=now))
    else:
        rows = _STATE_READ.rows(user_id=user.pk, now=now)
    row = rows[0] if rows else None
    if row is None:
        state = UNMANAGED
    else:
        person_id, status, access_ends_at, overdue_since = row
        level, due = access_level(
            status=status, access_ends_at=access_ends_at, overdue_since=overdue_since, now=now
        )
        state = WorkforceState(
            person_id=person_id,
            level=level,
            status=status,
            termination_due=due,
            overdue_since=overdue_since,
        )
    setattr(user, STATE_ATTRIBUTE, state)
    return state


def _state_query(*, user_id: int | None, now: dt.datetime) -> QuerySet[Any]:
    """The person behind an account and their earliest overdue training, as
    `.first()` would read it: ordered by the key, one row."""
    from safeward.workforce.models import Person

    # `filter(user_id=None)` is `user_id IS NULL`, as the ORM read before.
    people = (
        Person.objects.filter(user__isnull=True)
        if user_id is None
        else Person.objects.filter(user_id=user_id)
    )
    return (
        people.annotate(
            overdue_since=Min(
                "training_assignments__due_at",
                filter=Q(
                    training_assignments__completed_at__isnull=True,
                    training_assignments__due_at__lt=now,
                ),
            )
        )
        .values_list("pk", "status", "access_ends_at", "overdue_since")
        .order_by("pk")[:1]
    )


# Compiled once per thread, prepared once per connection (ADR 0309).
_STATE_READ = CompiledValues("workforce.state", _state_query)


def forget_state(user: User) -> None:
    """Drop the cached state, and the permissions it narrowed (identity's cache)."""
    from safeward.identity.selectors import user_permissions_forget

    user.__dict__.pop(STATE_ATTRIBUTE, None)
    user_permissions_forget(user=user)


def filter_permissions(user: User, permissions: frozenset[str]) -> frozenset[str]:
    """The identity permission hook: drop what the workforce state does not allow."""
    if user.pk is None:
        return permissions
    level = workforce_state(user).level
    if level in {AccessLevel.ENDED, AccessLevel.BLOCKED}:
        return frozenset()
    if level == AccessLevel.CLINICAL_READ_ONLY:
        return permissions - CLINICAL_WRITES
    return permissions


def account_usable(user: User) -> bool:
    """The identity account check (API path): refused once employment has
    ended or training is overdue past the blocking threshold."""
    return workforce_state(user).level not in {AccessLevel.ENDED, AccessLevel.BLOCKED}
