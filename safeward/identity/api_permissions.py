"""DRF's default permissions. `DenyUnlessDeclared`: an API view must declare
`required_permission` (a Perm); one that declares nothing is refused, so a
new endpoint cannot be open by accident. `TokenScope`: the same for OAuth2
bearer tokens, whose scopes a view must declare too (ADR 0606)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from safeward.identity.models import User

# A `token_scopes` value: the view puts each operation to the SMART scope
# decision itself, with the operation's patient (safeward/clinical/scopes.py).
# It holds spaces, so it can never be a scope word a token holds.
BY_OPERATION = "SMART scopes, per operation"


class DenyUnlessDeclared(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        required = getattr(view, "required_permission", None)
        user = request.user
        if required is None or not isinstance(user, User) or not user.is_authenticated:
            return False
        return user.has_perm(str(required))


class TokenScope(BasePermission):
    """A bearer token reaches a view only through what the view declares for
    the method in `token_scopes`: a scope word the token must hold (`read`,
    `write`, `fhirUser`), or BY_OPERATION. A view that declares nothing
    refuses every token. Browser sessions pass (they have no scopes: the
    policy alone decides)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        granted = getattr(request.auth, "scope", None)  # a django-oauth-toolkit AccessToken
        if granted is None:
            return True
        needed = getattr(view, "token_scopes", {}).get(request.method or "")
        if needed is None:
            return False
        return bool(needed == BY_OPERATION or needed in str(granted).split())
