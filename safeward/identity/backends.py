"""Authorization from roles: `user.has_perm("scope:resource:action")`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from safeward.identity.models import User
from safeward.identity.selectors import user_permissions


class RolePermissionBackend(BaseBackend):
    """Answers permission questions only; authentication is allauth's."""

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not isinstance(user_obj, User) or not user_obj.is_active or user_obj.is_locked:
            return set()
        return set(user_permissions(user=user_obj))

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)
