from django.urls import path

from safeward.detection import views

app_name = "detection"

urlpatterns = [
    path("detection/alerts/", views.alert_queue, name="alerts"),
    path("detection/alerts/<int:alert_id>/", views.alert_detail, name="alert_detail"),
    path("detection/alerts/<int:alert_id>/assign/", views.alert_assign, name="alert_assign"),
    path("detection/alerts/<int:alert_id>/triage/", views.alert_triage_start, name="alert_triage"),
    path(
        "detection/alerts/<int:alert_id>/dismiss/",
        views.alert_resolve,
        {"outcome": "dismiss"},
        name="alert_dismiss",
    ),
    path(
        "detection/alerts/<int:alert_id>/confirm/",
        views.alert_resolve,
        {"outcome": "confirm"},
        name="alert_confirm",
    ),
    path("detection/alerts/<int:alert_id>/contain/", views.alert_contain, name="alert_contain"),
    path("detection/alerts/<int:alert_id>/patients/", views.alert_patients, name="alert_patients"),
    path("detection/alerts/<int:alert_id>/patients.csv", views.alert_patients_csv, name="alert_patients_csv"),
    path("detection/reviews/", views.review_queue, name="reviews"),
    path("detection/reviews/<int:review_id>/", views.review_decide, name="review_decide"),
    path("detection/rules/", views.rule_list, name="rules"),
    path("detection/rules/<slug:code>/", views.rule_edit, name="rule_edit"),
]
