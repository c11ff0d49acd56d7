from django.urls import path

from safeward.identity import views

app_name = "identity"

urlpatterns = [
    path("accounts/enrol/", views.mfa_enrol, name="mfa_enrol"),
    path("identity/sessions/", views.my_sessions, name="my_sessions"),
    path("identity/sessions/<uuid:session_id>/end/", views.my_session_end, name="my_session_end"),
    path("identity/users/", views.user_list, name="user_list"),
    path("identity/users/new/", views.user_create, name="user_create"),
    path("identity/users/<int:user_id>/", views.user_detail, name="user_detail"),
    path("identity/users/<int:user_id>/roles/", views.user_role_grant, name="user_role_grant"),
    path(
        "identity/users/<int:user_id>/roles/<int:assignment_id>/revoke/",
        views.user_role_revoke,
        name="user_role_revoke",
    ),
    path(
        "identity/users/<int:user_id>/sessions/end/",
        views.user_sessions_end_all,
        name="user_sessions_end_all",
    ),
    path("identity/users/<int:user_id>/lock/", views.user_lock, name="user_lock"),
    path("identity/approvals/", views.approvals, name="approvals"),
    path(
        "identity/approvals/<int:assignment_id>/<str:decision>/",
        views.approval_decide,
        name="approval_decide",
    ),
    path("identity/zones/", views.zones, name="zones"),
    path("identity/session-policy/", views.session_policy, name="session_policy"),
]
