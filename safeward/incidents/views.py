"""Incident list and page, and opening one from an alert or adding an alert
to one (the actions incidents puts on detection's alert page,
`safeward.incidents.panels`); incidents move open -> contained -> closed."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.audit.selectors import user_display_names
from safeward.clinical.types import SessionContext
from safeward.detection import scope
from safeward.detection.queue import alerts_of_incident
from safeward.detection.triage import TriageError, alert_version
from safeward.detection.views import alert_or_404, alert_refused
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.incidents import selectors, services
from safeward.incidents.forms import IncidentForm, IncidentLinkForm, IncidentStatusForm
from safeward.incidents.models import Incident

PAGE_SIZE = 50
_NEXT_STATUS = {"open": "contained", "contained": "closed", "closed": "open"}


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_GET
@requires(Perm.INCIDENT_RECORD_READ)
def incident_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status and status not in Incident.Status.values:
        return render(request, "incidents/list.html", {"error": "Unknown status.", "rows": []}, status=400)
    before = request.GET.get("before", "")
    if before and not before.isdigit():
        return render(
            request, "incidents/list.html", {"error": "The page link is not valid.", "rows": []}, status=400
        )
    incidents, following = selectors.incidents_page(
        status=status, before_id=int(before) if before else None, size=PAGE_SIZE
    )
    names = user_display_names(user_ids=[incident.opened_by_id for incident in incidents])
    return render(
        request,
        "incidents/list.html",
        {
            "rows": [(incident, names.get(incident.opened_by_id or 0, "")) for incident in incidents],
            "status": status,
            "statuses": Incident.Status.choices,
            "following": following,
        },
    )


def _incident_page(
    request: HttpRequest, incident: Incident, *, status: int = 200, error: str = ""
) -> HttpResponse:
    names = user_display_names(user_ids=[incident.opened_by_id])
    alerts = alerts_of_incident(incident_id=int(incident.pk))
    return render(
        request,
        "incidents/detail.html",
        {
            "incident": incident,
            "opened_by": names.get(incident.opened_by_id or 0, ""),
            "alerts": alerts,
            "patient_total": scope.scope_patient_count(alert_ids=[int(alert.pk) for alert in alerts]),
            "status_form": IncidentStatusForm(initial={"status": _NEXT_STATUS[incident.status]}),
            "can_manage": _actor(request).has_perm(Perm.INCIDENT_RECORD_MANAGE),
            "error": error,
        },
        status=status,
    )


@require_GET
@requires(Perm.INCIDENT_RECORD_READ)
def incident_detail(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = selectors.incident_get(incident_id=incident_id)
    if incident is None:
        raise Http404("No such incident.")
    return _incident_page(request, incident)


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def incident_status(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = selectors.incident_get(incident_id=incident_id)
    if incident is None:
        raise Http404("No such incident.")
    form = IncidentStatusForm(request.POST)
    if not form.is_valid():
        return _incident_page(request, incident, status=400, error="Choose a status.")
    try:
        services.incident_status_set(
            actor=_actor(request), incident_id=incident_id, status=form.cleaned_data["status"]
        )
    except TriageError as error:
        return _incident_page(request, incident, status=error.status, error=str(error))
    except PermissionDenied as error:
        return _incident_page(request, incident, status=403, error=str(error))
    messages.success(request, f"Incident {incident.pk} is now {form.cleaned_data['status']}.")
    return redirect("incidents:detail", incident_id=incident.pk)


@require_GET
@requires(Perm.INCIDENT_RECORD_MANAGE)
def incident_patients(request: HttpRequest, incident_id: int) -> HttpResponse:
    """The incident's scope: every patient of every linked alert (ADR 0729)."""
    incident = selectors.incident_get(incident_id=incident_id)
    if incident is None:
        raise Http404("No such incident.")
    can_export = _actor(request).has_perm(Perm.AUDIT_REPORT_EXPORT)
    return scope.scope_render(
        request,
        actor=_actor(request),
        scope="incident",
        scope_id=int(incident.pk),
        heading=f"Incident #{incident.pk}",
        back_url=reverse("incidents:detail", args=[incident.pk]),
        csv_url=reverse("incidents:patients_csv", args=[incident.pk]) if can_export else "",
    )


@require_GET
@requires(Perm.AUDIT_REPORT_EXPORT)
@requires(Perm.INCIDENT_RECORD_MANAGE)
def incident_patients_csv(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = selectors.incident_get(incident_id=incident_id)
    if incident is None:
        raise Http404("No such incident.")
    return scope.scope_csv(
        actor=_actor(request),
        session=SessionContext.from_request(request),
        scope="incident",
        scope_id=int(incident.pk),
    )


# --- from an alert: open an incident, or add the alert to an open one ---------------


@require_http_methods(["GET", "POST"])
@requires(Perm.INCIDENT_RECORD_MANAGE)
@requires(Perm.DETECTION_ALERT_TRIAGE)
def alert_open(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_or_404(alert_id)
    if request.method == "GET":
        form = IncidentForm(
            initial={"version": alert_version(alert), "title": alert.title, "severity": alert.severity}
        )
        return render(request, "incidents/alert_open.html", {"alert": alert, "form": form})
    form = IncidentForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            incident = services.incident_open_from_alert(
                actor=_actor(request), alert_id=alert_id, **form.cleaned_data
            )
        except (TriageError, PermissionDenied) as error:
            status = error.status if isinstance(error, TriageError) else 403
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Incident {incident.pk} opened from alert {alert.pk}.")
            return redirect("incidents:detail", incident_id=incident.pk)
    return render(request, "incidents/alert_open.html", {"alert": alert, "form": form}, status=status)


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
@requires(Perm.DETECTION_ALERT_TRIAGE)
def alert_link(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert_or_404(alert_id)
    form = IncidentLinkForm(request.POST)
    if not form.is_valid():
        return alert_refused(request, alert_id, TriageError("Choose an incident."))
    try:
        incident = services.incident_link_alert(actor=_actor(request), alert_id=alert_id, **form.cleaned_data)
    except (TriageError, PermissionDenied) as error:
        return alert_refused(request, alert_id, error)
    messages.success(request, f"Alert {alert_id} added to incident {incident.pk}.")
    return redirect("incidents:detail", incident_id=incident.pk)
