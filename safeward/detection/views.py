"""The security officer's alert queue and alert page (triage, containment),
the privacy officer's unexplained-access review queue and the rule
configuration. Thin views: forms validate, services in triage.py,
containment.py and the detection core act, queue.py reads. A refused action
re-renders the page with the alert as it is now and a 4xx status."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.audit.selectors import audit_events_by_ids, event_rows, user_display_names
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical.review_names import queue_patient_names
from safeward.clinical.types import SessionContext
from safeward.detection import containment, queue, scope, triage
from safeward.detection import services as core
from safeward.detection.forms import (
    AssignForm,
    ContainForm,
    QueueFilterForm,
    ReasonForm,
    ReviewDecisionForm,
    ReviewFilterForm,
    RuleForm,
)
from safeward.detection.models import Alert, DetectionRule
from safeward.detection.panels import alert_panels
from safeward.detection.rules import rule_spec
from safeward.identity.decorators import requires, step_up_required
from safeward.identity.models import User
from safeward.identity.permissions import Perm

PAGE_SIZE = 50
EVIDENCE_SHOWN = 100


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def alert_or_404(alert_id: int) -> Alert:
    """The alert, or 404 (incidents' actions on the alert page use it too)."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        raise Http404("No such alert.")
    return alert


# --- the queue ---------------------------------------------------------------------


@require_GET
@requires(Perm.DETECTION_ALERT_READ)
def alert_queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET if request.GET else {"status": "open", "sort": "severity"})
    context: dict[str, Any] = {"form": form, "counts": queue.open_alert_counts()}
    if not form.is_valid():
        return render(request, "detection/queue.html", context, status=400)
    alerts, following = queue.alerts_page(
        query=form.alert_filter(me=int(_actor(request).pk)),
        after=form.cleaned_data.get("after"),
        size=PAGE_SIZE,
    )
    names = user_display_names(user_ids=[alert.assignee_id for alert in alerts])
    next_query = request.GET.copy()
    first_query = request.GET.copy()
    first_query.pop("after", None)
    if following is not None:
        next_query["after"] = following.token()
    context.update(
        {
            "rows": [(alert, names.get(alert.assignee_id or 0, "")) for alert in alerts],
            "next_query": next_query.urlencode() if following is not None else "",
            "first_query": first_query.urlencode(),
            "paged": form.cleaned_data.get("after") is not None,
        }
    )
    return render(request, "detection/queue.html", context)


# --- one alert -----------------------------------------------------------------------


def _evidence_link(alert: Alert, event: Any) -> str:
    """The audit report narrowed to this event's actor and day."""
    day = event.occurred_at.date()
    query = {"start": day.isoformat(), "end": day.isoformat(), "sort": "oldest"}
    if event.actor_username:
        query["user"] = event.actor_username
    return reverse("audit:report") + "?" + urlencode(query)


