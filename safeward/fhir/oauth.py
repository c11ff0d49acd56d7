"""OAuth2 for SMART on FHIR, on django-oauth-toolkit (DOT), mounted at /o/.

* `/o/authorize/` — DOT's authorization view (authorization code + PKCE S256,
  required by settings). It sits behind SafeWard's sign-in and MFA: an
  anonymous visitor is sent to the login page first. The scopes granted are
  narrowed to what the signed-in user's permissions could ever use; an EHR
  launch (`launch=<code>` from `/o/launch/`) pins the token to one patient.
* `/o/token/` — the authorization-code exchange is DOT's; the client
  credentials grant for backend services is SafeWard's, authenticated by a
  signed JWT client assertion (private_key_jwt, RFC 7523, SMART Backend
  Services), each assertion usable once. Tokens are DOT's (hashed at rest).
* `/o/launch/` — a signed-in clinician opens an app for a patient they may
  see (checked and audited by the gateway): a one-time launch code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from oauth2_provider.models import AccessToken, Application, set_token_value
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.signals import app_authorized
from oauth2_provider.views import AuthorizationView, TokenView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward import clock
from safeward.audit import context as audit_context
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.api import purpose_for
from safeward.clinical.scopes import parse_scope, scopes_within_rights
from safeward.clinical.types import Forbidden, NotFound, SessionContext
from safeward.fhir import extensions
from safeward.fhir.clients import client_allowed_scopes, client_usable
from safeward.fhir.models import ClientKey, LaunchCode, TokenContext, UsedAssertion
from safeward.identity.api_permissions import BY_OPERATION
from safeward.identity.decorators import AUTHENTICATED_ONLY, DECLARED_PERMISSION
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_account_usable, user_permissions

PUBLIC = "public"  # declared: the token endpoint authenticates the client itself
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_MAX_LIFETIME = dt.timedelta(minutes=5)
LAUNCH_LIFETIME = dt.timedelta(minutes=5)
ALGORITHMS = ("RS384", "ES384", "RS256", "ES256")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


# --- authorize --------------------------------------------------------------------------------------
def allow_form_redirect(response: HttpResponse, client_id: str, redirect_uri: str) -> None:
    """The consent (and picker) forms post to SafeWard, which answers with a
    redirect to the app. Browsers apply CSP `form-action` to that redirect too,
    so the page's policy names the app's origin — only for a redirect URI
    registered for this client."""
    application = Application.objects.filter(client_id=client_id[:100]).first() if client_id else None
    if application is None or not application.redirect_uri_allowed(redirect_uri):
        return
    parts = urlsplit(redirect_uri)
    if parts.scheme not in oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES or not parts.netloc:
        return
    policy: dict[str, Any] = dict(settings.SECURE_CSP)
    policy["form-action"] = [*policy.get("form-action", ()), f"{parts.scheme}://{parts.netloc}"]
    response._csp_config = policy  # type: ignore[attr-defined]  # read by Django's CSP middleware


def pkce_method(request: HttpRequest) -> str:
    """The PKCE method asked for; RFC 7636 makes a challenge without one `plain`."""
    method = request.GET.get("code_challenge_method", "")
    return method or ("plain" if request.GET.get("code_challenge") else "")


class Authorize(AuthorizationView):  # type: ignore[misc]  # DOT ships no type hints
    """DOT's consent page, behind SafeWard's sign-in. Declared `authenticated`:
    any signed-in account may approve an app for itself; what the token then
    reaches is its user's policy ∩ its scopes."""

    template_name = "fhir/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Unlike DOT's own view this one is not exempt from LoginRequiredMiddleware:
        # SafeWard's sign-in (with MFA) comes first.
        from safeward.fhir import picker

        if request.method == "GET" and pkce_method(request) not in ("", "S256"):
            # PKCE `plain` sends the verifier itself through the browser: refused
            # here, before the patient picker or the consent page is ever shown.
            return self.refuse(
                "SafeWard accepts PKCE with code_challenge_method=S256 only; this app sent another."
            )
        if request.method == "GET" and request.GET.get("launch"):
            request.session["smart_launch"] = request.GET["launch"][:128]
        elif request.method == "GET" and picker.wants_patient_picker(request):
            # Standalone launch asking for a patient: pick one first (ADR 0542).
            launch = picker.chosen_launch(request)
            if launch is None:
                return picker.start(request)
            request.session["smart_launch"] = launch
        response: HttpResponse = super().dispatch(request, *args, **kwargs)
        if request.method == "GET" and response.status_code == 200:
            allow_form_redirect(
                response, request.GET.get("client_id", ""), request.GET.get("redirect_uri", "")
            )
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """DOT's consent context, plus the patient a launch pins the token to
        (read through the gateway: policy and audit as for any read)."""
        context: dict[str, Any] = super().get_context_data(**kwargs)
        launch = self.request.session.get("smart_launch")
        user = self.request.user
        if launch and isinstance(user, User):
            record = LaunchCode.objects.filter(
                code_hash=_hash(str(launch)), user=user, used_at__isnull=True, expires_at__gt=clock.now()
            ).first()
            if record is not None:
                try:
                    context["launch_patient"] = gateway.patient_read(
                        actor=user,
                        session=SessionContext.from_request(self.request),
                        purpose=purpose_for(user),
                        patient_id=str(record.patient_id),
                    )
                except NotFound:
                    context["launch_patient"] = None
        return context

    def refuse(self, description: str) -> HttpResponse:
        """The consent template's error state, as a 400 (no redirect: the app is unknown or unproven)."""
        context = {"error": {"error": "invalid_request", "description": description}}
        return render(self.request, self.template_name, context, status=400)

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.refuse("The consent form was incomplete. Start again from the app.")

    def form_valid(self, form: Any) -> HttpResponse:
        user = self.request.user
        assert isinstance(user, User)
        # The posted client_id is a hidden field anyone can change: DOT looks it
        # up with .get() and would answer an unknown one with a 500.
        application_id = (
            Application.objects.filter(client_id=str(form.cleaned_data.get("client_id") or "")[:100])
            .values_list("pk", flat=True)
            .first()
        )
        if application_id is None:
            return self.refuse("The app is not registered with SafeWard.")
        requested = str(form.cleaned_data.get("scope") or "").split()
        form.cleaned_data["scope"] = " ".join(scopes_within_rights(requested, user_permissions(user=user)))
        response: HttpResponse = super().form_valid(form)
        launch = self.request.session.pop("smart_launch", None)
        self.request.session.pop("smart_standalone", None)
        location = getattr(self, "success_url", "") or ""
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if code:
            # The browser's device goes with the code to the token (ADR 1019).
            extensions.consent_given(self.request, code=code, application_id=application_id)
        if launch and code:
            LaunchCode.objects.filter(
                code_hash=_hash(launch), user=user, used_at__isnull=True, expires_at__gt=clock.now()
            ).update(grant_code_hash=_hash(code))
        return response


