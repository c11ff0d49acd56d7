"""The workforce check on the request path, after the identity session guard.

The guard already refuses a disabled or locked account and an ended session.
This middleware adds what only the workforce record knows, on the same
request, without waiting for any worker:

* the person's end moment has passed (termination scheduled, worker not run
  yet): the termination is applied now and the request refused;
* the person is terminated or not yet onboarded: refused;
* training overdue past the blocking threshold: everything but the training
  page and sign-out is refused with a page that says what to do.

"Clinical read-only" needs no refusal here: the permission filter
(policy.filter_permissions) has already removed the write permissions.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from safeward.identity.middleware import session_ended_response
from safeward.identity.models import User
from safeward.identity.selectors import user_session_by_key
from safeward.workforce import services
from safeward.workforce.models import Person
from safeward.workforce.policy import AccessLevel, workforce_state

Handler = Callable[[HttpRequest], HttpResponse]

# What a person blocked by overdue training may still reach.
BLOCKED_ALLOWED_PATHS = ("/workforce/me/", "/accounts/logout/", "/static/")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/fhir/")) or "application/json" in request.headers.get(
        "Accept", ""
    )


class WorkforceAccessMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if isinstance(user, User) and user.is_authenticated:
            refusal = self._check(request, user)
            if refusal is not None:
                return refusal
        elif (refusal := self._ended_session(request)) is not None:
            return refusal
        return self.get_response(request)

    @staticmethod
    def _ended_session(request: HttpRequest) -> HttpResponse | None:
        """A terminated person's browser still sends the cookie of a session
        that `user_sessions_end_all` deleted: tell them why, once (Django
        drops the stale cookie with this response), instead of a bare
        redirect to the sign-in page."""
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if not key or request.path.startswith(("/accounts/", "/static/")) or not request.session.is_empty():
            return None
        user_session = user_session_by_key(session_key=key[:40])
        if user_session is None or user_session.end_reason != "account_disabled":
            return None
        return session_ended_response(request, "account_disabled")

    def _check(self, request: HttpRequest, user: User) -> HttpResponse | None:
        state = workforce_state(user)
        if state.level == AccessLevel.ENDED:
            if state.status == Person.Status.ONBOARDING:
                logout(request)
                return session_ended_response(request, "account_disabled")
            if state.termination_due:
                services.termination_enforce_on_request(user=user)
            services.access_after_termination_record(user=user, channel="session")
            logout(request)
            return session_ended_response(request, "account_disabled")
        if state.level == AccessLevel.BLOCKED and not request.path.startswith(BLOCKED_ALLOWED_PATHS):
            if _wants_json(request):
                return JsonResponse(
                    {"detail": "Access suspended: required training is overdue. Complete it to continue."},
                    status=403,
                )
            return render(request, "workforce/blocked.html", {"state": state}, status=403)
        return None
