from django.urls import include, path

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("", include("safeward.identity.urls")),
    path("", include("safeward.web.urls")),
    path("", include("safeward.crypto.urls")),
]

handler400 = "safeward.web.views.bad_request"
handler403 = "safeward.web.views.permission_denied"
handler404 = "safeward.web.views.not_found"
handler500 = "safeward.web.views.server_error"