setattr(Authorize, DECLARED_PERMISSION, AUTHENTICATED_ONLY)


# --- launch -----------------------------------------------------------------------------------------
def issue_launch_code(*, user: User, patient_id: str) -> str:
    """A one-time launch code naming a patient `user` was just allowed to read
    (the caller checked it through the gateway): EHR launch and the standalone
    patient picker both end here."""
    code = secrets.token_urlsafe(32)
    now = clock.now()
    LaunchCode.objects.create(
        code_hash=_hash(code),
        user=user,
        patient_id=patient_id,
        created_at=now,
        expires_at=now + LAUNCH_LIFETIME,
    )
    return code


class LaunchInput(serializers.Serializer[Any]):
    patient_id = serializers.UUIDField()


class LaunchOutput(serializers.Serializer[Any]):
    launch = serializers.CharField()
    expires_in = serializers.IntegerField()


class Launch(APIView):
    """An EHR launch: a one-time code naming a patient the signed-in user may
    see (the gateway reads the patient: policy and audit as for any read).
    With a bearer token it is a Patient read of that patient under the scope
    decision (ADR 0606): no `Patient.r` scope is 403, a patient outside a
    `patient/` token's launch context is 404."""

    required_permission = Perm.CLINICAL_PATIENT_READ
    token_scopes = {"POST": BY_OPERATION}

    @extend_schema(request=LaunchInput, responses={201: LaunchOutput}, operation_id="smart_launch_create")
    def post(self, request: Request) -> Response:
        from safeward.clinical.scopes import Operation, session_for

        data = LaunchInput(data=request.data)
        data.is_valid(raise_exception=True)
        patient_id = str(data.validated_data["patient_id"])
        user = request.user
        assert isinstance(user, User)
        try:
            session = session_for(request, Operation("Patient", "r", patient_id))
            gateway.patient_read(
                actor=user, session=session, purpose=purpose_for(user), patient_id=patient_id
            )
        except Forbidden:
            return Response({"detail": "Not permitted."}, status=403)
        except NotFound:
            return Response({"detail": "No such record."}, status=404)
        code = issue_launch_code(user=user, patient_id=patient_id)
        return Response(
            LaunchOutput({"launch": code, "expires_in": int(LAUNCH_LIFETIME.total_seconds())}).data,
            status=201,
        )


