from django.urls import path

from safeward.patching import views

app_name = "patching"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("findings/", views.findings, name="findings"),
    path("findings/<int:finding_id>/", views.finding_detail, name="finding"),
    path("findings/<int:finding_id>/triage/", views.finding_triage, name="finding_triage"),
    path("findings/<int:finding_id>/exception/", views.exception_new, name="exception_new"),
    path("exceptions/", views.exceptions, name="exceptions"),
    path("exceptions/<int:exception_id>/approve/", views.exception_approve, name="exception_approve"),
    path("exceptions/<int:exception_id>/reject/", views.exception_reject, name="exception_reject"),
    path("plans/", views.plans, name="plans"),
    path("plans/new/", views.plan_new, name="plan_new"),
    path("plans/<int:plan_id>/", views.plan_detail, name="plan"),
    path("plans/<int:plan_id>/update/", views.plan_update, name="plan_update"),
    path("import/", views.inventory_import, name="import"),
    path("feeds/", views.feed_import, name="feeds"),
    path("policy/", views.policy, name="policy"),
    path("controls/", views.controls_resources, name="controls"),
    path("vex/<slug:kind>/", views.vex_export, name="vex_export"),
]
