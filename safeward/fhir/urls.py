"""/fhir/: the FHIR R4 API and SMART discovery (the OAuth2 endpoints are at /o/)."""

from django.urls import path, re_path

from safeward.fhir import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.Metadata.as_view(), name="metadata"),
    path(".well-known/smart-configuration", views.SmartConfiguration.as_view(), name="smart_configuration"),
    re_path(r"^(?P<resource_type>[A-Za-z]{1,64})$", views.ResourceSearch.as_view(), name="search"),
    re_path(
        r"^Practitioner/(?P<practitioner_id>[0-9]{1,12})$",
        views.PractitionerRead.as_view(),
        name="practitioner",
    ),
    re_path(
        r"^(?P<resource_type>[A-Za-z]{1,64})/_search$", views.ResourceSearchPost.as_view(), name="search_post"
    ),
    re_path(
        r"^(?P<resource_type>[A-Za-z]{1,64})/(?P<resource_id>[A-Za-z0-9\-.]{1,64})$",
        views.ResourceRead.as_view(),
        name="read",
    ),
]
