"""/o/: the OAuth2 endpoints (django-oauth-toolkit, with SafeWard's SMART additions)."""

from django.urls import path

from safeward.fhir import oauth

app_name = "oauth"

urlpatterns = [
    path("authorize/", oauth.Authorize.as_view(), name="authorize"),
    path("token/", oauth.Token.as_view(), name="token"),
    path("launch/", oauth.Launch.as_view(), name="launch"),
]
