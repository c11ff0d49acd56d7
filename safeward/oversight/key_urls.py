from django.urls import path

from safeward.oversight import key_views as views

# The namespace of the URLs under /crypto/ (ADR 0566: the page moved, its names did not).
app_name = "crypto"

urlpatterns = [
    path("crypto/keys/", views.key_status, name="keys"),
    path("crypto/keys/rotate/", views.key_rotate_view, name="rotate"),
]
