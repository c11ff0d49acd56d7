from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from safeward.identity.decorators import authenticated
from safeward.identity.selectors import user_active_roles
from safeward.web.api_errors import api_error, is_api_path
from safeward.web.panels import dashboard_panels
from safeward.web.worklists import worklists_for


@require_GET
@authenticated
def dashboard(request: HttpRequest) -> HttpResponse:
    """Each person lands on their work: the worklists their permissions open,
    and the panels other apps register (lapsed assets, ...)."""
    return render(
        request,
        "web/dashboard.html",
        {
            "roles": user_active_roles(user=request.user),  # type: ignore[arg-type]
            "worklists": worklists_for(request),
            "panels": dashboard_panels(reader=request.user),  # type: ignore[arg-type]
        },
    )


@require_GET
@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "web/error.html",
        {
            "title": "Form expired",
            "message": "This form was open too long or came from another site. Go back, reload, try again.",
        },
        status=403,
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request):
        return api_error(request, 400, exception)
    return render(
        request,
        "web/error.html",
        {
            "title": "Bad request",
            "message": "The request could not be understood.",
        },
        status=400,
    )


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request):
        return api_error(request, 403, exception)
    return render(
        request,
        "web/error.html",
        {
            "title": "Not permitted",
            "message": "Your roles do not allow this. Ask your manager if you need it.",
        },
        status=403,
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request):
        return api_error(request, 404, exception)
    return render(
        request,
        "web/error.html",
        {
            "title": "Not found",
            "message": "There is nothing here, or nothing you may see.",
        },
        status=404,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return api_error(request, 500)
    return render(
        request,
        "web/error.html",
        {
            "title": "Something went wrong",
            "message": "The error has been recorded. Try again; if it keeps happening, call the desk.",
        },
        status=500,
    )
