"""Incident list and page, and opening one from an alert or adding an alert
to one (the actions incidents puts on detection's alert page,
`safeward.incidents.panels`); incidents move open -> contained -> closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.audit.manifests import ManifestDraft, manifest_response
from safeward.audit.selectors import user_display_names
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.types import SessionContext
from safeward.detection import scope
from safeward.detection.queue import alerts_of_incident
from safeward.detection.triage import TriageError, UnknownObject, alert_version
from safeward.detection.views import alert_or_404, alert_refused
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.incidents import case_services, containment, letters, selectors, services, workflow
from safeward.incidents.forms import (
    AssignForm,
    CaseForm,
    ContainForm,
    DiscoveryForm,
    DoneForm,
    DueForm,
    EvidenceForm,
    ExerciseForm,
    FlagForm,
    IncidentForm,
    IncidentLinkForm,
    IncidentStatusForm,
    LessonsForm,
    NoteForm,
    NotifiedForm,
    RiskForm,
    ScopeForm,
    TitleForm,
    TransferForm,
    split_list,
)
from safeward.incidents.models import Incident

PAGE_SIZE = 50


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
            "can_manage": _actor(request).has_perm(Perm.INCIDENT_RECORD_MANAGE),
        },
    )


def _incident_page(
    request: HttpRequest, incident: Incident, *, status: int = 200, error: str = ""
) -> HttpResponse:
    actor = _actor(request)
    evidence = selectors.case_evidence(incident_id=int(incident.pk))
    custody_people = [event.actor_id for item in evidence for event in item.custody.all()]
    names = user_display_names(
        user_ids=[
            incident.opened_by_id,
            incident.owner_id,
            incident.reviewer_id,
            *custody_people,
            *[item.holder_id for item in evidence],
        ]
    )
    alerts = alerts_of_incident(incident_id=int(incident.pk))
    breach = selectors.case_breach(incident_id=int(incident.pk))
    now = clock.now()
    deadlines = (
        [
            (deadline, deadline.state(now, case_services.deadline_done(breach, deadline.code)))
            for deadline in case_services.breach_deadlines(breach)
        ]
        if breach is not None
        else []
    )
    return render(
        request,
        "incidents/detail.html",
        {
            "incident": incident,
            "opened_by": names.get(incident.opened_by_id or 0, ""),
            "owner": names.get(incident.owner_id or 0, ""),
            "reviewer": names.get(incident.reviewer_id or 0, ""),
            "names": names,
            "alerts": alerts,
            "patient_total": scope.scope_patient_count(alert_ids=[int(alert.pk) for alert in alerts]),
            "status_form": IncidentStatusForm(),
            "next_statuses": [
                (value, Incident.Status(value).label) for value in workflow.next_statuses(incident.status)
            ],
            "timeline": selectors.case_timeline(incident_id=int(incident.pk)),
            "tasks": selectors.case_tasks(incident_id=int(incident.pk)),
            "evidence": evidence,
            "breach": breach,
            "deadlines": deadlines,
            "letter_batches": (
                [
                    (number, min(letters.LETTER_BATCH, breach.affected - (number - 1) * letters.LETTER_BATCH))
                    for number in range(1, letters.letter_batch_count(breach) + 1)
                ]
                if breach is not None
                else []
            ),
            "containment_actions": [
                action for action in containment.actions() if actor.has_perm(action.permission)
            ],
            "risk_factors": case_services.RISK_FACTORS,
            "categories": Incident.Category.choices,
            "owner_choices": (
                selectors.staff_choices(permission=selectors.OWNER_PERMISSION)
                if actor.has_perm(Perm.INCIDENT_RECORD_MANAGE)
                else []
            ),
            "reviewer_choices": (
                selectors.staff_choices(permission=selectors.REVIEWER_PERMISSION)
                if actor.has_perm(Perm.INCIDENT_RECORD_MANAGE)
                else []
            ),
            "can_manage": actor.has_perm(Perm.INCIDENT_RECORD_MANAGE),
            "can_breach": actor.has_perm(Perm.INCIDENT_BREACH_MANAGE),
            "error": error,
            "now": now,
        },
        status=status,
    )


def _get_or_404(incident_id: int) -> Incident:
    incident = selectors.incident_get(incident_id=incident_id)
    if incident is None:
        raise Http404("No such incident.")
    return incident


def _form_error(form: forms.Form) -> str:
    parts = []
    for field, errors in form.errors.items():
        label = form.fields[field].label or field.replace("_", " ") if field in form.fields else ""
        text = " ".join(str(error) for error in errors)
        parts.append(f"{label}: {text}" if label else text)
    return "; ".join(parts) or "Check the form."


def _act(
    request: HttpRequest,
    incident: Incident,
    form: forms.Form,
    action: Callable[[dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    """Validate the form, run the service, and show the case again: a clear
    4xx with the reason, or back to the case with a message."""
    if not form.is_valid():
        return _incident_page(request, incident, status=400, error=_form_error(form))
    try:
        action(form.cleaned_data)
    except TriageError as error:
        return _incident_page(request, incident, status=error.status, error=str(error))
    except PermissionDenied as error:
        return _incident_page(request, incident, status=403, error=str(error))
    messages.success(request, done)
    return redirect("incidents:detail", incident_id=incident.pk)


@require_GET
@requires(Perm.INCIDENT_RECORD_READ)
def incident_detail(request: HttpRequest, incident_id: int) -> HttpResponse:
    return _incident_page(request, _get_or_404(incident_id))


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def incident_status(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        IncidentStatusForm(request.POST),
        lambda data: services.incident_status_set(
            actor=_actor(request), incident_id=incident_id, status=data["status"], reason=data["reason"]
        ),
        f"Incident {incident.pk} is now {request.POST.get('status', '')}.",
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.INCIDENT_RECORD_MANAGE)
def incident_new(request: HttpRequest) -> HttpResponse:
    form = CaseForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                incident = case_services.incident_create(actor=_actor(request), **form.cleaned_data)
            except (TriageError, PermissionDenied) as error:
                status = error.status if isinstance(error, TriageError) else 403
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Incident {incident.pk} opened.")
                return redirect("incidents:detail", incident_id=incident.pk)
    return render(request, "incidents/new.html", {"form": form}, status=status)


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def incident_assign(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        AssignForm(request.POST),
        lambda data: case_services.incident_assign(
            actor=_actor(request),
            incident_id=incident_id,
            owner_id=data["owner"],
            reviewer_id=data["reviewer"],
            category=data["category"],
        ),
        "Owner, reviewer and category saved.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def timeline_add(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        NoteForm(request.POST),
        lambda data: case_services.timeline_note(actor=_actor(request), incident_id=incident_id, **data),
        "Timeline entry added.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def timeline_flag(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = selectors.timeline_entry_get(entry_id=entry_id)
    if entry is None:
        raise Http404("No such timeline entry.")
    return _act(
        request,
        entry.incident,
        FlagForm(request.POST),
        lambda data: case_services.timeline_flag(actor=_actor(request), entry_id=entry_id, **data),
        "Report flag saved.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def task_done(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get(task_id=task_id)
    if task is None:
        raise Http404("No such task.")
    return _act(
        request,
        task.incident,
        DoneForm(request.POST),
        lambda data: case_services.task_set_done(actor=_actor(request), task_id=task_id, **data),
        "Task updated.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def task_due(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get(task_id=task_id)
    if task is None:
        raise Http404("No such task.")
    return _act(
        request,
        task.incident,
        DueForm(request.POST),
        lambda data: case_services.task_due_set(actor=_actor(request), task_id=task_id, **data),
        "Due date saved.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def follow_up_add(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        TitleForm(request.POST),
        lambda data: case_services.follow_up_add(actor=_actor(request), incident_id=incident_id, **data),
        "Follow-up action added.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def lessons_set(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        LessonsForm(request.POST),
        lambda data: case_services.lessons_set(actor=_actor(request), incident_id=incident_id, **data),
        "Lessons learned saved.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def exercise_record(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        ExerciseForm(request.POST),
        lambda data: case_services.exercise_record(actor=_actor(request), incident_id=incident_id, **data),
        "Exercise record saved.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def evidence_add(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    form = EvidenceForm(request.POST, request.FILES)

    def run(data: dict[str, Any]) -> object:
        upload = data["file"]
        return case_services.evidence_add(
            actor=_actor(request),
            incident_id=incident_id,
            title=data["title"],
            filename=upload.name or "evidence.bin",
            content_type=upload.content_type or "application/octet-stream",
            source=upload,
        )

    return _act(request, incident, form, run, "Evidence stored, encrypted, with its SHA-256.")


@require_GET
@requires(Perm.INCIDENT_RECORD_MANAGE)
def evidence_download(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = selectors.evidence_get(evidence_id=evidence_id)
    if evidence is None:
        raise Http404("No such evidence.")
    try:
        _, content = case_services.evidence_open(actor=_actor(request), evidence_id=evidence_id)
    except TriageError as error:
        return _incident_page(request, evidence.incident, status=error.status, error=str(error))
    response = HttpResponse(content, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="evidence-{evidence.pk}.bin"'
    return manifest_response(
        response,
        actor=_actor(request),
        draft=ManifestDraft(
            kind="document",
            route="incidents:evidence_download",
            purpose=PurposeOfUse.SECURITY,
            detail={"incident": str(evidence.incident_id), "evidence": str(evidence.pk)},
        ),
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def evidence_verify(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = selectors.evidence_get(evidence_id=evidence_id)
    if evidence is None:
        raise Http404("No such evidence.")
    return _act(
        request,
        evidence.incident,
        forms.Form(request.POST),
        lambda data: case_services.evidence_verify(actor=_actor(request), evidence_id=evidence_id),
        f"Evidence {evidence.pk} matches its SHA-256.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def evidence_transfer(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = selectors.evidence_get(evidence_id=evidence_id)
    if evidence is None:
        raise Http404("No such evidence.")
    return _act(
        request,
        evidence.incident,
        TransferForm(request.POST),
        lambda data: case_services.evidence_transfer(
            actor=_actor(request), evidence_id=evidence_id, to_user_id=data["to_user"], note=data["note"]
        ),
        "Custody transferred.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def contain(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        ContainForm(request.POST),
        lambda data: case_services.containment_run(
            actor=_actor(request), incident_id=incident_id, code=data["action"], target=data["target"]
        ),
        "Containment done and recorded on the timeline.",
    )


@require_POST
@requires(Perm.INCIDENT_RECORD_MANAGE)
def breach_scope(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        ScopeForm(request.POST),
        lambda data: case_services.breach_scope_compute(
            actor=_actor(request),
            session=SessionContext.from_request(request),
            incident_id=incident_id,
            window_start=data["window_start"],
            window_end=data["window_end"],
            usernames=split_list(data["usernames"]),
            client_ids=split_list(data["client_ids"]),
            session_ids=split_list(data["session_ids"]),
            file_hashes=split_list(data["file_hashes"]),
            gdpr=data["gdpr"],
        ),
        "Breach scope computed from the audit trail.",
    )


@require_POST
@requires(Perm.INCIDENT_BREACH_MANAGE)
def breach_discovery(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        DiscoveryForm(request.POST),
        lambda data: case_services.discovery_override(actor=_actor(request), incident_id=incident_id, **data),
        "Discovery moment saved.",
    )


@require_POST
@requires(Perm.INCIDENT_BREACH_MANAGE)
def breach_risk(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)

    def run(data: dict[str, Any]) -> object:
        conclusion = data.pop("conclusion")
        return case_services.risk_assessment_set(
            actor=_actor(request), incident_id=incident_id, factors=data, conclusion=conclusion
        )

    return _act(request, incident, RiskForm(request.POST), run, "Risk assessment recorded.")


@require_POST
@requires(Perm.INCIDENT_BREACH_MANAGE)
def breach_notified(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = _get_or_404(incident_id)
    return _act(
        request,
        incident,
        NotifiedForm(request.POST),
        lambda data: case_services.notification_mark_sent(
            actor=_actor(request), incident_id=incident_id, **data
        ),
        "Notification recorded.",
    )


@require_GET
@requires(Perm.INCIDENT_BREACH_MANAGE)
def letters_download(request: HttpRequest, incident_id: int, batch: int) -> HttpResponse:
    """One batch of the notification letters as a PDF (ADR 1411): read through
    the gateway, recorded on the case, manifested as a print naming each patient."""
    incident = _get_or_404(incident_id)
    try:
        letters_pdf = letters.letters_batch_pdf(
            actor=_actor(request),
            session=SessionContext.from_request(request),
            incident_id=incident_id,
            batch=batch,
        )
    except UnknownObject as error:
        raise Http404(str(error)) from None
    except TriageError as error:
        return _incident_page(request, incident, status=error.status, error=str(error))
    response = HttpResponse(letters_pdf.pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="letters-incident-{incident.pk}-batch-{batch}.pdf"'
    )
    return manifest_response(
        response,
        actor=_actor(request),
        draft=ManifestDraft(
            kind="print",
            route="incidents:letters_download",
            purpose=PurposeOfUse.SECURITY,
            patient_ids=letters_pdf.patient_ids,
            sections=("demographics",),
            detail={"incident": str(incident.pk), "batch": str(batch), "letters": str(letters_pdf.letters)},
        ),
    )


@require_GET
@requires(Perm.INCIDENT_RECORD_READ)
def deadlines(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    rows = []
    for breach in selectors.open_breaches():
        for deadline in case_services.breach_deadlines(breach):
            rows.append(
                (
                    breach.incident,
                    deadline,
                    deadline.state(now, case_services.deadline_done(breach, deadline.code)),
                )
            )
    rows.sort(key=lambda row: row[1].due)
    return render(request, "incidents/deadlines.html", {"rows": rows, "now": now})


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
