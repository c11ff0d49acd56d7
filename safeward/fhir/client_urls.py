"""/oauth/clients/: the OAuth/SMART client registry page (ADR 0606)."""

from django.urls import path

from safeward.fhir import client_views

app_name = "oauth_clients"

urlpatterns = [
    path("", client_views.client_list, name="list"),
    path("new/", client_views.client_register, name="register"),
    path("<int:registration_id>/", client_views.client_detail, name="detail"),
    path("<int:registration_id>/edit/", client_views.client_edit, name="edit"),
    path("<int:registration_id>/expiry/", client_views.client_expiry, name="expiry"),
    path("<int:registration_id>/revoke/", client_views.client_revoke, name="revoke"),
]
