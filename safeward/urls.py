from django.urls import URLPattern, URLResolver, include, path

from safeward.fhir import oauth_urls
from safeward.identity.api import MeView, SchemaView

# The REST API under one prefix, the clinical API first: Django tries the
# patterns in order, so an API request is matched after one prefix test
# instead of after every page's pattern (ADR 0308). The API's prefixes are
# distinct, so their order inside it changes no match.
api_v1: list[URLPattern | URLResolver] = [
    path("clinical/", include(("safeward.clinical.api_urls", "clinical_api"))),
    path("me/", MeView.as_view(), name="api_me"),
    path("workforce/", include(("safeward.workforce.api", "workforce_api"))),
    path("assets/", include(("safeward.assets.api", "assets_api"))),
    path("compliance/", include(("safeward.assessments.api", "compliance_api"))),
    path("assessments/", include(("safeward.assessments.campaign_api", "campaigns_api"))),
    path("risks/", include(("safeward.assessments.risk_api", "risks_api"))),
    path("policies/", include(("safeward.policies.api", "policies_api"))),
    path("vendors/", include(("safeward.vendors.api", "vendors_api"))),
    path("vulns/", include(("safeward.patching.api", "vulns_api"))),
    path("incidents/", include(("safeward.incidents.api", "incidents_api"))),
    path("devices/", include(("safeward.devices.api", "devices_api"))),
    path("devices/posture/", include(("safeward.devices.posture_api", "posture_api"))),
    path("facilities/", include(("safeward.facilities.api", "facilities_api"))),
    path("continuity/", include(("safeward.continuity.api", "continuity_api"))),
    path("discovery/", include(("safeward.assets.discovery_api", "discovery_api"))),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("fhir/", include(("safeward.fhir.urls", "fhir"))),
    path("o/", include(("safeward.fhir.oauth_urls", "oauth"))),
    path("api/schema/", SchemaView.as_view(), name="api_schema"),
    path("accounts/", include("allauth.urls")),
    path("", include("safeward.identity.urls")),
    path("", include("safeward.web.urls")),
    path("", include("safeward.oversight.key_urls")),
    path("", include("safeward.workforce.urls")),
    path("", include("safeward.oversight.audit_urls")),
    path("", include("safeward.clinical.urls")),
    path("", include("safeward.detection.urls")),
    path("", include("safeward.incidents.urls")),
    path("assets/", include("safeward.assets.urls")),
    path("policies/", include("safeward.policies.urls")),
    path("vendors/", include("safeward.vendors.urls")),
    path("vulns/", include("safeward.patching.urls")),
    path("devices/", include("safeward.devices.urls")),
    path("devices/posture/", include("safeward.devices.posture_urls")),
    path("facilities/", include("safeward.facilities.urls")),
    path("continuity/", include("safeward.continuity.urls")),
    path("compliance/assessments/", include("safeward.assessments.campaign_urls")),
    path("compliance/risks/", include("safeward.assessments.risk_urls")),
    path("compliance/", include("safeward.assessments.urls")),
    path("oauth/clients/", include(("safeward.fhir.client_urls", "oauth_clients"))),
    # The same routes reversible under DOT's own namespace: its OIDC discovery
    # document builds its URLs with reverse("oauth2_provider:<name>").
    path("o/", include((oauth_urls.urlpatterns, "oauth2_provider"))),
]

handler400 = "safeward.web.views.bad_request"
handler403 = "safeward.web.views.permission_denied"
handler404 = "safeward.web.views.not_found"
handler500 = "safeward.web.views.server_error"
