"""View guards. Every SafeWard view declares what it needs with `requires`
(or `authenticated`); tests/security/test_url_permissions.py walks the URLconf
and fails on a view that declares nothing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from safeward.identity.access import step_up_satisfied
from safeward.identity.permissions import Perm
from safeward.identity.redirects import redirect_with_next, resume_after_reauthentication

DECLARED_PERMISSION = "safeward_permission"
AUTHENTICATED_ONLY = "authenticated"


def requires[V: Callable[..., HttpResponse]](perm: Perm) -> Callable[[V], V]:
    def decorator(view: V) -> V:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        setattr(wrapper, DECLARED_PERMISSION, perm.value)
        return wrapper  # type: ignore[return-value]

    return decorator


def authenticated[V: Callable[..., HttpResponse]](view: V) -> V:
    """For pages every signed-in person may use about themselves (dashboard,
    own sessions). LoginRequiredMiddleware already refuses anonymous users."""
    setattr(view, DECLARED_PERMISSION, AUTHENTICATED_ONLY)
    return view


def step_up_required[V: Callable[..., HttpResponse]](view: V) -> V:
    """Sensitive actions need a second factor passed within the last few
    minutes; otherwise the person is sent to allauth's MFA re-authentication
    and comes back here (to the form's page after a POST), within the bounds
    of identity.redirects."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not step_up_satisfied(user_session=getattr(request, "safeward_session", None)):
            if request.method not in {"GET", "HEAD"} and request.path.startswith("/api/"):
                raise PermissionDenied("step-up authentication required")
            return redirect_with_next(reverse("mfa_reauthenticate"), resume_after_reauthentication(request))
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