# --- token ------------------------------------------------------------------------------------------
class Token(APIView):
    """The token endpoint: client credentials with a JWT client assertion
    (SafeWard's), everything else DOT's (authorization code with PKCE,
    refresh). Anonymous by nature: the client authenticates in the body."""

    required_permission = PUBLIC
    permission_classes = [AllowAny]
    authentication_classes = ()

    @extend_schema(exclude=True)
    def post(self, request: Request) -> HttpResponse:
        django_request = request._request
        form = django_request.POST
        if form.get("grant_type") == "client_credentials" and form.get("client_assertion_type") == JWT_BEARER:
            return backend_service_token(django_request)
        if form.get("grant_type") == "refresh_token":
            # E.g. the device the refresh token was issued to is lost (ADR 1019).
            refusal = extensions.refresh_refusal(django_request, form.get("refresh_token", ""))
            if refusal is not None:
                return _oauth_error("invalid_grant", refusal)
        response: HttpResponse = TokenView.as_view()(django_request)
        if response.status_code == 200 and form.get("grant_type") == "authorization_code":
            _bind_launch(form.get("code", ""), response)
        return response


def _bind_launch(code: str, response: HttpResponse) -> None:
    """Pin the token issued for this authorization code to the launch's patient."""
    if not code:
        return
    launch = LaunchCode.objects.filter(grant_code_hash=_hash(code), used_at__isnull=True).first()
    body = json.loads(response.content)
    raw = body.get("access_token")
    if raw is None:
        return
    token = AccessToken.objects.filter(token_checksum=_hash(raw)).first()
    if token is None:
        return
    now = clock.now()
    TokenContext.objects.create(
        access_token=token, patient_id=launch.patient_id if launch is not None else None, created_at=now
    )
    if launch is not None:
        LaunchCode.objects.filter(pk=launch.pk).update(used_at=now)
        # SMART: the token response names the launch patient (an opaque id).
        body["patient"] = str(launch.patient_id)
        response.content = json.dumps(body).encode()


