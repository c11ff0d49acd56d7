"""Downtime mode: while a downtime is active every interface is read-only.
Writes (POST, PUT, PATCH, DELETE) on the web pages, the REST API and FHIR
answer 503 with a clear message (an HTML page, or a JSON problem for API and
FHIR paths); signing in and out and ending the downtime stay open. The cost
per request is one cache lookup (selectors.downtime_active_cached)."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from safeward.continuity.selectors import downtime_active_cached

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sign-in, sign-out, MFA (allauth), OAuth token exchange, and ending the downtime itself.
OPEN_DURING_DOWNTIME = re.compile(r"^/(accounts/|o/token/|o/revoke_token/|continuity/downtime/\d+/end/$)")
MACHINE_PATHS = ("/api/", "/fhir/", "/o/")
MESSAGE = (
    "SafeWard is in downtime mode: it is read-only until the downtime is ended. "
    "Record on paper (downtime forms and encounter numbers) and back-enter afterwards."
)


class DowntimeReadOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in WRITES and not OPEN_DURING_DOWNTIME.match(request.path_info):
            downtime = downtime_active_cached()
            if downtime is not None:
                return refusal(request)
        return self.get_response(request)


def refusal(request: HttpRequest) -> HttpResponse:
    if request.path_info.startswith(MACHINE_PATHS):
        response: HttpResponse = JsonResponse(
            {"type": "about:blank", "title": "Downtime: read-only", "status": 503, "detail": MESSAGE},
            status=503,
            content_type="application/problem+json",
        )
    else:
        response = HttpResponse(
            render_to_string("continuity/downtime_refused.html", {"message": MESSAGE}, request=request),
            status=503,
        )
    response["Retry-After"] = "300"
    return response
