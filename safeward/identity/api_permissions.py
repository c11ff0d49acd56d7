"""DRF's default permission: an API view must declare `required_permission`
(a Perm); one that declares nothing is refused, so a new endpoint cannot be
open by accident."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from safeward.identity.models import User


class DenyUnlessDeclared(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        required = getattr(view, "required_permission", None)
        user = request.user
        if required is None or not isinstance(user, User) or not user.is_authenticated:
            return False
        return user.has_perm(str(required))
