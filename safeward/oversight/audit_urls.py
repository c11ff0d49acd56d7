from django.urls import path

from safeward.oversight import audit_views as views

# The namespace of the URLs under /audit/ (ADR 0566: the pages moved, their names did not).
app_name = "audit"

urlpatterns = [
    path("audit/report/", views.report, name="report"),
    path("audit/report.csv", views.report_csv, name="report_csv"),
    path("audit/disclosures/", views.disclosures, name="disclosures"),
    path("audit/disclosures/print/", views.disclosures_print, name="disclosures_print"),
]
