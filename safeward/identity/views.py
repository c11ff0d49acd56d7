"""Account, role, session and zone administration, and the MFA enrolment page.
Views are thin: forms validate, services act, selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.identity import selectors, services
from safeward.identity.decorators import authenticated, requires, step_up_required
from safeward.identity.errors import InvalidState
from safeward.identity.forms import (
    ReasonForm,
    RoleGrantForm,
    SingleSessionRolesForm,
    UserCreateForm,
    ZoneForm,
)
from safeward.identity.models import NetworkZone, RoleAssignment, User, UserSession
from safeward.identity.permissions import Perm


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_GET
@authenticated
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    from allauth.mfa.models import Authenticator

    factors = Authenticator.objects.filter(user=_actor(request)).values_list("type", flat=True)
    return render(request, "identity/mfa_enrol.html", {"factors": set(factors)})


@require_GET
@authenticated
def my_sessions(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "identity/my_sessions.html",
        {
            "sessions": selectors.user_sessions_active(user=_actor(request)),
            "current": getattr(request, "safeward_session", None),
        },
    )


@require_POST
@authenticated
def my_session_end(request: HttpRequest, session_id: str) -> HttpResponse:
    user_session = get_object_or_404(UserSession, pk=session_id, user=_actor(request), ended_at__isnull=True)
    services.session_end(actor=_actor(request), user_session=user_session)
    messages.success(request, "The session has been ended.")
    return redirect("identity:my_sessions")


@require_GET
@requires(Perm.IDENTITY_USER_VIEW)
def user_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:40]
    users = selectors.users_list()
    if query:
        users = users.filter(username__icontains=query)
    return render(request, "identity/user_list.html", {"users": users[:200], "query": query})


@require_http_methods(["GET", "POST"])
@requires(Perm.IDENTITY_USER_MANAGE)
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if User.objects.filter(username=form.cleaned_data["username"]).exists():
            form.add_error("username", "This username is taken.")
        else:
            user = services.user_create(actor=_actor(request), **form.cleaned_data)
            messages.success(request, f"Account {user.username} created. Set a first password for it.")
            return redirect("identity:user_detail", user_id=user.pk)
    return render(request, "identity/user_create.html", {"form": form}, status=400 if form.errors else 200)


def _user_or_404(user_id: int) -> User:
    return get_object_or_404(selectors.users_list(), pk=user_id)


@require_GET
@requires(Perm.IDENTITY_USER_VIEW)
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    return _user_page(request, _user_or_404(user_id))


def _user_page(request: HttpRequest, user: User, grant_form: RoleGrantForm | None = None) -> HttpResponse:
    """The account's page; a grant form that failed comes back bound (what
    was typed stays) and the page answers 400."""
    return render(
        request,
        "identity/user_detail.html",
        {
            "subject": user,
            "assignments": user.role_assignments.select_related(
                "role", "requested_by", "decided_by"
            ).order_by("-requested_at")[:50],
            "sessions": selectors.user_sessions_active(user=user),
            "grant_form": grant_form or RoleGrantForm(),
        },
        status=400 if grant_form is not None else 200,
    )


@require_POST
@requires(Perm.IDENTITY_ROLE_REQUEST)
@step_up_required
def user_role_grant(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(user_id)
    form = RoleGrantForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: choose a role and give a reason.")
        return _user_page(request, user, grant_form=form)
    try:
        assignment = services.role_request(actor=_actor(request), user=user, **form.cleaned_data)
    except (PermissionDenied, InvalidState) as error:
        messages.error(request, str(error))
        return redirect("identity:user_detail", user_id=user.pk)
    if assignment.status == RoleAssignment.Status.PENDING:
        messages.info(request, f"{assignment.role.name} is privileged: it waits for a second approver.")
    else:
        messages.success(request, f"{assignment.role.name} granted.")
    return redirect("identity:user_detail", user_id=user.pk)


@require_POST
@requires(Perm.IDENTITY_ROLE_REQUEST)
@step_up_required
def user_role_revoke(request: HttpRequest, user_id: int, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(RoleAssignment, pk=assignment_id, user_id=user_id)
    form = ReasonForm(request.POST)
    try:
        services.role_revoke(
            actor=_actor(request),
            assignment=assignment,
            reason=form.cleaned_data.get("reason", "") if form.is_valid() else "",
        )
        messages.success(request, "Role revoked.")
    except InvalidState as error:
        messages.error(request, str(error))
    return redirect("identity:user_detail", user_id=user_id)


@require_POST
@requires(Perm.IDENTITY_SESSION_REVOKE)
@step_up_required
def user_sessions_end_all(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(user_id)
    ended = services.user_sessions_end_all(actor=_actor(request), user=user, reason="ended_by_administrator")
    messages.success(request, f"Ended {ended} session(s) of {user.username}.")
    return redirect("identity:user_detail", user_id=user.pk)


@require_POST
@requires(Perm.IDENTITY_USER_MANAGE)
@step_up_required
def user_lock(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _user_or_404(user_id)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        if user.is_locked:
            services.user_unlock(actor=_actor(request), user=user)
            messages.success(request, f"{user.username} unlocked.")
        else:
            services.user_lock(actor=_actor(request), user=user, reason=reason or "locked by administrator")
            messages.success(request, f"{user.username} locked; every session ended.")
    except PermissionDenied as error:
        messages.error(request, str(error))
    return redirect("identity:user_detail", user_id=user.pk)


@require_GET
@requires(Perm.IDENTITY_ROLE_APPROVE)
def approvals(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "identity/approvals.html",
        {
            "pending": selectors.role_assignments_pending(),
            "form": ReasonForm(),
        },
    )


@require_POST
@requires(Perm.IDENTITY_ROLE_APPROVE)
@step_up_required
def approval_decide(request: HttpRequest, assignment_id: int, decision: str) -> HttpResponse:
    assignment = get_object_or_404(RoleAssignment, pk=assignment_id, status=RoleAssignment.Status.PENDING)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        if decision == "approve":
            services.role_approve(actor=_actor(request), assignment=assignment)
            messages.success(request, "Approved.")
        elif decision == "reject":
            services.role_reject(actor=_actor(request), assignment=assignment, reason=reason)
            messages.success(request, "Rejected.")
        else:
            raise Http404
    except (PermissionDenied, InvalidState) as error:
        messages.error(request, str(error))
    return redirect("identity:approvals")


@require_http_methods(["GET", "POST"])
@requires(Perm.IDENTITY_ZONE_MANAGE)
def zones(request: HttpRequest) -> HttpResponse:
    form = ZoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.zone_save(actor=_actor(request), **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Zone {form.cleaned_data['name']} saved.")
            return redirect("identity:zones")
    return render(
        request,
        "identity/zones.html",
        {"zones": NetworkZone.objects.all(), "form": form},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.SECURITY_CONFIG_MANAGE)
def session_policy(request: HttpRequest) -> HttpResponse:
    """Which roles may have one session at a time (ADR 0009). Reading needs
    the permission; changing it also needs a recent second factor."""
    if request.method == "POST":
        return _session_policy_save(request)
    form = SingleSessionRolesForm(initial={"roles": sorted(selectors.single_session_role_codes())})
    return render(request, "identity/session_policy.html", {"form": form})


@step_up_required
def _session_policy_save(request: HttpRequest) -> HttpResponse:
    form = SingleSessionRolesForm(request.POST)
    if form.is_valid():
        services.single_session_roles_set(actor=_actor(request), role_codes=form.cleaned_data["roles"])
        messages.success(request, "Session policy saved.")
        return redirect("identity:session_policy")
    return render(request, "identity/session_policy.html", {"form": form}, status=400)
