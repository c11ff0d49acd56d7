"""Reads about accounts, roles and sessions."""

from __future__ import annotations

from django.db.models import QuerySet

from safeward.identity.models import Role, RoleAssignment, User, UserSession


def user_active_roles(*, user: User) -> QuerySet[Role]:
    return Role.objects.filter(
        assignments__user=user, assignments__status=RoleAssignment.Status.ACTIVE
    ).order_by("code")


def user_role_codes(*, user: User) -> list[str]:
    cached: list[str] | None = getattr(user, "_safeward_role_codes", None)
    if cached is None:
        cached = list(user_active_roles(user=user).values_list("code", flat=True))
        user._safeward_role_codes = cached  # type: ignore[attr-defined]
    return cached


def user_permissions(*, user: User) -> frozenset[str]:
    """The union of the permissions of the user's active roles, cached on the
    user object for the length of one request."""
    cached: frozenset[str] | None = getattr(user, "_safeward_permissions", None)
    if cached is None:
        perms: set[str] = set()
        for permission_list in user_active_roles(user=user).values_list("permissions", flat=True):
            perms.update(permission_list)
        cached = frozenset(perms)
        user._safeward_permissions = cached  # type: ignore[attr-defined]
    return cached


def user_may_work_remotely(*, user: User) -> bool:
    return user_active_roles(user=user).filter(remote_access=True).exists()


def user_sessions_active(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-last_seen_at")


def role_assignments_pending() -> QuerySet[RoleAssignment]:
    return RoleAssignment.objects.filter(status=RoleAssignment.Status.PENDING).select_related(
        "user", "role", "requested_by"
    )


def users_list() -> QuerySet[User]:
    return User.objects.select_related("profile__department").order_by("username")
