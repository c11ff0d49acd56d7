from django.urls import include, path

from safeward.fhir import oauth_urls
from safeward.identity.api import MeView, SchemaView

urlpatterns = [
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
    path("api/v1/me/", MeView.as_view(), name="api_me"),
    path("api/v1/workforce/", include(("safeward.workforce.api", "workforce_api"))),
    path("api/v1/assets/", include(("safeward.assets.api", "assets_api"))),
    path("api/v1/compliance/", include(("safeward.assessments.api", "compliance_api"))),
    path("api/v1/assessments/", include(("safeward.assessments.campaign_api", "campaigns_api"))),
    path("api/v1/risks/", include(("safeward.assessments.risk_api", "risks_api"))),
    path("api/v1/policies/", include(("safeward.policies.api", "policies_api"))),
    path("api/v1/vendors/", include(("safeward.vendors.api", "vendors_api"))),
    path("api/v1/vulns/", include(("safeward.patching.api", "vulns_api"))),
    path("api/v1/incidents/", include(("safeward.incidents.api", "incidents_api"))),
    path("api/v1/devices/", include(("safeward.devices.api", "devices_api"))),
    path("api/v1/devices/posture/", include(("safeward.devices.posture_api", "posture_api"))),
    path("api/v1/facilities/", include(("safeward.facilities.api", "facilities_api"))),
    path("api/v1/continuity/", include(("safeward.continuity.api", "continuity_api"))),
    path("api/schema/", SchemaView.as_view(), name="api_schema"),
    path("api/v1/clinical/", include(("safeward.clinical.api_urls", "clinical_api"))),
    path("api/v1/discovery/", include(("safeward.assets.discovery_api", "discovery_api"))),
    path("fhir/", include(("safeward.fhir.urls", "fhir"))),
    path("o/", include(("safeward.fhir.oauth_urls", "oauth"))),
    path("oauth/clients/", include(("safeward.fhir.client_urls", "oauth_clients"))),
    # The same routes reversible under DOT's own namespace: its OIDC discovery
    # document builds its URLs with reverse("oauth2_provider:<name>").
    path("o/", include((oauth_urls.urlpatterns, "oauth2_provider"))),
]

handler400 = "safeward.web.views.bad_request"
handler403 = "safeward.web.views.permission_denied"
handler404 = "safeward.web.views.not_found"
handler500 = "safeward.web.views.server_error"