def _detail(
    request: HttpRequest,
    alert: Alert,
    *,
    status: int = 200,
    error: str = "",
    forms: dict[str, Any] | None = None,
) -> HttpResponse:
    actor = _actor(request)
    evidence, evidence_total = queue.alert_evidence(alert=alert, limit=EVIDENCE_SHOWN)
    events = audit_events_by_ids(event_ids=[row.event_id for row in evidence])
    rows = event_rows(events=events)
    for row in rows:
        row["link"] = _evidence_link(alert, row["event"])
    archived = len(evidence) - len(events)
    names = user_display_names(user_ids=[alert.assignee_id, alert.resolved_by_id])
    version = triage.alert_version(alert)
    context = {
        "alert": alert,
        "detail_rows": [
            (
                str(key).replace("_", " ").capitalize(),
                ", ".join(map(str, value)) if isinstance(value, list) else value,
            )
            for key, value in (alert.detail or {}).items()
        ],
        "version": version,
        "error": error,
        "evidence_rows": rows,
        "evidence_total": evidence_total,
        "evidence_archived": archived,
        "patient_total": scope.scope_patient_count(alert_ids=[int(alert.pk)]),
        "assignee": names.get(alert.assignee_id or 0, ""),
        "resolved_by": names.get(alert.resolved_by_id or 0, ""),
        "subject": containment.subject_state(alert=alert),
        "candidates": triage.triage_candidates(),
        "can_contain": actor.has_perm(Perm.DETECTION_ALERT_CONTAIN),
        "can_triage": actor.has_perm(Perm.DETECTION_ALERT_TRIAGE),
        "can_see_patients": actor.has_perm(Perm.DETECTION_ALERT_TRIAGE),
        "action_panels": alert_panels(actor=actor, alert=alert, slot="actions"),
        "footer_panels": alert_panels(actor=actor, alert=alert, slot="footer"),
        "can_view_users": actor.has_perm(Perm.IDENTITY_USER_VIEW),
        "is_open": alert.status in triage.OPEN_STATUSES,
        "dismiss_form": ReasonForm(initial={"version": version}),
        "confirm_form": ReasonForm(initial={"version": version}),
        "min_reason": triage.MIN_REASON_CHARS,
        **(forms or {}),
    }
    return render(request, "detection/alert_detail.html", context, status=status)


@require_GET
@requires(Perm.DETECTION_ALERT_READ)
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_or_404(alert_id)
    with transaction.atomic():
        # Opening an alert reads audit evidence: that use is itself recorded.
        audit_record(
            action=Action.READ,
            actor=_actor(request),
            resource_type="Alert",
            resource_id=alert.pk,
            purpose=PurposeOfUse.SECURITY,
            detail={"rule": alert.rule},
        )
    return _detail(request, alert)


def alert_refused(
    request: HttpRequest, alert_id: int, error: triage.TriageError | PermissionDenied
) -> HttpResponse:
    """The alert page again, saying why the action was refused (incidents'
    actions on the alert page answer the same way)."""
    alert = alert_or_404(alert_id)
    status = error.status if isinstance(error, triage.TriageError) else 403
    return _detail(request, alert, status=status, error=str(error) or "Not permitted.")


