from django.urls import path

from safeward.workforce import views

app_name = "workforce"

urlpatterns = [
    path("workforce/", views.people, name="people"),
    path("workforce/me/", views.me, name="me"),
    path("workforce/people/new/", views.person_create, name="person_create"),
    path("workforce/people/<int:person_id>/", views.person_detail, name="person"),
    path("workforce/people/<int:person_id>/account/", views.person_account, name="person_account"),
    path("workforce/people/<int:person_id>/activate/", views.person_activate, name="person_activate"),
    path("workforce/people/<int:person_id>/sign/", views.person_sign, name="person_sign"),
    path(
        "workforce/people/<int:person_id>/training/",
        views.person_training_complete,
        name="person_training_complete",
    ),
    path("workforce/people/<int:person_id>/position/", views.person_position, name="person_position"),
    path("workforce/people/<int:person_id>/items/", views.person_issue, name="person_issue"),
    path("workforce/people/<int:person_id>/terminate/", views.person_terminate, name="person_terminate"),
    path("workforce/training/", views.training, name="training"),
    path("workforce/terminations/", views.terminations, name="terminations"),
    path("workforce/reviews/", views.reviews, name="reviews"),
    path("workforce/reviews/<int:campaign_id>/report/", views.review_report, name="review_report"),
    path("workforce/reviews/items/<int:item_id>/decide/", views.review_decide, name="review_decide"),
    path("workforce/import/", views.import_changes, name="import"),
    path("workforce/setup/", views.setup, name="setup"),
    path("workforce/setup/positions/", views.setup_position, name="setup_position"),
    path("workforce/setup/courses/", views.setup_course, name="setup_course"),
    path("workforce/setup/agreements/", views.setup_agreement, name="setup_agreement"),
]
