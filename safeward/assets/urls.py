from django.urls import path

from safeward.assets import discovery_urls, views

app_name = "assets"

urlpatterns = [
    path("", views.asset_list, name="list"),
    path("new/", views.asset_create, name="create"),
    path("import/", views.asset_import, name="import"),
    path("manifests/", views.manifest_lookup, name="manifests"),
    path("<int:asset_id>/", views.asset_detail, name="detail"),
    path("<int:asset_id>/edit/", views.asset_edit, name="edit"),
    path("<int:asset_id>/review/", views.asset_review, name="review"),
]
urlpatterns += discovery_urls.urlpatterns
