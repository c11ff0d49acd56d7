"""Deny by default: every route in the URLconf (included ones too) either
declares a SafeWard permission or is on the explicit allow-list below. A new
route without a rule fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from safeward.identity.decorators import DECLARED_PERMISSION

# Views SafeWard does not write. allauth's own views (sign-in, MFA, password
# pages) are protected by allauth and by SafeWard's middleware (session guard,
# forced enrolment); the health check answers anonymous load balancers.
ALLOWED_MODULE_PREFIXES = ("allauth.",)
# The vendor questionnaire's single-use link is answered without an account
# (ADR 1213): the token is the credential, checked, expired and used up by
# the view's service (tests/vendors/test_questionnaires.py).
ALLOWED_NAMES = {"web:healthz", "vendors:questionnaire_answer"}


def walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from walk(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else (pattern.name or "")
            yield prefix + str(pattern.pattern), name, pattern.callback


def declared_permission(callback: Any) -> str | None:
    for candidate in (callback, getattr(callback, "view_class", None), getattr(callback, "cls", None)):
        if candidate is None:
            continue
        value = getattr(candidate, DECLARED_PERMISSION, None) or getattr(
            candidate, "required_permission", None
        )
        if value:
            return str(value)
    return None


def is_allowed(name: str, callback: Any) -> bool:
    module = getattr(callback, "__module__", "") or ""
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        module = view_class.__module__
    return name in ALLOWED_NAMES or module.startswith(ALLOWED_MODULE_PREFIXES)


def test_every_route_declares_a_permission_or_is_allow_listed():
    routes = list(walk(get_resolver()))
    assert len(routes) > 20  # the walk really went into the includes
    undeclared = [
        f"{route} ({name or 'unnamed'}, {getattr(callback, '__module__', '?')})"
        for route, name, callback in routes
        if not declared_permission(callback) and not is_allowed(name, callback)
    ]
    assert not undeclared, "Routes without a permission:\n" + "\n".join(undeclared)


def is_api_view(callback: Any) -> bool:
    return isinstance(getattr(callback, "cls", None), type) and issubclass(callback.cls, APIView)


def test_only_allow_listed_routes_are_open_to_anonymous_visitors():
    # DRF marks its views login_not_required because it authenticates itself;
    # DenyUnlessDeclared (DRF's default permission) refuses anonymous callers.
    open_routes = [
        (route, name)
        for route, name, callback in walk(get_resolver())
        if getattr(callback, "login_required", True) is False
        and not is_allowed(name, callback)
        and not is_api_view(callback)
    ]
    assert not open_routes


def test_api_default_permission_refuses_undeclared_views_and_anonymous_callers():
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.test import APIRequestFactory

    from safeward.identity.api_permissions import DenyUnlessDeclared

    class Undeclared(APIView):
        pass

    class Declared(APIView):
        required_permission = "identity:user:view"

    request = APIRequestFactory().get("/api/v1/x")
    request.user = AnonymousUser()
    assert not DenyUnlessDeclared().has_permission(request, Undeclared())
    assert not DenyUnlessDeclared().has_permission(request, Declared())


def test_the_walk_sees_a_route_without_a_rule():
    def naked_view(request):  # pragma: no cover - never called
        raise AssertionError

    assert declared_permission(naked_view) is None
    assert not is_allowed("identity:naked", naked_view)


def test_identity_routes_declare_what_the_matrix_expects():
    declared = {name: declared_permission(callback) for _, name, callback in walk(get_resolver())}
    assert declared["identity:user_list"] == "identity:user:view"
    assert declared["identity:user_lock"] == "identity:user:manage"
    assert declared["identity:approval_decide"] == "identity:role:approve"
    assert declared["identity:my_sessions"] == "authenticated"
    assert declared["web:dashboard"] == "authenticated"
