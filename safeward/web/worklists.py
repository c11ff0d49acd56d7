"""The home page's worklists: each app registers the lists its people work
from (in its AppConfig.ready), and the dashboard shows those whose
permission the person holds, in order. The web app imports no other app:
a worklist brings its own template and builds its own context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from safeward.identity.permissions import Perm


@dataclass(frozen=True)
class Worklist:
    key: str  # unique; the section's id on the page
    title: str
    permission: Perm
    template: str
    context: Callable[[HttpRequest], dict[str, Any]]
    order: int = 100  # lower first
    # Not for people who also hold this one (a physician charts too, but
    # works from their own list, not the nurses' census).
    unless: Perm | None = None


_worklists: dict[str, Worklist] = {}


def register_worklist(worklist: Worklist) -> None:
    _worklists[worklist.key] = worklist


def worklists_for(request: HttpRequest) -> list[tuple[Worklist, dict[str, Any]]]:
    """The person's worklists with their contexts, in order."""
    user = request.user
    return [
        (worklist, worklist.context(request))
        for worklist in sorted(_worklists.values(), key=lambda w: (w.order, w.key))
        if user.has_perm(worklist.permission) and not (worklist.unless and user.has_perm(worklist.unless))
    ]
