"""The downtime banner on every page (one cached lookup, made when the page
renders the banner: the context holds a callable, which templates call)."""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest

from safeward.continuity.selectors import downtime_active_cached


def downtime_banner(request: HttpRequest) -> dict[str, Any]:
    return {"downtime_banner": functools.cache(downtime_active_cached)}
