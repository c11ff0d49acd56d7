"""Per-request identity work: request context (address, zone, request id),
the session guard (time-outs, revocation, account state) and the MFA
enrolment gate."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core.exceptions import ReauthenticationRequired
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render, resolve_url
from django.urls import reverse

from safeward import clock
from safeward.audit import context as audit_context
from safeward.identity import services
from safeward.identity.models import User, UserSession
from safeward.identity.network import client_address, zone_for
from safeward.identity.redirects import (
    carriable,
    redirect_with_next,
    resume_after_reauthentication,
    return_path,
)
from safeward.identity.selectors import user_credential_refusal, user_has_second_factor
from safeward.prepared import Compiled

SESSION_ID_KEY = "safeward_session_id"
# How stale last_seen_at may get before it is written again; keeps the guard
# to one indexed read on most requests.
_LAST_SEEN_WRITE_INTERVAL = dt.timedelta(seconds=30)

Handler = Callable[[HttpRequest], HttpResponse]


class RequestContextMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        address = client_address(request)
        zone = zone_for(address)
        request_id = uuid.uuid4().hex
        request.safeward_client_ip = str(address) if address else None  # type: ignore[attr-defined]
        request.safeward_zone = zone  # type: ignore[attr-defined]
        request.safeward_request_id = request_id  # type: ignore[attr-defined]
        token = audit_context.bind(
            audit_context.AuditContext(
                request_id=request_id,
                client_ip=str(address) if address else None,
                network_zone=zone.name,
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            audit_context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's deny-by-default gate, with `next` kept within bounds
    (identity.redirects): Django would put any address in it and refuse its
    own redirect for a long one (DisallowedRedirect: a 400 and an ERROR with
    two tracebacks in the log, for any anonymous request with a long query
    string, so anyone could flood the error log)."""

    def handle_no_permission(
        self, request: HttpRequest, view_func: Callable[..., HttpResponseBase]
    ) -> HttpResponseRedirect:
        login_url = resolve_url(self.get_login_url(view_func))
        back = return_path(request)
        if back is None:
            return HttpResponseRedirect(login_url)
        return redirect_to_login(back, login_url, self.get_redirect_field_name(view_func))


