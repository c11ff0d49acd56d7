from django.urls import path

from safeward.policies import views

app_name = "policies"

urlpatterns = [
    path("", views.library, name="library"),
    path("new/", views.document_create, name="document_new"),
    path("mine/", views.mine, name="mine"),
    path("acknowledge/", views.interstitial, name="interstitial"),
    path("acknowledge/later/", views.interstitial_later, name="interstitial_later"),
    path("acknowledge/<int:revision_id>/", views.acknowledge, name="acknowledge"),
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign"),
    path("<int:document_id>/", views.document_detail, name="document"),
    path("<int:document_id>/edit/", views.document_edit, name="document_edit"),
    path("<int:document_id>/review/", views.document_review, name="document_review"),
    path("<int:document_id>/retire/", views.document_retire, name="document_retire"),
    path("<int:document_id>/revisions/new/", views.revision_new, name="revision_new"),
    path("<int:document_id>/campaigns/new/", views.campaign_new, name="campaign_new"),
    path("revisions/<int:revision_id>/", views.revision_detail, name="revision"),
    path("revisions/<int:revision_id>/edit/", views.revision_edit, name="revision_edit"),
    path("revisions/<int:revision_id>/submit/", views.revision_submit, name="revision_submit"),
    path("revisions/<int:revision_id>/approve/", views.revision_approve, name="revision_approve"),
    path("revisions/<int:revision_id>/reject/", views.revision_reject, name="revision_reject"),
    path("revisions/<int:revision_id>/publish/", views.revision_publish, name="revision_publish"),
    path("revisions/<int:revision_id>/pdf/", views.revision_pdf, name="revision_pdf"),
]
