"""The PHI discovery pages, under /assets/discovery/ in the assets namespace."""

from django.urls import path

from safeward.assets import discovery_views as views

urlpatterns = [
    path("discovery/", views.finding_queue, name="findings"),
    path("discovery/scan/", views.share_scan, name="scan_share"),
    path("discovery/findings/<int:finding_id>/", views.finding_detail, name="finding"),
    path("discovery/findings/<int:finding_id>/triage/", views.finding_triage, name="finding_triage"),
    path("discovery/scans/<int:scan_id>/", views.scan_detail, name="scan"),
]
