"""The risk register, mounted at /compliance/risks/."""

from django.urls import path

from safeward.assessments import risk_views as views

app_name = "risks"

urlpatterns = [
    path("", views.risk_list, name="list"),
    path("new/", views.risk_create, name="create"),
    path("<int:risk_id>/", views.risk_detail, name="detail"),
    path("<int:risk_id>/edit/", views.risk_edit, name="edit"),
    path("<int:risk_id>/review/", views.risk_review, name="review"),
]
