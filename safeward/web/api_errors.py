"""One JSON error shape for the whole API, `{"detail": "...", "errors": {...}}`:
DRF's exception handler (every API view), the URLconf's 400/403/404/500
handlers for paths under /api/ (a URL that matches no route, a body over the
size cap rejected before any view), and the OpenAPI schema that declares it
(bearer authentication, and the error responses every operation can give).

Messages never echo the submitted value (it may be PHI)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

API_PREFIX = "/api/"


class ErrorOutput(serializers.Serializer[Any]):
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.CharField(), required=False)  # type: ignore[assignment]  # documents the JSON key "errors"; never validated


def is_api_path(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def too_large_detail() -> str:
    return f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."


def first_message(value: Any) -> str:
    while isinstance(value, list | tuple) and value:
        value = value[0]
    if isinstance(value, dict):
        return "Invalid value."
    return str(value)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own mapping (with its headers:
    WWW-Authenticate, Allow, Retry-After), then the one shape; Django's
    request-size refusals become 413/400 instead of an HTML page."""
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": too_large_detail()}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFieldsSent):
        return Response({"detail": "The request has too many fields."}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return Response({"detail": "No such record."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        return Response({"detail": "Not permitted."}, status=status.HTTP_403_FORBIDDEN)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        errors = (
            {str(k): first_message(v) for k, v in detail.items()}
            if isinstance(detail, dict)
            else {"body": first_message(detail)}
        )
        response.data = {"detail": "Invalid input.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    else:
        response.data = {"detail": "Request refused."}
    return response


def api_error(request: HttpRequest, status_code: int, exception: Exception | None = None) -> JsonResponse:
    """The URLconf handlers' answer for /api/ paths (no view, or no view reached)."""
    if isinstance(exception, RequestDataTooBig):
        status_code, detail = 413, too_large_detail()
    else:
        detail = {
            400: "The request could not be understood.",
            403: "Not permitted.",
            404: "No such record.",
            500: "Server error; it has been recorded.",
        }[status_code]
    return JsonResponse({"detail": detail}, status=status_code)


# --- the schema -----------------------------------------------------------------------------------
class CsrfFirstSessionScheme(SessionScheme):  # type: ignore[no-untyped-call]  # drf-spectacular's metaclass
    """The session cookie for identity.api_auth's CSRF-first session
    authentication, as drf-spectacular declares DRF's own (`cookieAuth`)."""

    target_class = "safeward.identity.api_auth.CsrfFirstSessionAuthentication"


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular's metaclass
    """DOT's bearer tokens as OpenAPI `http` bearer (drf-spectacular's own
    extension declares an `oauth2` scheme with no flows and no requirement)."""

    target_class = "oauth2_provider.contrib.rest_framework.OAuth2Authentication"
    match_subclasses = True  # SafeWard's own (identity.api_auth) adds the audit's client naming
    name = "bearer"
    priority = 1  # over drf-spectacular's contrib extension for the same class

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An OAuth2 access token from /o/token/ (SMART on FHIR: authorization code with PKCE "
                "S256, or client credentials with a signed JWT). Its scopes narrow what it may do."
            ),
        }

    def get_security_requirement(self, auto_schema: AutoSchema) -> dict[str, list[str]]:
        return {self.name: []}


BODY_METHODS = {"POST", "PUT", "PATCH"}


class ErrorsAutoSchema(AutoSchema):
    """Every operation declares the error answers any API view can give, in
    the one shape: 400, 401, 403, 404, 405, 406; with a body also 413 and 415.
    An operation's own declaration of a code wins. Request fields declare
    what DRF refuses (no NUL in text)."""

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)  # type: ignore[no-untyped-call]  # drf-spectacular's internals are untyped
        # DRF refuses NUL in every CharField (ProhibitNullCharactersValidator); say so.
        if direction == "request" and isinstance(field, serializers.CharField) and "pattern" not in schema:
            schema["pattern"] = "^[^\\u0000]*$"
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        codes = [400, 401, 403, 404, 405, 406]
        if self.method in BODY_METHODS:
            codes += [413, 415]
        for code in codes:
            if str(code) not in responses:
                error = self._get_response_for_code(ErrorOutput, str(code), direction=direction)  # type: ignore[no-untyped-call]  # untyped internals
                responses[str(code)] = error
        return responses
