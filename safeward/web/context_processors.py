from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from safeward.identity.middleware import second_factor_enrolled
from safeward.identity.models import User
from safeward.web.navigation import menu_bar, page_links, page_menu

_NO_MENU = menu_bar([])


def safeward(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    # The MFA gate's answer for this session (no query once it has seen the factor).
    enrolled = isinstance(user, User) and user.is_authenticated and second_factor_enrolled(request, user)
    return {
        # Before enrolment only the enrolment page is reachable, so no navigation.
        "safeward_enrolled": enrolled,
        "safeward_demo": settings.SAFEWARD_DEMO,
        "safeward_menu": page_menu(user) if enrolled else _NO_MENU,
        "safeward_links": page_links(),
        "safeward_session": getattr(request, "safeward_session", None),
    }
