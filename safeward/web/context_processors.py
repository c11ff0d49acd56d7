from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from safeward.identity.models import User
from safeward.identity.selectors import user_has_second_factor
from safeward.web.navigation import menu_bar, navigation_for


def safeward(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    enrolled = isinstance(user, User) and user.is_authenticated and user_has_second_factor(user=user)
    navigation = navigation_for(request.user) if enrolled else []
    return {
        # Before enrolment only the enrolment page is reachable, so no navigation.
        "safeward_enrolled": enrolled,
        "safeward_demo": settings.SAFEWARD_DEMO,
        "safeward_navigation": navigation,
        "safeward_menu": menu_bar(navigation),
        "safeward_session": getattr(request, "safeward_session", None),
    }
