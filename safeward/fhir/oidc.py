"""OpenID Connect for SMART on FHIR (ADR 0541), on django-oauth-toolkit.

When an app asks for `openid fhirUser`, the token response carries an
id_token signed with SafeWard's RS256 key (safeward/fhir/signing_key.py).
Its claims are what OIDC and SMART v2 require and nothing more: `iss`, `aud`
(the client id), `sub` (the account's opaque number), `exp`, `iat`,
`auth_time`, `jti`, `nonce` when the app sent one, `at_hash`, and `fhirUser`
(the signed-in person's Practitioner reference) only when `fhirUser` was
granted. No name, username, e-mail or role goes in it.

Discovery (`/o/.well-known/openid-configuration`), the key set
(`/o/.well-known/jwks.json`) and `/o/userinfo/` are DOT's views behind thin
SafeWard views that declare their permission.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from oauth2_provider.models import Application
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauth2_provider.views import ConnectDiscoveryInfoView, JwksInfoView, UserInfoView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

PUBLIC = "public"  # declared: discovery documents and key sets are public by design


def fhir_user_reference(*, issuer: str, user_pk: Any) -> str:
    """The absolute FHIR reference of a workforce account (SMART v2 `fhirUser`).
    Every SafeWard account is workforce, so it is a Practitioner."""
    parts = urlsplit(issuer)
    base = reverse("fhir:metadata").rsplit("/metadata", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{base}/Practitioner/{user_pk}"


class SmartValidator(OAuth2Validator):  # type: ignore[misc]  # DOT ships no type hints
    oidc_claim_scope = {"sub": "openid", "fhirUser": "fhirUser"}

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        if "fhirUser" not in (request.scopes or ()):
            return {}
        issuer = self.get_oidc_issuer_endpoint(request)
        return {"fhirUser": fhir_user_reference(issuer=issuer, user_pk=request.user.pk)}

    def finalize_id_token(self, id_token: Any, token: Any, token_handler: Any, request: Any) -> str:
        # Every id_token is signed with SafeWard's RS256 key, whatever the
        # application record says (HS256 would sign with a client secret that
        # public SMART apps do not have).
        request.client.algorithm = Application.RS256_ALGORITHM
        signed: str = super().finalize_id_token(id_token, token, token_handler, request)
        return signed

    def _load_application(self, client_id: str, request: Any) -> Application | None:
        # Every client lookup of the authorize and token endpoints passes here:
        # a revoked or expired registration is an unknown client (ADR 0606).
        from safeward.fhir.clients import client_usable

        application: Application | None = super()._load_application(client_id, request)
        if application is not None and not client_usable(application_id=application.pk):
            request.client = None
            return None
        return application

    def validate_bearer_token(self, token: Any, scopes: Any, request: Any) -> bool:
        # Every bearer request: a token outlives neither its client's expiry nor its revocation.
        from safeward.fhir.clients import client_usable

        if not super().validate_bearer_token(token, scopes, request):
            return False
        access = getattr(request, "access_token", None)
        application_id = getattr(access, "application_id", None)
        # The token's account goes with its client: one credential check for both (ADR 1212).
        return application_id is None or client_usable(
            application_id=application_id, account=getattr(request, "user", None)
        )

    def _get_key_for_token(self, token: Any) -> Any:
        # DOT looks up the key by the audience's application record; SafeWard's
        # id_tokens are all signed with the server key (see finalize_id_token).
        return jwk_from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)


class _Wrapped(APIView):
    """A DOT view run as it is, behind a SafeWard declaration."""

    required_permission = PUBLIC
    permission_classes = [AllowAny]
    authentication_classes = ()
    dot_view: Any = None

    def _run(self, request: Request) -> HttpResponse:
        if not oauth2_settings.OIDC_ENABLED:
            return HttpResponse(status=404)
        response: HttpResponse = self.dot_view.as_view()(request._request)
        return response


class OpenIDConfiguration(_Wrapped):
    dot_view = ConnectDiscoveryInfoView

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return self._run(request)


class Jwks(_Wrapped):
    dot_view = JwksInfoView

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return self._run(request)


class UserInfo(_Wrapped):
    """The OIDC userinfo endpoint: the same claims as the id_token (`sub`,
    `fhirUser`). Authenticated by the bearer token itself (DOT checks it)."""

    dot_view = UserInfoView

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return self._run(request)

    @extend_schema(exclude=True)
    def post(self, request: Request) -> HttpResponse:
        return self._run(request)
