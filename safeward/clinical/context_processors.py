"""The clinical banners on every page (not only the clinical ones): while a
person holds an active emergency-access grant, base.html shows it with the
time left, a link to the record and a button that ends it; a critical lab
result notifies its orderer at once, on every page until they acknowledge
it on their worklist (a count, no PHI).

Both come from one statement (`gateway.page_banners`), run when the page
first renders one of the values: the context holds callables, which Django's
templates call on lookup (ADR 0307)."""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest

from safeward.identity.models import User
from safeward.identity.permissions import Perm


def clinical_banners(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {}
    break_glass = user.has_perm(Perm.CLINICAL_BREAKGLASS_USE)
    results = user.has_perm(Perm.CLINICAL_RESULT_READ)
    if not (break_glass or results):
        return {}
    from safeward.clinical import gateway

    @functools.cache
    def banners() -> Any:
        return gateway.page_banners(actor=user, break_glass=break_glass, results=results)

    return {
        "breakglass_active": lambda: banners().break_glass,
        "breakglass_now": lambda: banners().now,
        "critical_results_pending": lambda: banners().critical_results,
    }
