"""Reads about accounts, roles and sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

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
from safeward.prepared import CompiledValues

# The zone of an address no defined network zone holds.
OUTSIDE_ZONE = OUTSIDE.name


def user_active_roles(*, user: User) -> QuerySet[Role]:
    return Role.objects.filter(
        assignments__user=user, assignments__status=RoleAssignment.Status.ACTIVE
    ).order_by("code")


def _active_role_permissions(*, user_id: int) -> QuerySet[Role, tuple[str, Any]]:
    return user_active_roles(user=User(pk=user_id)).values_list("code", "permissions")


# Compiled once per thread, prepared once per connection: read on every
# signed-in request (ADR 0309).
_ROLES_READ = CompiledValues("identity.roles", _active_role_permissions)


def _load_roles(*, user: User) -> None:
    """The user's active role codes and the union of their permissions, in one
    query, cached on the user object for the length of one request (the
    request's user is loaded afresh on every request). The workforce filter
    is applied to the permissions here, so every reader sees the same
    narrowed set; `_forget_cached_permissions` (identity) and
    `forget_state` (workforce) drop the cache when either input changes."""
    codes: list[str] = []
    perms: set[str] = set()
    rows = (
        _ROLES_READ.rows(user_id=user.pk)
        if user.pk is not None
        else user_active_roles(user=user).values_list("code", "permissions")
    )
    for code, permission_list in rows:
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
        and user_credential_refusal(user=user) is None
    )


# --- Credential checks (added for vendors, issue 16) --------------------------
# Another app may refuse a credential it governs on every request that presents
# it: the vendors app refuses a vendor account or OAuth client whose agreement
# has ended, been terminated or whose vendor is suspended, on that request,
# without waiting for its daily sweep (ADR 1200). A check receives the account
# (sessions, bearer tokens) or the OAuth application (FHIR client checks) and
# returns a refusal reason, or None. Identity imports no app that registers.

CredentialCheck = Callable[..., "str | None"]
_credential_checks: list[CredentialCheck] = []


def credential_check_register(check: CredentialCheck) -> None:
    if check not in _credential_checks:
        _credential_checks.append(check)


def credential_check_unregister(check: CredentialCheck) -> None:
    if check in _credential_checks:
        _credential_checks.remove(check)


def credential_refusal(*, user_id: int | None = None, application_id: int | None = None) -> str | None:
    """The first refusal a registered check gives for this account or OAuth
    application, or None (no check registered: None, at no cost)."""
    for check in _credential_checks:
        reason = check(user_id=user_id, application_id=application_id)
        if reason is not None:
            return str(reason)
    return None


# Set on the in-memory account a bearer request loaded with its token once
# the client check has answered for it too (ADR 1212). It lives as long as
# that instance: the next request loads the token, and its account, afresh.
_ANSWERED_WITH_CLIENT = "_safeward_credential_answered_with_client"


def bearer_credential_refusal(*, user: User | None, application_id: int, client_checked: bool) -> str | None:
    """The registered checks' refusal for a bearer request's OAuth client and
    the account its token acts for, asked in one call (one query for vendors,
    ADR 1212) when either is flagged. A clean answer is remembered on this
    account instance, so `user_account_usable` later in the same request
    does not ask again; nothing outlives the request."""
    account_id = user.pk if user is not None and user.credential_checked else None
    if account_id is None and not client_checked:
        return None
    refusal = credential_refusal(
        user_id=account_id, application_id=application_id if client_checked else None
    )
    if refusal is None and user is not None and account_id is not None:
        setattr(user, _ANSWERED_WITH_CLIENT, True)
    return refusal


def user_credential_refusal(*, user: User) -> str | None:
    """The registered checks' refusal for an account, asked only when one
    governs it (`credential_checked`, ADR 1210): free for everyone else, as
    the flag comes with the account row the request already loaded. Not
    asked again for an account its bearer request's client check already
    answered for (ADR 1212)."""
    if not user.credential_checked or getattr(user, _ANSWERED_WITH_CLIENT, False):
        return None
    return credential_refusal(user_id=user.pk)


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


# --- Reads for the control tests (issue 18, identity/controls.py and
# workforce/controls.py; ADR 0920). Each is a few aggregate statements over
# indexed columns, never one statement per account.

SECOND_FACTOR_TYPES = ("totp", "webauthn")


@dataclass(frozen=True)
class AccountFactors:
    user_id: int
    username: str
    factor_types: tuple[str, ...]  # the second factors enrolled (recovery codes do not count)


def accounts_active_factors() -> list[AccountFactors]:
    """Every account that can sign in (active, not locked) with the second
    factors it has enrolled: two statements, whatever the number of accounts."""
    from allauth.mfa.models import Authenticator

    accounts = list(
        User.objects.filter(is_active=True, locked_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "username")
    )
    factors: dict[int, set[str]] = {}
    for user_id, kind in Authenticator.objects.filter(
        user__is_active=True, user__locked_at__isnull=True, type__in=SECOND_FACTOR_TYPES
    ).values_list("user_id", "type"):
        factors.setdefault(user_id, set()).add(kind)
    return [AccountFactors(pk, username, tuple(sorted(factors.get(pk, ())))) for pk, username in accounts]


def sessions_past_lifetime(
    *, lifetime: dt.timedelta, since: dt.datetime, limit: int = 1000
) -> list[SessionSpan]:
    """Sessions begun since `since` (the created_at index bounds the scan),
    not marked ended, that served a request (`last_seen_at`) more than
    `lifetime` after they began: the guard should have ended them."""
    from django.db.models import DateTimeField, ExpressionWrapper, F

    deadline = ExpressionWrapper(F("created_at") + lifetime, output_field=DateTimeField())
    rows = (
        UserSession.objects.filter(created_at__gte=since, ended_at__isnull=True)
        .annotate(deadline=deadline)
        .filter(last_seen_at__gt=F("deadline"))
        .order_by("created_at")
        .values_list(
            "id",
            "user_id",
            "created_at",
            "last_seen_at",
            "ended_at",
            "client_ip",
            "network_zone",
            "user_agent",
        )[:limit]
    )
    return [
        SessionSpan(str(pk), user_id, created, seen, ended, ip or "", zone, agent)
        for pk, user_id, created, seen, ended, ip, zone, agent in rows
    ]


def usernames(*, user_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(user_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        found.update(User.objects.filter(pk__in=ids[start : start + 500]).values_list("pk", "username"))
    return found


@dataclass(frozen=True)
class HolderRoles:
    user_id: int
    username: str
    roles: dict[str, tuple[str, ...]]  # every active role of the account, with its permissions


def holders_of_permission_roles(*, permission: str) -> list[HolderRoles]:
    """Active accounts holding an active role that grants `permission`, each
    with all its active roles and their permissions (two statements)."""
    granting = [pk for pk, perms in Role.objects.values_list("pk", "permissions") if permission in perms]
    holders = RoleAssignment.objects.filter(
        role__in=granting, status=RoleAssignment.Status.ACTIVE, user__is_active=True
    ).values("user_id")
    found: dict[int, HolderRoles] = {}
    for user_id, username, code, perms in (
        RoleAssignment.objects.filter(user_id__in=holders, status=RoleAssignment.Status.ACTIVE)
        .order_by("user_id", "role__code")
        .values_list("user_id", "user__username", "role__code", "role__permissions")
    ):
        holder = found.setdefault(user_id, HolderRoles(user_id, username, {}))
        holder.roles[code] = tuple(sorted(perms))
    return list(found.values())


@dataclass(frozen=True)
class PrivilegedGrant:
    assignment_id: int
    user_id: int
    username: str
    role: str
    requested_by_id: int | None
    requested_at: dt.datetime
    decided_by_id: int | None
    decided_at: dt.datetime | None


def privileged_assignments_active() -> list[PrivilegedGrant]:
    """Every active assignment of a privileged role, with who asked and who approved."""
    return [
        PrivilegedGrant(*row)
        for row in RoleAssignment.objects.filter(status=RoleAssignment.Status.ACTIVE, role__privileged=True)
        .order_by("pk")
        .values_list(
            "pk",
            "user_id",
            "user__username",
            "role__code",
            "requested_by_id",
            "requested_at",
            "decided_by_id",
            "decided_at",
        )
    ]


def user_ids_with_active_roles() -> set[int]:
    """Accounts (active) that hold at least one active role."""
    return set(
        RoleAssignment.objects.filter(status=RoleAssignment.Status.ACTIVE, user__is_active=True)
        .values_list("user_id", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class AccountAccess:
    """What an account can still do, for the termination control."""

    user_id: int
    username: str
    is_active: bool
    locked: bool
    live_sessions: int  # open, not idle, within their lifetime
    last_seen_at: dt.datetime | None  # the latest request of any of its sessions
    live_tokens: int  # OAuth2 access tokens not expired, refresh tokens not revoked


def accounts_access(
    *, user_ids: Iterable[int], now: dt.datetime, idle: dt.timedelta, lifetime: dt.timedelta
) -> dict[int, AccountAccess]:
    """Per account: active, locked, live sessions, latest session use, live
    OAuth2 tokens; a handful of grouped statements per 500 accounts."""
    from django.db.models import Count, Max
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model
    from oauth2_provider.settings import oauth2_settings

    refresh_live = Q(revoked__isnull=True)
    if oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS:  # None: refresh tokens never expire
        refresh_live &= Q(
            created__gt=now - dt.timedelta(seconds=oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS)
        )
    ids = sorted(set(user_ids))
    found: dict[int, AccountAccess] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sessions: dict[int, dict[str, Any]] = {
            row["user_id"]: dict(row)
            for row in UserSession.objects.filter(user_id__in=chunk)
            .values("user_id")
            .annotate(
                last_seen=Max("last_seen_at"),
                live=Count(
                    "pk",
                    filter=Q(
                        ended_at__isnull=True, last_seen_at__gte=now - idle, created_at__gt=now - lifetime
                    ),
                ),
            )
        }
        tokens: dict[int, int] = {}
        for model, condition in (
            (get_access_token_model(), Q(expires__gt=now)),
            (get_refresh_token_model(), refresh_live),
        ):
            for user_id, count in (
                model.objects.filter(condition, user_id__in=chunk)
                .values("user_id")
                .annotate(n=Count("pk"))
                .values_list("user_id", "n")
            ):
                tokens[user_id] = tokens.get(user_id, 0) + count
        for pk, username, active, locked_at in User.objects.filter(pk__in=chunk).values_list(
            "pk", "username", "is_active", "locked_at"
        ):
            row = sessions.get(pk, {})
            found[pk] = AccountAccess(
                user_id=pk,
                username=username,
                is_active=active,
                locked=locked_at is not None,
                live_sessions=row.get("live", 0),
                last_seen_at=row.get("last_seen"),
                live_tokens=tokens.get(pk, 0),
            )
    return found


def clinical_zone_names() -> set[str]:
    """The network zones inside the clinical network; every other zone is remote."""
    from safeward.identity.models import NetworkZone

    return set(NetworkZone.objects.filter(clinical=True).values_list("name", flat=True))
