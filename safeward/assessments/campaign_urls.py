"""Assessment campaigns, mounted at /compliance/assessments/."""

from django.urls import path

from safeward.assessments import campaign_views as views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("<int:campaign_id>/submit/", views.campaign_submit, name="submit"),
    path("<int:campaign_id>/sign-off/", views.campaign_sign_off, name="sign_off"),
    path("<int:campaign_id>/return/", views.campaign_return, name="return"),
    path("<int:campaign_id>/compare/", views.campaign_compare, name="compare"),
    path("questions/<int:question_id>/", views.question_detail, name="question"),
    path("questions/<int:question_id>/answer/", views.question_answer, name="answer"),
    path("questions/<int:question_id>/evidence/", views.evidence_upload, name="evidence_upload"),
    path("questions/<int:question_id>/findings/", views.finding_create, name="finding_create"),
    path("evidence/<uuid:evidence_id>/", views.evidence_download, name="evidence"),
    path("findings/", views.finding_list, name="findings"),
    path("findings/<int:finding_id>/", views.finding_detail, name="finding"),
    path("findings/<int:finding_id>/edit/", views.finding_update, name="finding_update"),
]
