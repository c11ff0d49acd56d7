"""DRF's bearer-token authentication (django-oauth-toolkit's), which also
tells the audit trail which application is acting: every event recorded
while the request runs names the OAuth client and comes from the `api`
(ADR 0208). The request context middleware resets it when the request ends.

The token is read from the Authorization header only, never from the body
(ADR 1309): DOT's verification reads `request.POST`, which on a DRF request
parses the body, so an anonymous caller sending the wrong content type got
415 (or 400 for malformed JSON) before 401, and learnt what the endpoint
accepts before being known. The same holds for a signed-in browser session
whose CSRF check fails: `CsrfFirstSessionAuthentication` judges the CSRF
token before the body is parsed."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.oauth2_backends import OAuthLibCore, get_oauthlib_core
from rest_framework import exceptions
from rest_framework.authentication import CSRFCheck, SessionAuthentication
from rest_framework.request import Request

from safeward.audit import context as audit_context


class _HeaderTokenCore(OAuthLibCore):  # type: ignore[misc]  # DOT ships no type hints
    """DOT's verification with an empty body: the bearer token comes from the
    header (RFC 6750 2.1); the body is the view's to parse once the caller is known."""

    def extract_body(self, request: Any) -> list[tuple[str, str]]:
        return []


class OAuth2ClientAuthentication(OAuth2Authentication):  # type: ignore[misc]  # DOT ships no type hints
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = self._verify(request)
        if result is None and request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer ":
            # A bearer token that is not valid is refused (RFC 6750), never
            # passed over for the browser session that may travel with it.
            raise exceptions.AuthenticationFailed("The access token is not valid.")
        if result is not None:
            application = getattr(result[1], "application", None)
            current = audit_context.current()
            audit_context.bind(
                dataclasses.replace(
                    current,
                    # An interface that named itself (FHIR) keeps its name.
                    source=current.source or "api",
                    client_id=str(getattr(application, "client_id", "") or ""),
                    client_name=str(getattr(application, "name", "") or ""),
                )
            )
        return result

    def _verify(self, request: Request) -> tuple[Any, Any] | None:
        """DOT's OAuth2Authentication.authenticate, verifying through `_HeaderTokenCore`."""
        core = _HeaderTokenCore(get_oauthlib_core().server)
        try:
            valid, verified = core.verify_request(request, scopes=[])
        except ValueError as error:
            if str(error) == "Invalid hex encoding in query string.":
                raise SuspiciousOperation(error) from None
            raise
        if valid:
            return verified.user, verified.access_token
        # Read back by authenticate_header for the WWW-Authenticate challenge.
        request.oauth2_error = getattr(verified, "oauth2_error", {})  # type: ignore[attr-defined]
        return None


def _not_called(_request: HttpRequest) -> HttpResponse:
    """The middleware's response and view callables, which a check alone never calls."""
    raise AssertionError("the CSRF check called its view")


class CsrfFirstSessionAuthentication(SessionAuthentication):
    """DRF's session authentication, with the CSRF check run on Django's own
    request. DRF hands the check its Request, whose `.POST` parses the body
    with the view's parsers when no X-CSRFToken header came: a session whose
    CSRF check fails then got 415 (wrong content type) or 400 (malformed
    JSON) instead of 403. Django's request reads a form body only, as the
    CSRF middleware does for every other view, and DRF reuses what it read."""

    def enforce_csrf(self, request: Request) -> None:
        check = CSRFCheck(_not_called)
        django_request = request._request
        check.process_request(django_request)  # sets META["CSRF_COOKIE"] for process_view
        reason = check.process_view(django_request, _not_called, (), {})
        if reason:
            raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")
