"""Reads about accounts, roles and sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from safeward.identity.models import (
    Department,
    Role,
    RoleAssignment,
    SingleSessionRole,
    StaffProfile,
    User,
    UserSession,
)
from safeward.identity.network import OUTSIDE

# The zone of an address no defined network zone holds.
OUTSIDE_ZONE = OUTSIDE.name


def user_active_roles(*, user: User) -> QuerySet[Role]:
    return Role.objects.filter(
        assignments__user=user, assignments__status=RoleAssignment.Status.ACTIVE
    ).order_by("code")


def _load_roles(*, user: User) -> None:
    """The user's active role codes and the union of their permissions, in one
    query, cached on the user object for the length of one request (the
    request's user is loaded afresh on every request). The workforce filter
    is applied to the permissions here, so every reader sees the same
    narrowed set; `_forget_cached_permissions` (identity) and
    `forget_state` (workforce) drop the cache when either input changes."""
    codes: list[str] = []
    perms: set[str] = set()
    for code, permission_list in user_active_roles(user=user).values_list("code", "permissions"):
        codes.append(code)
        perms.update(permission_list)
    user._safeward_role_codes = codes  # type: ignore[attr-defined]
    user._safeward_permissions = permission_filters_apply(user=user, permissions=frozenset(perms))  # type: ignore[attr-defined]


def user_role_codes(*, user: User) -> list[str]:
    cached: list[str] | None = getattr(user, "_safeward_role_codes", None)
    if cached is None:
        _load_roles(user=user)
        cached = user._safeward_role_codes  # type: ignore[attr-defined]
    return cached


def user_permissions(*, user: User) -> frozenset[str]:
    """The union of the permissions of the user's active roles, narrowed by
    the registered permission filters (workforce: training, termination);
    cached on the user object for the length of one request."""
    cached: frozenset[str] | None = getattr(user, "_safeward_permissions", None)
    if cached is None:
        _load_roles(user=user)
        cached = user._safeward_permissions  # type: ignore[attr-defined]
    return cached


def user_permissions_forget(*, user: User) -> None:
    """Drop the per-request cache of `user_permissions` / `user_role_codes`:
    the next read queries the roles and applies the filters again. Called
    when an input changes in the middle of a request (a role granted or
    revoked, the workforce state recomputed)."""
    for attribute in ("_safeward_permissions", "_safeward_role_codes", "_perm_cache"):
        user.__dict__.pop(attribute, None)


def user_may_work_remotely(*, user: User) -> bool:
    return user_active_roles(user=user).filter(remote_access=True).exists()


def user_has_second_factor(*, user: User) -> bool:
    """An authenticator app or security key; recovery codes alone do not count.
    Cached on the user object for the length of one request."""
    from allauth.mfa.models import Authenticator

    cached: bool | None = getattr(user, "_safeward_has_mfa", None)
    if cached is None:
        cached = Authenticator.objects.filter(
            user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
        ).exists()
        user._safeward_has_mfa = cached  # type: ignore[attr-defined]
    return cached


def user_sessions_active(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-last_seen_at")


def single_session_role_codes() -> set[str]:
    """The roles whose holders may have one session at a time (ADR 0009)."""
    return set(SingleSessionRole.objects.values_list("role__code", flat=True))


def role_assignments_pending() -> QuerySet[RoleAssignment]:
    return RoleAssignment.objects.filter(status=RoleAssignment.Status.PENDING).select_related(
        "user", "role", "requested_by"
    )


def users_list() -> QuerySet[User]:
    return User.objects.select_related("profile__department").order_by("username")


def user_exists(*, username: str) -> bool:
    return User.objects.filter(username=username).exists()


def user_by_username(*, username: str) -> User | None:
    return User.objects.filter(username=username).first()


def staff_departments(*, user_ids: list[int]) -> list[tuple[int, int, str]]:
    """(user id, department id, department code) for those of the users whose
    staff profile names a department."""
    return list(
        StaffProfile.objects.filter(user_id__in=user_ids, department__isnull=False).values_list(
            "user_id", "department_id", "department__code"
        )
    )


def staff_department_ids_sql(*, user_column: str) -> str:
    """A SQL subquery for the department ids of the person in `user_column`
    (for the clinical gateway's relationship statement, which correlates it
    per row): identity keeps the knowledge of its own tables."""
    table = StaffProfile._meta.db_table
    return f"SELECT sp.department_id FROM {table} sp WHERE sp.user_id = {user_column}"  # noqa: S608 - a table name from model metadata and a column of the caller's statement


def staff_departments_sql(*, users: int) -> str:
    """A SQL statement for (user_id, department_id) of the staff members among
    `users` user ids, given as parameters (for the clinical gateway's
    relationship statement, which narrows encounters and appointments by them)."""
    table = StaffProfile._meta.db_table
    marks = ", ".join(["%s"] * users)
    return (
        f"SELECT sp.user_id, sp.department_id FROM {table} sp"  # noqa: S608 - a table name from model metadata; the ids are parameters
        f" WHERE sp.department_id IS NOT NULL AND sp.user_id IN ({marks})"
    )


def department_exists(*, department_id: int | None) -> bool:
    return department_id is not None and Department.objects.filter(pk=department_id).exists()


def department_ids_by_code(*, codes: Iterable[str]) -> dict[str, int]:
    """The id of each of these department codes that exists, in one query
    (codes with no department are left out)."""
    return dict(Department.objects.filter(code__in=set(codes)).values_list("code", "pk"))


def department_choices(*, clinical_only: bool = False) -> list[tuple[int, str]]:
    """(id, name) of every department (or only the clinical ones), by name, for pickers."""
    departments = Department.objects.order_by("name")
    if clinical_only:
        departments = departments.filter(clinical=True)
    return list(departments.values_list("pk", "name"))


def department_codes() -> list[tuple[int, str]]:
    """(id, code) of every department, for the operators' CLI."""
    return list(Department.objects.order_by("code").values_list("pk", "code"))


def department_is_clinical(*, department_id: int | None) -> bool:
    return department_id is not None and Department.objects.filter(pk=department_id, clinical=True).exists()


def users_holding(*, permission: str) -> QuerySet[User]:
    """Active accounts with an active role that grants `permission`."""
    roles = [role.pk for role in Role.objects.all() if permission in role.permissions]
    return User.objects.filter(
        is_active=True,
        role_assignments__status=RoleAssignment.Status.ACTIVE,
        role_assignments__role__in=roles,
    ).distinct()


def user_department_id(*, user: User) -> int | None:
    """The department of the person's staff profile (None without one)."""
    return StaffProfile.objects.filter(user=user).values_list("department_id", flat=True).first()


# --- Permission filters (added for workforce, issue 7) ----------------------
# Other apps may narrow what an account's roles grant, on every request: the
# workforce app registers one that removes clinical writes while training is
# overdue and everything once employment has ended (safeward/workforce/policy.py).
# A filter may only remove permissions; `permission_filters_apply` enforces that.

PermissionFilter = Callable[[User, frozenset[str]], frozenset[str]]
_permission_filters: list[PermissionFilter] = []


def permission_filter_register(permission_filter: PermissionFilter) -> None:
    if permission_filter not in _permission_filters:
        _permission_filters.append(permission_filter)


def permission_filters_apply(*, user: User, permissions: frozenset[str]) -> frozenset[str]:
    for permission_filter in _permission_filters:
        permissions = permissions & permission_filter(user, permissions)
    return permissions


# --- Account checks (added for workforce, issue 7) ---------------------------
# Other apps may declare an account unusable on a request path the session
# guard does not cover (an OAuth2 bearer token): the workforce app refuses an
# account whose employment has ended or whose training is overdue past the
# blocking threshold. `user_account_usable` is what API permission classes ask.

AccountCheck = Callable[[User], bool]
_account_checks: list[AccountCheck] = []


def account_check_register(check: AccountCheck) -> None:
    if check not in _account_checks:
        _account_checks.append(check)


def user_account_usable(*, user: User) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and user.locked_at is None
        and all(check(user) for check in _account_checks)
    )