class ReauthenticationRedirectMiddleware:
    """allauth's answer to ReauthenticationRequired (before MFA and password
    changes) is a redirect with the whole address in `next`, refused by Django
    for a long one (a 400). Listed after allauth's AccountMiddleware, so its
    process_exception runs first: an address that can be carried whole is
    left to allauth (which also keeps a POST to replay after the password),
    any other gets the bounded redirect."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ReauthenticationRequired) or not request.user.is_authenticated:
            return None
        if carriable(request.get_full_path()):
            return None
        methods = get_account_adapter().get_reauthentication_methods(request.user)
        if not methods:
            return None  # allauth refuses (PermissionDenied)
        return redirect_with_next(methods[0]["url"], resume_after_reauthentication(request))


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/fhir/")) or "application/json" in request.headers.get(
        "Accept", ""
    )


def session_ended_response(request: HttpRequest, reason: str) -> HttpResponse:
    if _wants_json(request):
        response = HttpResponse(
            b'{"detail": "Your session has ended. Sign in again."}',
            status=401,
            content_type="application/json",
        )
    else:
        response = render(request, "identity/session_ended.html", {"reason": reason}, status=401)
    return response


def _session_of(*, pk: uuid.UUID, user_id: int) -> QuerySet[UserSession]:
    """The session record the guard checks, as `.first()` reads it."""
    return UserSession.objects.filter(pk=pk, user_id=user_id)[:1]


# Compiled once per thread, prepared once per connection (ADR 0309).
_SESSION_READ = Compiled("identity.session_guard", _session_of)


class SessionGuardMiddleware:
    """Refuses a session on the very request after it stops being valid:
    idle time-out, absolute lifetime, ended by the user or an administrator,
    account disabled or locked."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        request.safeward_session = None  # type: ignore[attr-defined]
        if isinstance(user, User) and user.is_authenticated:
            refusal = self._check(request, user)
        else:
            refusal = self._ended_elsewhere(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., HttpResponse], *args: object
    ) -> HttpResponse | None:
        """API clients get 401 JSON where a browser is sent to the login page
        (LoginRequiredMiddleware, which runs after this, redirects)."""
        if (
            not request.user.is_authenticated
            and getattr(view_func, "login_required", True)
            and _wants_json(request)
        ):
            return HttpResponse(b'{"detail": "Sign in first."}', status=401, content_type="application/json")
        return None

    def _ended_elsewhere(self, request: HttpRequest) -> HttpResponse | None:
        """A request that arrives anonymous although it carries a signed-in
        session: Django refused the account (disabled), or the session was
        ended by an administrator or on another device and no longer exists in
        Django's session store. Say so, once (the session is flushed and the
        session middleware deletes the dead cookie)."""
        session_id = request.session.get(SESSION_ID_KEY)
        if session_id:
            user_session = UserSession.objects.select_related("user").filter(pk=session_id).first()
            reason = "unknown_session"
            if user_session is not None:
                reason = self._invalid_reason(user_session.user, user_session) or "account_disabled"
                services.session_expire(user_session=user_session, reason=reason)
            logout(request)
            return session_ended_response(request, reason)
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
        if not key or len(key) > 40 or request.session.session_key is not None:
            return None
        ended_reason = (
            UserSession.objects.filter(session_key=key, ended_at__isnull=False)
            .order_by("-ended_at")
            .values_list("end_reason", flat=True)
            .first()
        )
        return session_ended_response(request, ended_reason) if ended_reason is not None else None

    def _check(self, request: HttpRequest, user: User) -> HttpResponse | None:
        session_id = request.session.get(SESSION_ID_KEY)
        user_session = None
        if session_id:
            found = _SESSION_READ.rows(pk=UserSession._meta.pk.to_python(session_id), user_id=user.pk)
            user_session = found[0] if found else None
        reason = self._invalid_reason(user, user_session)
        if reason is not None:
            if user_session is not None:
                services.session_expire(user_session=user_session, reason=reason)
            logout(request)
            return session_ended_response(request, reason)
        assert user_session is not None
        now = clock.now()
        if now - user_session.last_seen_at > _LAST_SEEN_WRITE_INTERVAL:
            UserSession.objects.filter(pk=user_session.pk).update(last_seen_at=now)
            user_session.last_seen_at = now
        request.safeward_session = user_session  # type: ignore[attr-defined]
        audit_context.bind(dataclasses.replace(audit_context.current(), session_id=str(user_session.pk)))
        return None

    @staticmethod
    def _invalid_reason(user: User, user_session: UserSession | None) -> str | None:
        if user_session is None:
            return "unknown_session"
        if user_session.ended_at is not None:
            return user_session.end_reason or "ended"
        if not user.is_active:
            return "account_disabled"
        if user.locked_at is not None:
            return "account_locked"
        if (refused := user_credential_refusal(user=user)) is not None:
            return refused
        if user.sessions_valid_after is not None and user_session.created_at < user.sessions_valid_after:
            return "ended_by_administrator"
        now = clock.now()
        if now - user_session.last_seen_at > dt.timedelta(minutes=settings.SAFEWARD_SESSION_IDLE_MINUTES):
            return "timeout_idle"
        if now - user_session.created_at > dt.timedelta(hours=settings.SAFEWARD_SESSION_ABSOLUTE_HOURS):
            return "timeout_absolute"
        return None


# Paths a signed-in account without a second factor may reach: enrolment
# itself, signing out and static assets.
_ENROLMENT_PATHS = (
    "/accounts/2fa/totp/activate/",
    "/accounts/2fa/webauthn/add/",
    "/accounts/2fa/recovery-codes/",
    "/accounts/reauthenticate/",
    "/accounts/logout/",
    "/accounts/enrol/",
    "/static/",
)


_MFA_ENROLLED_KEY = "safeward_mfa_enrolled"


class RequireMFAMiddleware:
    """No page but enrolment is reachable before the account has a second factor."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            isinstance(user, User)
            and user.is_authenticated
            and not request.path.startswith(_ENROLMENT_PATHS)
            and not second_factor_enrolled(request, user)
        ):
            if _wants_json(request):
                return HttpResponse(
                    b'{"detail": "Enrol a second factor first."}',
                    status=403,
                    content_type="application/json",
                )
            return HttpResponseRedirect(reverse("identity:mfa_enrol"))
        return self.get_response(request)


def second_factor_enrolled(request: HttpRequest, user: User) -> bool:
    """Whether `user` has a second factor, as the MFA gate and the page's
    navigation both ask. Once a session has seen its account enrolled it
    stays so: the last factor cannot be removed
    (MFAAdapter.can_delete_authenticator), so the session remembers instead
    of asking the database on every request."""
    session = getattr(request, "session", None)
    if session is not None and session.get(_MFA_ENROLLED_KEY) == user.pk:
        return True
    if not user_has_second_factor(user=user):
        return False
    if session is not None:
        session[_MFA_ENROLLED_KEY] = user.pk
    return True
