from django.urls import path

from safeward.incidents import views

app_name = "incidents"

urlpatterns = [
    path("incidents/", views.incident_list, name="list"),
    path("incidents/<int:incident_id>/", views.incident_detail, name="detail"),
    path("incidents/new/", views.incident_new, name="new"),
    path("incidents/deadlines/", views.deadlines, name="deadlines"),
    path("incidents/<int:incident_id>/status/", views.incident_status, name="status"),
    path("incidents/<int:incident_id>/assign/", views.incident_assign, name="assign"),
    path("incidents/<int:incident_id>/timeline/", views.timeline_add, name="timeline_add"),
    path("incidents/timeline/<int:entry_id>/flag/", views.timeline_flag, name="timeline_flag"),
    path("incidents/tasks/<int:task_id>/done/", views.task_done, name="task_done"),
    path("incidents/tasks/<int:task_id>/due/", views.task_due, name="task_due"),
    path("incidents/<int:incident_id>/follow-ups/", views.follow_up_add, name="follow_up_add"),
    path("incidents/<int:incident_id>/lessons/", views.lessons_set, name="lessons"),
    path("incidents/<int:incident_id>/exercise/", views.exercise_record, name="exercise"),
    path("incidents/<int:incident_id>/evidence/", views.evidence_add, name="evidence_add"),
    path("incidents/evidence/<int:evidence_id>/download/", views.evidence_download, name="evidence_download"),
    path("incidents/evidence/<int:evidence_id>/verify/", views.evidence_verify, name="evidence_verify"),
    path("incidents/evidence/<int:evidence_id>/transfer/", views.evidence_transfer, name="evidence_transfer"),
    path("incidents/<int:incident_id>/contain/", views.contain, name="contain"),
    path("incidents/<int:incident_id>/breach/", views.breach_scope, name="breach_scope"),
    path("incidents/<int:incident_id>/breach/discovery/", views.breach_discovery, name="breach_discovery"),
    path("incidents/<int:incident_id>/breach/risk/", views.breach_risk, name="breach_risk"),
    path("incidents/<int:incident_id>/breach/notified/", views.breach_notified, name="breach_notified"),
    path(
        "incidents/<int:incident_id>/letters/<int:batch>/download/",
        views.letters_download,
        name="letters_download",
    ),
    path("incidents/<int:incident_id>/patients/", views.incident_patients, name="patients"),
    path("incidents/<int:incident_id>/patients.csv", views.incident_patients_csv, name="patients_csv"),
    # On the alert's path: the actions of incidents' panel on the alert page.
    path("detection/alerts/<int:alert_id>/incident/", views.alert_open, name="alert_open"),
    path("detection/alerts/<int:alert_id>/incident/link/", views.alert_link, name="alert_link"),
]
