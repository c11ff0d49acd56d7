from django.urls import path

from safeward.devices import posture_views as views

app_name = "devices_posture"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("import/", views.import_upload, name="import"),
    path("<int:device_id>/", views.device_posture, name="device"),
    path("<int:device_id>/report-lost/", views.report_lost, name="report_lost"),
    path("<int:device_id>/clients/link/", views.client_link_page, name="client_link"),
    path("<int:device_id>/clients/unlink/", views.client_unlink_page, name="client_unlink"),
    path("wipes/<int:wipe_id>/confirm/", views.wipe_confirm_page, name="wipe_confirm"),
]
