from django.urls import path

from safeward.assessments import views

app_name = "assessments"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("run/", views.run_all, name="run_all"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/snapshot.json", views.run_snapshot, name="run_snapshot"),
    path("runs/<int:run_id>/controls/<str:control_id>/", views.result_detail, name="result"),
    path("exceptions/", views.exception_list, name="exceptions"),
    path("exceptions/new/", views.exception_request, name="exception_request"),
    path("exceptions/<int:exception_id>/approve/", views.exception_approve, name="exception_approve"),
    path("exceptions/<int:exception_id>/revoke/", views.exception_revoke, name="exception_revoke"),
    path("frameworks/<str:key>/", views.framework, name="framework"),
    path("frameworks/<str:key>/clauses/<str:clause_id>/", views.clause, name="clause"),
    path("frameworks/<str:key>/report.pdf", views.report_pdf, name="report_pdf"),
    path("frameworks/<str:key>/<str:kind>.csv", views.report_csv, name="report_csv"),
    path("frameworks/<str:key>/oscal.json", views.report_oscal, name="report_oscal"),
]
