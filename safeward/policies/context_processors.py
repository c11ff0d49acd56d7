"""The acknowledgement banner: what the person still has to acknowledge, by
when, and which roles are suspended already. Rendered by base.html."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward.identity.models import User
from safeward.policies.gate import gate_state


def policy_banner(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {}
    state = gate_state(user)
    if not state.any:
        return {}
    return {
        "policy_banner": {
            "pending": state.pending,
            "deadline": state.earliest_deadline,
            "locked_roles": sorted(state.locked_roles),
        }
    }
