from django.urls import path

from safeward.assets import discovery_urls, views

app_name = "assets"

urlpatterns = [
    path("", views.asset_list, name="list"),
    path("<int:asset_id>/", views.asset_detail, name="detail"),
]
urlpatterns += discovery_urls.urlpatterns
