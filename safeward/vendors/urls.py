from django.urls import path

from safeward.vendors import questionnaire_views, views

app_name = "vendors"

urlpatterns = [
    path("", views.vendor_list, name="list"),
    path("new/", views.vendor_create, name="new"),
    path("<int:vendor_id>/", views.vendor_detail, name="vendor"),
    path("<int:vendor_id>/agreements/new/", views.agreement_create, name="agreement_new"),
    path("<int:vendor_id>/credentials/new/", views.credential_create, name="credential_new"),
    path("<int:vendor_id>/suspend/", views.vendor_suspend, name="suspend"),
    path("<int:vendor_id>/offboard/", views.vendor_offboard, name="offboard"),
    path("agreements/<int:agreement_id>/terminate/", views.agreement_terminate, name="agreement_terminate"),
    path("agreements/<int:agreement_id>/notice/", views.agreement_notice, name="agreement_notice"),
    path("agreements/<int:agreement_id>/renew/", views.agreement_renew, name="agreement_renew"),
    path("agreements/<int:agreement_id>/documents/", views.document_upload, name="document_upload"),
    path("documents/<int:document_id>/", views.document_download, name="document_download"),
    path("questionnaires/", questionnaire_views.questionnaire_list, name="questionnaires"),
    path(
        "<int:vendor_id>/questionnaires/new/",
        questionnaire_views.questionnaire_send,
        name="questionnaire_new",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/",
        questionnaire_views.questionnaire_detail,
        name="questionnaire",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/sign-off/",
        questionnaire_views.questionnaire_sign_off,
        name="questionnaire_sign_off",
    ),
    path(
        "questionnaires/evidence/<int:evidence_id>/",
        questionnaire_views.evidence_download,
        name="evidence_download",
    ),
    # The vendor contact's single-use link: no account (ADR 1213).
    path("answer/<str:token>/", questionnaire_views.questionnaire_answer, name="questionnaire_answer"),
]
