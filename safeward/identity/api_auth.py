"""DRF's bearer-token authentication (django-oauth-toolkit's), which also
tells the audit trail which application is acting: every event recorded
while the request runs names the OAuth client and comes from the `api`
(ADR 0208). The request context middleware resets it when the request ends."""

from __future__ import annotations

import dataclasses
from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions
from rest_framework.request import Request

from safeward.audit import context as audit_context


class OAuth2ClientAuthentication(OAuth2Authentication):  # type: ignore[misc]  # DOT ships no type hints
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result: tuple[Any, Any] | None = super().authenticate(request)
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
