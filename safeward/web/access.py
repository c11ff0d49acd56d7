"""Whether a person may use a view, read from the permission the view itself
declares (`@requires`, DRF `required_permission`). Templates ask this before
they show a button, form or link (`{% may "app:view" as allowed %}`), so
what a page offers and what its target accepts cannot drift apart (ADR 0405)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from safeward.identity.decorators import AUTHENTICATED_ONLY, DECLARED_PERMISSION


def _walk(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern.callback


def declared_permission(callback: Any) -> str | None:
    """The permission a view callback declares, or None when it declares none."""
    for candidate in (callback, getattr(callback, "view_class", None), getattr(callback, "cls", None)):
        if candidate is None:
            continue
        value = getattr(candidate, DECLARED_PERMISSION, None) or getattr(
            candidate, "required_permission", None
        )
        if value:
            return str(value)
    return None


@functools.cache
def _permissions_by_name(urlconf: str | None) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name, callback in _walk(get_resolver(urlconf)):
        found.setdefault(name, declared_permission(callback))
    return found


def view_permission(url_name: str) -> str | None:
    """The permission the view named `url_name` declares (`LookupError` when
    no route has that name: a template naming a missing view is a bug)."""
    permissions = _permissions_by_name(None)
    if url_name not in permissions:
        raise LookupError(f"no route named {url_name!r}")
    return permissions[url_name]


def may_use(user: Any, url_name: str) -> bool:
    """Deny by default: a view that declares nothing is offered to nobody."""
    if not getattr(user, "is_authenticated", False):
        return False
    permission = view_permission(url_name)
    if permission is None:
        return False
    return permission == AUTHENTICATED_ONLY or bool(user.has_perm(permission))
