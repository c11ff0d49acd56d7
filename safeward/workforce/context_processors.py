"""The training banner: tells a person whose training is overdue what is
limited and what to do. Rendered by base.html's banners block."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward.identity.models import User
from safeward.workforce.policy import AccessLevel, training_policy, workforce_state


def workforce_banner(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {}
    state = workforce_state(user)
    if state.level not in {AccessLevel.TRAINING_DUE, AccessLevel.CLINICAL_READ_ONLY, AccessLevel.BLOCKED}:
        return {}
    assert state.overdue_since is not None
    policy = training_policy()
    return {
        "workforce_banner": {
            "level": str(state.level),
            "overdue_since": state.overdue_since,
            "read_only_at": state.overdue_since + policy.read_only_after,
            "blocked_at": state.overdue_since + policy.blocked_after,
        }
    }
