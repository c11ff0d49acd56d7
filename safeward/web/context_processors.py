from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from safeward.web.navigation import navigation_for


def safeward(request: HttpRequest) -> dict[str, Any]:
    return {
        "safeward_demo": settings.SAFEWARD_DEMO,
        "safeward_navigation": navigation_for(request.user),
        "safeward_session": getattr(request, "safeward_session", None),
    }
