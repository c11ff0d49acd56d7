"""The downtime banner on every page (one cached lookup)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward.continuity.selectors import downtime_active_cached


def downtime_banner(request: HttpRequest) -> dict[str, Any]:
    downtime = downtime_active_cached()
    return {"downtime_banner": downtime} if downtime else {}
