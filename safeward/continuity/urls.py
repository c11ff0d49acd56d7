from django.urls import path

from safeward.continuity import views

app_name = "continuity"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("downtime/declare/", views.downtime_declare, name="downtime_declare"),
    path("downtime/<int:downtime_id>/confirm/", views.downtime_confirm, name="downtime_confirm"),
    path("downtime/<int:downtime_id>/end/", views.downtime_end, name="downtime_end"),
    path("bia/", views.bia, name="bia"),
    path("schedule/", views.schedule_page, name="schedule"),
    path("schedule/<slug:job>/run/", views.schedule_run, name="schedule_run"),
    path("kits/", views.kits, name="kits"),
    path("recovery/", views.recovery, name="recovery"),
    path("recovery/<int:entry_id>/verify/", views.recovery_verify, name="recovery_verify"),
    path("recovery/<int:entry_id>/chart/", views.recovery_chart, name="recovery_chart"),
    path("recovery/<int:entry_id>/patient/", views.recovery_patient_search, name="recovery_patient_search"),
    path("recovery/report/", views.recovery_report, name="recovery_report"),
    path("kits/<slug:ward_code>/download/", views.kit_download, name="kit_download"),
]
