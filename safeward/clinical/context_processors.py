"""The break-the-glass banner on every page (not only the clinical ones):
while a person holds an active emergency-access grant, base.html shows it
with the time left, a link to the record and a button that ends it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward import clock
from safeward.identity.models import User
from safeward.identity.permissions import Perm


def break_glass_banner(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {}
    if not user.has_perm(Perm.CLINICAL_BREAKGLASS_USE):
        return {}
    from safeward.clinical import gateway

    grants = gateway.break_glass_active(actor=user)
    if not grants:
        return {}
    return {"breakglass_active": grants, "breakglass_now": clock.now()}


def critical_results_banner(request: HttpRequest) -> dict[str, Any]:
    """A critical lab result notifies its orderer at once: on every page
    until they acknowledge it on their worklist (a count, no PHI)."""
    user = getattr(request, "user", None)
    if (
        not isinstance(user, User)
        or not user.is_authenticated
        or not user.has_perm(Perm.CLINICAL_RESULT_READ)
    ):
        return {}
    from safeward.clinical import gateway

    pending = gateway.result_notifications_pending(actor=user)
    return {"critical_results_pending": pending} if pending else {}