@require_POST
@requires(Perm.DETECTION_ALERT_TRIAGE)
def alert_assign(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert_or_404(alert_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return alert_refused(request, alert_id, triage.TriageError("Choose a person to assign the alert to."))
    assignee = form.cleaned_data["assignee"]
    assignee_id = int(_actor(request).pk) if assignee == "me" else int(assignee)
    try:
        alert = triage.alert_assign(
            actor=_actor(request),
            alert_id=alert_id,
            assignee_id=assignee_id,
            version=form.cleaned_data["version"],
        )
    except (triage.TriageError, PermissionDenied) as error:
        return alert_refused(request, alert_id, error)
    messages.success(request, f"Alert {alert.pk} assigned.")
    return redirect("detection:alert_detail", alert_id=alert.pk)


@require_POST
@requires(Perm.DETECTION_ALERT_TRIAGE)
def alert_triage_start(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert_or_404(alert_id)
    version = request.POST.get("version", "")[:64]
    try:
        alert = triage.alert_triage_start(actor=_actor(request), alert_id=alert_id, version=version)
    except (triage.TriageError, PermissionDenied) as error:
        return alert_refused(request, alert_id, error)
    messages.success(request, f"Alert {alert.pk} is in triage.")
    return redirect("detection:alert_detail", alert_id=alert.pk)


@require_POST
@requires(Perm.DETECTION_ALERT_TRIAGE)
def alert_resolve(request: HttpRequest, alert_id: int, outcome: str) -> HttpResponse:
    alert_or_404(alert_id)
    if outcome not in ("dismiss", "confirm"):
        raise Http404
    form = ReasonForm(request.POST)
    if not form.is_valid():
        alert = alert_or_404(alert_id)
        return _detail(
            request,
            alert,
            status=400,
            error="Check the form below.",
            forms={f"{outcome}_form": form},
        )
    service = triage.alert_dismiss if outcome == "dismiss" else triage.alert_confirm
    try:
        alert = service(
            actor=_actor(request),
            alert_id=alert_id,
            version=form.cleaned_data["version"],
            reason=form.cleaned_data["reason"],
        )
    except (triage.TriageError, PermissionDenied) as error:
        current = alert_or_404(alert_id)
        # Keep what the person typed, against the alert as it is now.
        kept = ReasonForm(
            initial={"version": triage.alert_version(current), "reason": form.cleaned_data["reason"]}
        )
        status = error.status if isinstance(error, triage.TriageError) else 403
        return _detail(request, current, status=status, error=str(error), forms={f"{outcome}_form": kept})
    messages.success(request, f"Alert {alert.pk} {alert.get_status_display().lower()}.")
    return redirect("detection:alert_detail", alert_id=alert.pk)


@require_http_methods(["GET", "POST"])
@requires(Perm.DETECTION_ALERT_CONTAIN)
@step_up_required
def alert_contain(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_or_404(alert_id)
    subject = containment.subject_state(alert=alert)
    form = ContainForm(request.POST if request.method == "POST" else None)
    status = 200
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                result = containment.alert_contain(
                    actor=_actor(request), alert_id=alert_id, **form.cleaned_data
                )
            except (triage.TriageError, PermissionDenied) as refusal:
                status = refusal.status if isinstance(refusal, triage.TriageError) else 403
                error = str(refusal)
            else:
                messages.success(
                    request,
                    f"{result.username} contained: "
                    f"{'locked, ' if result.locked else ''}{result.sessions_ended} session(s) ended, "
                    f"{result.tokens_revoked} token(s) revoked.",
                )
                return redirect("detection:alert_detail", alert_id=alert.pk)
        else:
            status = 400
    return render(
        request,
        "detection/contain.html",
        {"alert": alert, "subject": subject, "form": form, "error": error},
        status=status,
    )


# --- the access-review queue ---------------------------------------------------------


@require_GET
@requires(Perm.AUDIT_REVIEW_READ)
def review_queue(request: HttpRequest) -> HttpResponse:
    form = ReviewFilterForm(request.GET if request.GET else {"status": "open"})
    if not form.is_valid():
        return render(request, "detection/reviews.html", {"form": form, "rows": []}, status=400)
    status = form.cleaned_data.get("status") or "open"
    reviews, following = queue.access_reviews_page(
        status=status,
        drills=bool(form.cleaned_data.get("drills")),
        after=form.cleaned_data.get("after"),
        size=PAGE_SIZE,
    )
    names = user_display_names(user_ids=[review.reviewed_by_id for review in reviews])
    patients = queue_patient_names(request, [review.patient_id for review in reviews])
    next_query = request.GET.copy()
    if following is not None:
        next_query["after"] = following.token()
    return render(
        request,
        "detection/reviews.html",
        {
            "form": form,
            "status": status,
            "rows": [
                (review, names.get(review.reviewed_by_id or 0, ""), patients.get(review.patient_id, ""))
                for review in reviews
            ],
            "decision_form": ReviewDecisionForm(),
            "next_query": next_query.urlencode() if following is not None else "",
            "me": _actor(request).pk,
            "can_decide": _actor(request).has_perm(Perm.DETECTION_ACCESS_REVIEW),
        },
    )


@require_POST
@requires(Perm.DETECTION_ACCESS_REVIEW)
def review_decide(request: HttpRequest, review_id: int) -> HttpResponse:
    if not queue.access_review_exists(review_id=review_id):
        raise Http404("No such access review.")
    form = ReviewDecisionForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return _review_refused(request, 400, f"Not recorded: {errors}")
    try:
        review = triage.access_review_decide(
            actor=_actor(request),
            review_id=review_id,
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )
    except triage.UnknownObject as error:
        raise Http404(str(error)) from None
    except triage.TriageError as error:
        return _review_refused(request, error.status, str(error))
    except PermissionDenied as error:
        return _review_refused(request, 403, str(error))
    messages.success(request, f"Access by {review.username} marked {review.get_status_display().lower()}.")
    return redirect("detection:reviews")


def _review_refused(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(
        request, "detection/refused.html", {"message": message, "back": "detection:reviews"}, status=status
    )


# --- rule configuration --------------------------------------------------------------


def _rule_version(rule: DetectionRule) -> str:
    return f"{rule.updated_at.timestamp():.6f}" if rule.updated_at else "-"


@require_GET
@requires(Perm.SECURITY_CONFIG_MANAGE)
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = list(DetectionRule.objects.order_by("code"))
    names = user_display_names(user_ids=[rule.updated_by_id for rule in rules])
    return render(
        request,
        "detection/rules.html",
        {
            "rows": [
                (
                    rule,
                    names.get(rule.updated_by_id or 0, ""),
                    [(key, json.dumps(value)) for key, value in rule.params.items()],
                )
                for rule in rules
            ]
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.SECURITY_CONFIG_MANAGE)
@step_up_required
def rule_edit(request: HttpRequest, code: str) -> HttpResponse:
    rule = DetectionRule.objects.filter(code=code).first()
    if rule is None:
        raise Http404("No such rule.")
    if request.method == "GET":
        form = RuleForm(
            initial={
                "enabled": rule.enabled,
                "severity": rule.severity,
                "params": json.dumps(rule.params, indent=2, sort_keys=True),
                "version": _rule_version(rule),
            }
        )
        return render(
            request, "detection/rule_edit.html", {"rule": rule, "form": form, "spec": _spec(rule.code)}
        )
    form = RuleForm(request.POST)
    status = 400
    if form.is_valid():
        if form.cleaned_data["version"] != _rule_version(rule):
            form.add_error(
                None, "Someone changed this rule after you opened it; nothing was saved. Reload it."
            )
            status = 409
        else:
            try:
                _rule_save(
                    actor=_actor(request),
                    code=rule.code,
                    **{k: form.cleaned_data[k] for k in ("enabled", "severity", "params")},
                )
            except ValidationError as error:
                form.add_error("params", error.messages)
            else:
                messages.success(request, f"Rule {rule.code} saved.")
                return redirect("detection:rules")
    return render(
        request,
        "detection/rule_edit.html",
        {"rule": rule, "form": form, "spec": _spec(rule.code)},
        status=status,
    )


def _spec(code: str) -> dict[str, Any] | None:
    try:
        spec = rule_spec(code)
    except ValidationError:
        return None
    return {
        "title": spec.title,
        "description": spec.description,
        "params": [(name, json.dumps(param.default), param.help) for name, param in spec.params.items()],
    }


def _rule_save(*, actor: User, code: str, enabled: bool, severity: str, params: dict[str, Any]) -> None:
    """Validate with the rule's own schema and save through the detection
    core (which records the CONFIG_CHANGE audit event)."""
    clean = core.rule_params_validate(code, params)
    core.rule_config_save(actor=actor, code=code, enabled=enabled, severity=severity, params=clean)


# --- the alert's patients (ADR 0729) -------------------------------------------------


@require_GET
@requires(Perm.DETECTION_ALERT_TRIAGE)
def alert_patients(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_or_404(alert_id)
    can_export = _actor(request).has_perm(Perm.AUDIT_REPORT_EXPORT)
    return scope.scope_render(
        request,
        actor=_actor(request),
        scope="alert",
        scope_id=int(alert.pk),
        heading=f"Alert #{alert.pk}",
        back_url=reverse("detection:alert_detail", args=[alert.pk]),
        csv_url=reverse("detection:alert_patients_csv", args=[alert.pk]) if can_export else "",
    )


@require_GET
@requires(Perm.AUDIT_REPORT_EXPORT)
@requires(Perm.DETECTION_ALERT_TRIAGE)
def alert_patients_csv(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_or_404(alert_id)
    return scope.scope_csv(
        actor=_actor(request),
        session=SessionContext.from_request(request),
        scope="alert",
        scope_id=int(alert.pk),
    )
