"""/o/: the OAuth2 endpoints (django-oauth-toolkit, with SafeWard's SMART additions)."""

from django.urls import path

from safeward.fhir import oauth, oidc, picker

app_name = "oauth"

urlpatterns = [
    path("authorize/", oauth.Authorize.as_view(), name="authorize"),
    path("authorize/patient/", picker.patient_picker, name="patient_picker"),
    path("token/", oauth.Token.as_view(), name="token"),
    path("launch/", oauth.Launch.as_view(), name="launch"),
    # OpenID Connect (DOT's names, so DOT's discovery document can reverse them).
    path(
        ".well-known/openid-configuration",
        oidc.OpenIDConfiguration.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", oidc.Jwks.as_view(), name="jwks-info"),
    path("userinfo/", oidc.UserInfo.as_view(), name="user-info"),
]
