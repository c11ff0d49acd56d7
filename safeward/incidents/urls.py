from django.urls import path

from safeward.incidents import views

app_name = "incidents"

urlpatterns = [
    path("incidents/", views.incident_list, name="list"),
    path("incidents/<int:incident_id>/", views.incident_detail, name="detail"),
    path("incidents/<int:incident_id>/status/", views.incident_status, name="status"),
    path("incidents/<int:incident_id>/patients/", views.incident_patients, name="patients"),
    path("incidents/<int:incident_id>/patients.csv", views.incident_patients_csv, name="patients_csv"),
    # On the alert's path: the actions of incidents' panel on the alert page.
    path("detection/alerts/<int:alert_id>/incident/", views.alert_open, name="alert_open"),
    path("detection/alerts/<int:alert_id>/incident/link/", views.alert_link, name="alert_link"),
]
