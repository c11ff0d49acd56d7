from django.urls import path

from safeward.crypto import views

app_name = "crypto"

urlpatterns = [
    path("crypto/keys/", views.key_status, name="keys"),
    path("crypto/keys/rotate/", views.key_rotate_view, name="rotate"),
]
