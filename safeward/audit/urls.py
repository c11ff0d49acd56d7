from django.urls import path

from safeward.audit import views

app_name = "audit"

urlpatterns = [
    path("audit/report/", views.report, name="report"),
    path("audit/report.csv", views.report_csv, name="report_csv"),
    path("audit/disclosures/", views.disclosures, name="disclosures"),
    path("audit/disclosures/print/", views.disclosures_print, name="disclosures_print"),
]
