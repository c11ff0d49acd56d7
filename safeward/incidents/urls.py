from django.urls import path

from safeward.incidents import views

app_name = "incidents"

urlpatterns = [
    path("incidents/", views.incident_list, name="list"),
    path("incidents/<int:incident_id>/", views.incident_detail, name="detail"),
    path("incidents/<int:incident_id>/status/", views.incident_status, name="status"),
    path("incidents/<int:incident_id>/patients/", views.incident_patients, name="patients"),
    path("incidents/<int:incident_id>/patients.csv", views.incident_patients_csv, name="patients_csv"),
]