def user_session_by_key(*, session_key: str) -> UserSession | None:
    """SafeWard's record of a browser session by its (possibly deleted) Django
    session key: lets the refusal page say why a session ended after
    `user_sessions_end_all` removed it (added for workforce, issue 7)."""
    return UserSession.objects.filter(session_key=session_key).order_by("-created_at").first()


@dataclass(frozen=True)
class SessionSpan:
    """What detection needs to know about one session's life and client."""

    id: str
    user_id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None
    client_ip: str
    network_zone: str
    user_agent: str

    def live_at(self, moment: dt.datetime, *, idle: dt.timedelta, lifetime: dt.timedelta) -> bool:
        """Open at `moment`: started by then, not ended before it, not idle or
        past its lifetime then (a session the guard has not closed yet)."""
        return (
            self.created_at <= moment
            and (self.ended_at is None or self.ended_at >= moment)
            and self.last_seen_at >= moment - idle
            and self.created_at > moment - lifetime
        )


def session_spans(
    *, user_ids: list[int], start: dt.datetime, end: dt.datetime, lifetime: dt.timedelta
) -> list[SessionSpan]:
    """Sessions of these users that began by `end` and had not ended before
    `start`; one begun `lifetime` before `start` can no longer be live (idle
    sessions are never marked ended, so without this bound every old one loads)."""
    rows = (
        UserSession.objects.filter(user_id__in=user_ids, created_at__lte=end, created_at__gt=start - lifetime)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
        .values_list(
            "id",
            "user_id",
            "created_at",
            "last_seen_at",
            "ended_at",
            "client_ip",
            "network_zone",
            "user_agent",
        )
    )
    return [
        SessionSpan(str(pk), user_id, created, seen, ended, ip or "", zone, agent)
        for pk, user_id, created, seen, ended, ip, zone, agent in rows
    ]