def backend_service_token(request: HttpRequest) -> HttpResponse:
    """SMART Backend Services: verify the client assertion, then issue a
    token for the application's service account, scopes narrowed to its rights."""
    assertion = request.POST.get("client_assertion", "")
    if not assertion or len(assertion) > 8192:
        return _oauth_error("invalid_client", "A client assertion is required.", 401)
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
        client_id = str(claims.get("iss", ""))
    except jwt.PyJWTError:
        return _oauth_error("invalid_client", "The client assertion is malformed.", 401)
    application = (
        Application.objects.filter(
            client_id=client_id[:100], authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS
        )
        .select_related("user")
        .first()
    )
    key = ClientKey.objects.filter(application=application).first() if application is not None else None
    if application is None or key is None or application.user is None:
        return _oauth_error("invalid_client", "Unknown client.", 401)
    if not client_usable(application_id=application.pk):
        _audit_token(application, None, Outcome.DENIED, "client_revoked_or_expired")
        return _oauth_error("invalid_client", "The client's registration is revoked or expired.", 401)
    audience = request.build_absolute_uri(reverse("oauth:token"))
    try:
        verified = jwt.decode(
            assertion,
            key.public_key_pem,
            algorithms=[key.algorithm],
            audience=audience,
            issuer=client_id,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
    except jwt.PyJWTError:
        _audit_token(application, None, Outcome.DENIED, "client_assertion_invalid")
        return _oauth_error("invalid_client", "The client assertion is not valid.", 401)
    now = clock.now()
    expires = dt.datetime.fromtimestamp(int(verified["exp"]), tz=dt.UTC)
    if verified.get("sub") != client_id or expires - now > ASSERTION_MAX_LIFETIME:
        return _oauth_error("invalid_client", "The client assertion is not valid.", 401)
    user = application.user
    if not user_account_usable(user=user):
        _audit_token(application, user, Outcome.DENIED, "service_account_unusable")
        return _oauth_error("invalid_client", "The client may not obtain tokens.", 401)
    requested = request.POST.get("scope", "").split()
    system_only = [w for w in requested if (s := parse_scope(w)) is not None and s.context == "system"]
    allowed = client_allowed_scopes(application_id=application.pk)
    if allowed is not None:
        system_only = [w for w in system_only if w in allowed]
    granted = scopes_within_rights(system_only, user_permissions(user=user))
    if not granted:
        return _oauth_error("invalid_scope", "None of the requested scopes can be granted.")
    # E.g. a client linked to a device asks from a lost or another device (ADR 1020).
    refusal = extensions.client_credentials_refusal(request, application.pk)
    if refusal is not None:
        return _oauth_error("invalid_grant", refusal)
    try:
        with transaction.atomic():
            UsedAssertion.objects.filter(expires_at__lt=now).delete()
            UsedAssertion.objects.create(
                application_id=application.pk, jti=str(verified["jti"])[:200], expires_at=expires
            )
            raw = secrets.token_urlsafe(32)
            lifetime = oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
            token = AccessToken(
                user=user,
                application=application,
                expires=timezone.now() + dt.timedelta(seconds=lifetime),
                scope=" ".join(granted),
            )
            set_token_value(token, raw)
            token.save()
            TokenContext.objects.create(access_token=token, patient_id=None, created_at=now)
            # DOT's signal for every token it issues: receivers bind the token (e.g. to
            # its device, ADR 1020) in this transaction, as for DOT's own grants.
            app_authorized.send(sender=Token, request=request, token=token)
            _audit_token(application, user, Outcome.SUCCESS, "client_credentials")
    except IntegrityError:
        return _oauth_error("invalid_client", "The client assertion was already used.", 401)
    response = JsonResponse(
        {"access_token": raw, "token_type": "Bearer", "expires_in": lifetime, "scope": " ".join(granted)}
    )
    response["Cache-Control"] = "no-store"
    return response


def _audit_token(application: Application, user: User | None, outcome: Outcome, reason: str) -> None:
    """A token issued to (or refused for) a backend service, naming the client
    in the event's client columns as every token request does (ADR 0208)."""
    bound = audit_context.bind(
        dataclasses.replace(
            audit_context.current(), client_id=application.client_id, client_name=application.name
        )
    )
    try:
        audit_record(
            action=Action.LOGIN,
            outcome=outcome,
            actor=user,
            actor_username="" if user is not None else f"oauth-client:{application.pk}",
            resource_type="OAuthToken",
            resource_id=str(application.pk),
            patient_id="",
            purpose=PurposeOfUse.OPERATIONS,
            reason=reason,
            fields=(),
            detail={"grant": "client_credentials", "client": application.client_id},
        )
    finally:
        audit_context.reset(bound)


__all__ = ["Authorize", "Launch", "SessionContext", "Token"]
