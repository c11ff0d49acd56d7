"""The clinician web UI. Thin: forms validate, the gateway decides, decrypts,
audits and writes; these views never touch a PHI model. URLs carry opaque
ids only; queries (search criteria) travel in GET parameters of the search
form, never in a path."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.audit.manifests import ManifestDraft, manifest_response
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway, lab_catalog, policy, uploads
from safeward.clinical.forms import (
    REASON_KINDS,
    AllergyForm,
    AllergyStatusForm,
    AmendmentDenyForm,
    AmendmentRequestForm,
    BookForm,
    BreakGlassForm,
    DemographicsForm,
    DisagreementForm,
    DisclosureLookupForm,
    DiscontinueForm,
    DocumentForm,
    EncounterForm,
    MedicationForm,
    NoteAmendForm,
    NoteForm,
    OrderForm,
    ProblemForm,
    ProblemStatusForm,
    RegistrationForm,
    RestrictionForm,
    ResultCorrectionForm,
    ResultForm,
    ReviewForm,
    ScheduleForm,
    SearchForm,
    VerifyForm,
    VitalsForm,
    show_field,
    typed_address,
)
from safeward.clinical.policy import Section
from safeward.clinical.review_names import queue_patient_names
from safeward.clinical.trends import lab_results, trends
from safeward.clinical.types import (
    AllergyWarning,
    Conflict,
    Forbidden,
    InvalidInput,
    NeedsConfirmation,
    NotFound,
    PossibleDuplicates,
    SessionContext,
    new_submission_token,
)
from safeward.identity.decorators import requires, step_up_required
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_department_id

ACTIVE_ENCOUNTER_STATUSES = ("arrived", "in_progress")
MAX_LOOKUP_MATCHES = 20  # an accounting lookup that matches more is to be narrowed


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def purpose_for(user: User) -> PurposeOfUse:
    """The purpose of use a person's work implies (recorded in every audit event)."""
    if user.has_perm(Perm.CLINICAL_CHART_READ):
        return PurposeOfUse.TREATMENT
    if user.has_perm(Perm.CLINICAL_INSURANCE_READ):
        return PurposeOfUse.PAYMENT
    return PurposeOfUse.OPERATIONS


def _ctx(request: HttpRequest) -> dict[str, Any]:
    user = _actor(request)
    return {
        "session": SessionContext.from_request(request),
        "actor": user,
        "purpose": purpose_for(user),
    }


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    user = _actor(request)
    if user.has_perm(Perm.CLINICAL_BREAKGLASS_USE):
        context["can_break_glass"] = True
    context["now"] = clock.now()
    return render(request, template, context, status=status)


def _not_found(request: HttpRequest, patient_id: uuid.UUID | None = None) -> HttpResponse:
    """The same page for "no such record" and "not yours"; a person who may
    break the glass is offered it for any id (so the offer reveals nothing)."""
    return _page(request, "clinical/not_found.html", {"patient_id": patient_id}, status=404)


# Why the device a session comes from refuses an action (policy.device_refusal), in words.
DEVICE_REFUSALS: dict[str, tuple[str, str]] = {
    "device_unmanaged": (
        "Not allowed from this device",
        "This device is not managed by the hospital, so documents cannot be downloaded, printed or "
        "exported from it. You can still read the chart.",
    ),
    "device_non_compliant": (
        "Not allowed from this device",
        "This device does not meet the hospital's security requirements, so documents cannot be "
        "downloaded, printed or exported from it. You can still read the chart.",
    ),
    "device_non_compliant_remote": (
        "Patient data is not available on this device here",
        "This device does not meet the hospital's security requirements, and outside the hospital's "
        "clinical network no patient data can be opened from it.",
    ),
    "device_unidentified": (
        "Not allowed from this device",
        "The hospital cannot identify this device (it presented no device certificate), so "
        "documents cannot be downloaded, printed or exported from it. You can still read the chart.",
    ),
    "device_lost": (
        "This device was reported lost or stolen",
        "No patient data can be opened from a device reported lost or stolen.",
    ),
}


def _device_context(session: SessionContext) -> policy.AccessContext:
    return policy.AccessContext(
        device=policy.DevicePosture(session.device_posture),
        zone_clinical=session.zone_clinical,
        device_strict=settings.SAFEWARD_DEVICE_STRICT,
    )


def _device_refused(
    request: HttpRequest, session: SessionContext, action: policy.Action
) -> HttpResponse | None:
    """A refusal page when the session's device refuses `action` whatever the patient
    (so the page reveals nothing about the patient); None when the device is not why."""
    reason = policy.device_refusal(
        action,
        _device_context(session),
    )
    if reason is None:
        return None
    heading, message = DEVICE_REFUSALS[reason]
    context = {"reason": reason, "heading": heading, "message": message}
    return _page(request, "clinical/device_refused.html", context, status=403)


def _download_refusal(session: SessionContext) -> tuple[str, str] | None:
    """(reason, message) when this session's device may not download documents."""
    reason = policy.device_refusal(
        policy.Action.DOWNLOAD,
        _device_context(session),
    )
    return (reason, DEVICE_REFUSALS[reason][1]) if reason else None


def _form_errors(form: Any, error: InvalidInput) -> None:
    for name, message in error.errors.items():
        form.add_error(name if name in form.fields else None, message)


def _confirm_page(
    request: HttpRequest, form: Any, *, title: str, intro: str, action: str, back: str, **extra: Any
) -> HttpResponse:
    """The form again, as typed, with what a safety check found: the person
    confirms, overrides with a reason, or changes the entry (409: nothing saved)."""
    context = {"form": form, "title": title, "intro": intro, "action": action, "back": back, **extra}
    context.setdefault("submit", "Save")
    return _page(request, "clinical/confirm_form.html", context, status=409)


def _needs_confirmation(request: HttpRequest, form: Any, error: NeedsConfirmation, back: str) -> HttpResponse:
    _form_errors(form, error)
    show_field(form, "confirmed", forms.CheckboxInput())
    return _confirm_page(
        request,
        form,
        title="Check the value",
        intro="The value is outside the usual range. Correct it, or confirm that it is right.",
        action=request.path,
        back=back,
    )


def _conflict(request: HttpRequest, error: Conflict) -> HttpResponse:
    return _page(request, "clinical/conflict.html", {"message": str(error)}, status=409)


# --- search and registration --------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@requires(Perm.CLINICAL_PATIENT_READ)
def search(request: HttpRequest) -> HttpResponse:
    """Search criteria are names, birth dates and identifiers, so they travel in
    the POST body, never in the URL (browser history, proxy and server logs)."""
    form = SearchForm(request.POST or None)
    results = None
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            results = gateway.patient_search(
                **_ctx(request),
                mrn=d["mrn"] or None,
                name=d["name"] or None,
                birth_date=d["birth_date"],
                national_id=d["national_id"] or None,
                page=d["page"] or 1,
            )
        except InvalidInput as error:
            _form_errors(form, error)
            status = 400
        except Forbidden:
            return _page(request, "clinical/unreachable.html", {}, status=403)
    elif request.method == "POST":
        status = 400
    return _page(
        request,
        "clinical/search.html",
        {
            "form": form,
            "results": results,
            "next_page": results.page + 1 if results is not None and results.has_next else None,
            "can_register": request.user.has_perm(Perm.CLINICAL_PATIENT_REGISTER),
        },
        status,
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.AUDIT_DISCLOSURE_READ)
def disclosure_lookup(request: HttpRequest) -> HttpResponse:
    """The patient whose accounting of disclosures is asked for, by MRN or by
    name and date of birth: the gateway's patient search with the accounting
    purpose (demographics only, audited, ADR 0581), criteria in the POST body
    (ADR 0540). One match opens the accounting (its URL carries the opaque
    patient id, as the id form does); several are listed to choose from."""
    form = DisclosureLookupForm(request.POST if request.method == "POST" else None)
    results = None
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            found = gateway.patient_search(
                actor=_actor(request),
                session=SessionContext.from_request(request),
                purpose=PurposeOfUse.PATIENT_REQUEST,
                mrn=d["mrn"] or None,
                name=d["name"] or None,
                birth_date=d["birth_date"],
                page_size=MAX_LOOKUP_MATCHES,
            )
        except InvalidInput as error:
            _form_errors(form, error)
            status = 400
        except Forbidden:
            return _page(request, "clinical/unreachable.html", {}, status=403)
        else:
            results = found.results
            if len(results) == 1 and not found.has_next:
                return redirect(f"{reverse('audit:disclosures')}?{urlencode({'patient': results[0].id})}")
    elif request.method == "POST":
        status = 400
    return _page(request, "clinical/disclosure_lookup.html", {"form": form, "results": results}, status)


@require_http_methods(["GET", "POST"])
@requires(Perm.CLINICAL_PATIENT_REGISTER)
def register(request: HttpRequest) -> HttpResponse:
    form = RegistrationForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                patient = gateway.patient_register(
                    **_ctx(request),
                    data=form.patient_input(),
                    confirm_not_duplicate=form.cleaned_data["confirm_not_duplicate"],
                    submission=form.cleaned_data["submission"],
                )
            except PossibleDuplicates as found:
                show_field(form, "confirm_not_duplicate", forms.CheckboxInput())
                return _page(
                    request,
                    "clinical/register.html",
                    {"form": form, "candidates": found.candidates},
                    status=409,
                )
            except InvalidInput as error:
                _form_errors(form, error)
            except Conflict as error:
                return _conflict(request, error)
            except Forbidden:
                return _page(request, "clinical/unreachable.html", {}, status=403)
            else:
                # No PHI in flash messages: the chart shows the new MRN (issue 11 item 6).
                messages.success(request, "Patient registered.")
                return redirect("clinical:chart", patient_id=patient.id)
        return _page(request, "clinical/register.html", {"form": form}, status=400)
    return _page(request, "clinical/register.html", {"form": form})


# --- the chart -------------------------------------------------------------------------------------
def _chart_context(chart: Any) -> dict[str, Any]:
    active_problems = [p for p in (chart.problems or []) if p.clinical_status == "active"]
    active_allergies = [a for a in (chart.allergies or []) if a.clinical_status == "active"]
    return {
        "chart": chart,
        "p": chart.patient,
        "active_problems": active_problems,
        "active_allergies": active_allergies,
        "trends": trends(chart.results or []),
        "lab_results": lab_results(chart.results or []),
        "active_encounters": [e for e in (chart.encounters or []) if e.status in ACTIVE_ENCOUNTER_STATUSES],
        "reports": _reports_with_results(chart),
        "S": {s.name: s for s in Section},
        # Each row's action forms get their own one-time token.
        "medication_rows": [(m, new_submission_token()) for m in chart.medications or []],
        "problem_rows": [(c, new_submission_token()) for c in chart.problems or []],
        "allergy_rows": [(a, new_submission_token()) for a in chart.allergies or []],
        "amendment_rows": [(a, new_submission_token()) for a in chart.amendment_requests or []],
    }


def _reports_with_results(chart: Any) -> list[tuple[Any, list[Any]]]:
    """Each report with those of its results the chart shows (the results
    section's newest 500, as far as the reader may see results)."""
    shown = {r.id: r for r in chart.results or []}
    return [(report, [shown[i] for i in report.result_ids if i in shown]) for report in chart.reports or []]


def _encounter_form(data: Any = None) -> EncounterForm:
    return EncounterForm(
        data, departments=gateway.departments_list(clinical_only=True), clinicians=gateway.clinicians_list()
    )


def _restriction_form(data: Any = None) -> RestrictionForm:
    return RestrictionForm(data, staff=gateway.staff_choices(), departments=gateway.departments_list())


@require_GET
@requires(Perm.CLINICAL_PATIENT_READ)
def chart(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    asking = _ctx(request)
    try:
        record = gateway.chart_read(**asking, patient_id=patient_id)
    except NotFound:
        return _device_refused(request, asking["session"], policy.Action.READ) or _not_found(
            request, patient_id
        )
    user = _actor(request)
    context = _chart_context(record)
    context.update(
        note_form=NoteForm() if user.has_perm(Perm.CLINICAL_NOTE_WRITE) else None,
        problem_form=ProblemForm() if user.has_perm(Perm.CLINICAL_CHART_WRITE) else None,
        allergy_form=AllergyForm() if user.has_perm(Perm.CLINICAL_CHART_WRITE) else None,
        vitals_form=VitalsForm() if user.has_perm(Perm.CLINICAL_CHART_WRITE) else None,
        medication_form=MedicationForm() if user.has_perm(Perm.CLINICAL_MEDICATION_PRESCRIBE) else None,
        document_form=DocumentForm() if user.has_perm(Perm.CLINICAL_CHART_WRITE) else None,
        order_form=OrderForm() if user.has_perm(Perm.CLINICAL_ORDER_WRITE) else None,
        can_prescribe=user.has_perm(Perm.CLINICAL_MEDICATION_PRESCRIBE),
        can_chart_write=user.has_perm(Perm.CLINICAL_CHART_WRITE),
        can_correct_results=user.has_perm(Perm.CLINICAL_RESULT_WRITE),
        can_register=user.has_perm(Perm.CLINICAL_PATIENT_REGISTER),
        can_decide_amendments=user.has_perm(Perm.CLINICAL_AMENDMENT_DECIDE),
        amendment_form=AmendmentRequestForm() if user.has_perm(Perm.CLINICAL_PATIENT_REGISTER) else None,
        can_book=user.has_perm(Perm.CLINICAL_APPOINTMENT_MANAGE),
        can_manage_encounters=user.has_perm(Perm.CLINICAL_APPOINTMENT_MANAGE),
        can_discharge=user.has_perm(Perm.CLINICAL_ENCOUNTER_DISCHARGE),
        document_limit_mib=uploads.MAX_MEGABYTES,
        download_refusal=_download_refusal(asking["session"]),
    )
    if context["can_manage_encounters"]:
        department = user_department_id(user=user)
        context["encounter_form"] = _encounter_form()
        if department is not None:
            context["encounter_form"].initial["department"] = department
    if user.has_perm(Perm.CLINICAL_PATIENT_REGISTER):
        try:
            context["restrictions"] = gateway.restriction_list(**_ctx(request), patient_id=patient_id)
        except NotFound:
            context["restrictions"] = None
        else:
            context["restriction_form"] = _restriction_form()
    return _page(request, "clinical/chart.html", context)


@require_GET
@requires(Perm.CLINICAL_PATIENT_READ)
def chart_print(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    try:
        context = _ctx(request)
        record = gateway.chart_print(**context, patient_id=patient_id)
    except NotFound:
        return _device_refused(request, context["session"], policy.Action.PRINT) or _not_found(
            request, patient_id
        )
    return manifest_response(
        _page(request, "clinical/print.html", _chart_context(record)),
        actor=context["actor"],
        draft=ManifestDraft(
            kind="print",
            route="clinical:chart_print",
            purpose=str(context["purpose"]),
            patient_ids=(str(patient_id),),
            sections=tuple(str(section) for section in record.sections),
        ),
    )


def _chart_write(
    request: HttpRequest, patient_id: uuid.UUID, form_class: type[Any], write: Any, done: str
) -> HttpResponse:
    """POST a chart form: 400 with the form on bad input, 409 on a double post
    or a safety check to answer, 404 for a patient one may not write to; back
    to the chart on success."""
    form = form_class(request.POST)
    if form.is_valid():
        try:
            write(form.cleaned_data)
        except NotFound:
            return _not_found(request, patient_id)
        except NeedsConfirmation as error:
            return _needs_confirmation(request, form, error, reverse("clinical:chart", args=[patient_id]))
        except AllergyWarning as warning:
            show_field(form, "override_reason", forms.Textarea(attrs={"rows": 3}))
            return _confirm_page(
                request,
                form,
                title="Allergy warning",
                intro="Choose another drug, or give the reason to order this one anyway (it is recorded).",
                action=request.path,
                back=reverse("clinical:chart", args=[patient_id]) + "#medications",
                matches=warning.matches,
                patient=warning.patient,
                submit="Order",
            )
        except Conflict as error:
            return _conflict(request, error)
        except Forbidden:
            return _refused(request, "You may not make this change.")
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(request, done)
            return redirect("clinical:chart", patient_id=patient_id)
    return _page(request, "clinical/chart_form.html", {"form": form, "patient_id": patient_id}, status=400)


@require_POST
@requires(Perm.CLINICAL_NOTE_WRITE)
def note_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.note_create(
            **_ctx(request),
            patient_id=patient_id,
            title=d["title"],
            text=d["text"],
            kind=d["kind"],
            sensitivity=d["sensitivity"] or "",
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, NoteForm, write, "Note added.")


@require_POST
@requires(Perm.CLINICAL_CHART_WRITE)
def problem_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.condition_create(
            **_ctx(request),
            patient_id=patient_id,
            code=d["code"],
            display=d["display"],
            onset=d["onset"],
            sensitivity=d["sensitivity"] or "",
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, ProblemForm, write, "Problem added.")


@require_POST
@requires(Perm.CLINICAL_CHART_WRITE)
def allergy_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.allergy_create(
            **_ctx(request),
            patient_id=patient_id,
            substance=d["substance"],
            reaction=d["reaction"] or None,
            criticality=d["criticality"],
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, AllergyForm, write, "Allergy recorded.")


@require_POST
@requires(Perm.CLINICAL_CHART_WRITE)
def vitals_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        code, display, unit = d["vital"].split("|")
        gateway.observation_record(
            **_ctx(request),
            patient_id=patient_id,
            category="vital-signs",
            code=code,
            display=display,
            value=format(d["value"].normalize(), "f"),
            unit=unit,
            confirmed=d["confirmed"],
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, VitalsForm, write, "Measurement recorded.")


@require_POST
@requires(Perm.CLINICAL_MEDICATION_PRESCRIBE)
def medication_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.medication_request_create(
            **_ctx(request),
            patient_id=patient_id,
            medication=d["medication"],
            dosage=d["dosage"] or None,
            sensitivity=d["sensitivity"] or "",
            override_reason=d["override_reason"] or None,
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, MedicationForm, write, "Medication ordered.")


@require_GET
@requires(Perm.CLINICAL_CHART_READ)
def document_download(request: HttpRequest, patient_id: uuid.UUID, document_id: uuid.UUID) -> HttpResponse:
    try:
        context = _ctx(request)
        document, chunks = gateway.document_open(
            **context, patient_id=patient_id, document_id=str(document_id)
        )
    except NotFound:
        return _device_refused(request, context["session"], policy.Action.DOWNLOAD) or _not_found(
            request, patient_id
        )
    content_type = document.content_type
    if content_type == "text/plain":
        content_type = "text/plain; charset=utf-8"
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = uploads.attachment_header(document.title, document.content_type)
    response["Content-Length"] = str(document.size)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    manifest_response(
        response,
        actor=context["actor"],
        draft=ManifestDraft(
            kind="document",
            route="clinical:document",
            purpose=str(context["purpose"]),
            patient_ids=(str(patient_id),),
            sections=("documents",),
        ),
    )
    # A streaming response is not an HttpResponse subclass; the guards only pass it through.
    return response  # type: ignore[return-value]


# --- break-the-glass ---------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@requires(Perm.CLINICAL_BREAKGLASS_USE)
@step_up_required
def break_glass(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant = gateway.break_glass_start(
                actor=_actor(request),
                session=SessionContext.from_request(request),
                patient_id=patient_id,
                reason_kind=form.cleaned_data["reason_kind"],
                justification=form.cleaned_data["justification"],
            )
        except NotFound:
            return _not_found(request, patient_id)
        except InvalidInput as error:
            _form_errors(form, error)
        except Forbidden:
            return _page(request, "clinical/unreachable.html", {}, status=403)
        else:
            messages.warning(
                request,
                f"Emergency access granted until {grant.expires_at:%H:%M}. "
                "Every access is recorded and reviewed.",
            )
            return redirect("clinical:chart", patient_id=patient_id)
    status = 400 if request.method == "POST" else 200
    return _page(request, "clinical/break_glass.html", {"form": form, "patient_id": patient_id}, status)


@require_POST
@requires(Perm.CLINICAL_BREAKGLASS_USE)
def break_glass_end(request: HttpRequest, grant_id: uuid.UUID) -> HttpResponse:
    try:
        gateway.break_glass_end(actor=_actor(request), grant_id=str(grant_id))
    except NotFound:
        return _not_found(request)
    messages.success(request, "Emergency access ended.")
    return redirect("clinical:search")


@require_GET
@requires(Perm.AUDIT_REVIEW_READ)
def review_queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "pending")
    if status not in ("pending", "justified", "unjustified"):
        status = "pending"
    grants = gateway.break_glass_review_queue(
        actor=_actor(request), session=SessionContext.from_request(request), status=status
    )
    labels = dict(REASON_KINDS)
    names = queue_patient_names(request, [grant.patient_id for grant in grants])
    rows = [
        (grant, labels.get(grant.reason_kind, grant.reason_kind), names.get(grant.patient_id, ""))
        for grant in grants
    ]
    can_decide = _actor(request).has_perm(Perm.CLINICAL_BREAKGLASS_REVIEW)
    return _page(
        request, "clinical/review_queue.html", {"rows": rows, "status": status, "can_decide": can_decide}
    )


@require_POST
@requires(Perm.CLINICAL_BREAKGLASS_REVIEW)
def review_decide(request: HttpRequest, grant_id: uuid.UUID) -> HttpResponse:
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            gateway.break_glass_review(
                actor=_actor(request),
                session=SessionContext.from_request(request),
                grant_id=str(grant_id),
                justified=form.cleaned_data["decision"] == "justified",
                note=form.cleaned_data["note"],
            )
        except NotFound:
            return _not_found(request)
        except InvalidInput as error:
            messages.error(request, "Not saved: " + "; ".join(error.errors.values()))
            return redirect("clinical:review_queue")
        messages.success(request, "Review recorded.")
        return redirect("clinical:review_queue")
    messages.error(request, "Not saved: choose a decision.")
    return redirect("clinical:review_queue")


# --- scheduling ---------------------------------------------------------------------------------------
@require_GET
@requires(Perm.CLINICAL_APPOINTMENT_READ)
def schedule(request: HttpRequest) -> HttpResponse:
    departments = gateway.departments_list(clinical_only=True)
    data = request.GET.copy()
    data.setdefault("day", timezone.localdate(clock.now()).isoformat())  # the hospital's day
    if departments:
        own = user_department_id(user=_actor(request))
        default = own if own in {pk for pk, _ in departments} else departments[0][0]
        data.setdefault("department", str(default))
    form = ScheduleForm(data, departments=departments)
    slots = None
    status = 200
    if form.is_valid():
        try:
            slots = gateway.schedule_day(
                **_ctx(request), department_id=form.cleaned_data["department"], day=form.cleaned_data["day"]
            )
        except Forbidden:
            return _page(request, "clinical/unreachable.html", {}, status=403)
        except InvalidInput as error:
            _form_errors(form, error)
            status = 400
    else:
        status = 400
    booking_for = None
    raw_patient = request.GET.get("patient", "")
    if raw_patient and _actor(request).has_perm(Perm.CLINICAL_APPOINTMENT_MANAGE):
        try:
            booking_for = str(uuid.UUID(raw_patient))
        except ValueError:
            status = 400
    return _page(
        request,
        "clinical/schedule.html",
        {
            "form": form,
            "slots": slots,
            "booking_for": booking_for,
            "book_form": BookForm(),
            "can_manage": _actor(request).has_perm(Perm.CLINICAL_APPOINTMENT_MANAGE),
            "today": timezone.localdate(clock.now()),
        },
        status,
    )


def _back_to_schedule(
    request: HttpRequest, when: dt.datetime | None, department_id: int | None
) -> HttpResponse:
    target = reverse("clinical:schedule")
    if when is not None and department_id is not None:
        target += f"?department={department_id}&day={when.date().isoformat()}"
    return redirect(target)


@require_POST
@requires(Perm.CLINICAL_APPOINTMENT_MANAGE)
def book(request: HttpRequest) -> HttpResponse:
    form = BookForm(request.POST)
    if not form.is_valid():
        return _page(request, "clinical/conflict.html", {"message": "The booking form was incomplete."}, 400)
    try:
        appointment = gateway.appointment_book(
            **_ctx(request),
            patient_id=form.cleaned_data["patient"],
            slot_id=str(form.cleaned_data["slot"]),
            reason=form.cleaned_data["reason"],
            submission=form.cleaned_data["submission"],
        )
    except NotFound:
        return _not_found(request)
    except Conflict as error:
        return _conflict(request, error)
    except InvalidInput as error:
        return _page(request, "clinical/conflict.html", {"message": "; ".join(error.errors.values())}, 400)
    messages.success(request, "Appointment booked.")
    return _back_to_schedule(request, appointment.starts_at, appointment.department_id)


def _appointment_action(request: HttpRequest, appointment_id: uuid.UUID, *, check_in: bool) -> HttpResponse:
    change = gateway.appointment_check_in if check_in else gateway.appointment_cancel
    try:
        appointment = change(**_ctx(request), appointment_id=str(appointment_id))
    except NotFound:
        return _not_found(request)
    except Conflict as error:
        return _conflict(request, error)
    messages.success(request, "Checked in." if check_in else "Appointment cancelled.")
    if request.POST.get("from") == "arrivals":  # the clerk's worklist: back to it, not to the schedule
        return redirect(reverse("web:dashboard") + "#worklist-arrivals")
    return _back_to_schedule(request, appointment.starts_at, appointment.department_id)


@require_POST
@requires(Perm.CLINICAL_APPOINTMENT_MANAGE)
def appointment_cancel(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    return _appointment_action(request, appointment_id, check_in=False)


@require_POST
@requires(Perm.CLINICAL_APPOINTMENT_MANAGE)
def appointment_check_in(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    return _appointment_action(request, appointment_id, check_in=True)


# --- documents ---------------------------------------------------------------------------------------
def _too_large(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    return _page(
        request,
        "clinical/chart_form.html",
        {
            "form": None,
            "patient_id": patient_id,
            "message": f"The file is larger than {uploads.MAX_MEGABYTES} MiB. Nothing was saved.",
        },
        status=413,
    )


@require_POST
@requires(Perm.CLINICAL_CHART_WRITE)
@csrf_exempt  # CSRF is checked by csrf_protect below, after the size guard is in place
def document_upload(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """The size cap must be in place before anything reads the body (the CSRF
    check reads the form), so this view installs it and then checks CSRF."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > uploads.MAX_REQUEST_BYTES:
        return _too_large(request, patient_id)
    limiter = uploads.SizeLimitHandler(request, limit=uploads.MAX_DOCUMENT_BYTES)
    request.upload_handlers.insert(0, limiter)
    return _document_upload(request, patient_id, limiter)


@csrf_protect
def _document_upload(
    request: HttpRequest, patient_id: uuid.UUID, limiter: uploads.SizeLimitHandler
) -> HttpResponse:
    form = DocumentForm(request.POST, request.FILES)
    if limiter.exceeded:
        return _too_large(request, patient_id)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        upload.seek(0)
        try:
            gateway.document_upload(
                **_ctx(request),
                patient_id=patient_id,
                title=form.cleaned_data["title"],
                content_type=form.content_type,
                source=upload,
                size=upload.size,
                sensitivity=form.cleaned_data["sensitivity"] or "",
                submission=form.cleaned_data["submission"],
            )
        except NotFound:
            return _not_found(request, patient_id)
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Document stored (encrypted).")
            return redirect(reverse("clinical:chart", args=[patient_id]) + "#documents")
    return _page(request, "clinical/chart_form.html", {"form": form, "patient_id": patient_id}, status=400)


# --- lab orders and results -------------------------------------------------------------------------
@require_POST
@requires(Perm.CLINICAL_ORDER_WRITE)
def order_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        test = lab_catalog.lab_test(d["test"])
        assert test is not None
        gateway.order_create(
            **_ctx(request),
            patient_id=patient_id,
            code=test.code,
            display=test.display,
            submission=d["submission"],
        )

    return _chart_write(
        request, patient_id, OrderForm, write, "Test ordered: it is on the laboratory's worklist."
    )


@require_GET
@requires(Perm.CLINICAL_RESULT_WRITE)
def lab_worklist(request: HttpRequest) -> HttpResponse:
    try:
        worklist = gateway.lab_worklist(**_ctx(request))
    except Forbidden:
        return _page(request, "clinical/unreachable.html", {}, status=403)
    rows = [
        (
            item,
            lab_catalog.lab_test(item.order.code),
            ResultForm(initial={"submission": new_submission_token()}),
        )
        for item in worklist.items
    ]
    return _page(request, "clinical/lab_worklist.html", {"worklist": worklist, "rows": rows})


@require_POST
@requires(Perm.CLINICAL_RESULT_WRITE)
def order_result(request: HttpRequest, patient_id: uuid.UUID, order_id: uuid.UUID) -> HttpResponse:
    form = ResultForm(request.POST)
    back = reverse("clinical:lab_worklist")
    if form.is_valid():
        d = form.cleaned_data
        try:
            result = gateway.order_result(
                **_ctx(request),
                patient_id=patient_id,
                order_id=order_id,
                value=format(d["value"], "f"),
                unit=d["unit"],
                confirmed=d["confirmed"],
                submission=d["submission"],
            )
        except NotFound:
            return _not_found(request)
        except NeedsConfirmation as error:
            return _needs_confirmation(request, form, error, back)
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            flag = lab_catalog.interpret(result.code, result.unit, result.value)
            note = f" Flag: {flag.label}." if flag is not None and flag.abnormal else ""
            messages.success(
                request, f"Result saved.{note}"
            )  # the value stays on the chart, not in a message
            return redirect(back)
    return _page(request, "clinical/result_form.html", {"form": form}, status=400)


# --- encounters (admission / discharge) ----------------------------------------------------------------
def landing_after_ward_action(request: HttpRequest, ward_id: str | None) -> HttpResponse:
    """The ward's census when the person may read it, else their dashboard:
    never a page they would be refused (a nurse who discharges a patient
    no longer has that patient's chart)."""
    if ward_id is not None and _actor(request).has_perm(Perm.CLINICAL_CENSUS_READ):
        return redirect("clinical:ward_census", ward_id=ward_id)
    return redirect("web:dashboard")


@require_POST
@requires(Perm.CLINICAL_APPOINTMENT_MANAGE)
def encounter_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    form = _encounter_form(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            gateway.encounter_start(
                **_ctx(request),
                patient_id=patient_id,
                kind=d["kind"],
                department_id=d["department"],
                attending_id=d["attending"],
                reason=d["reason"] or None,
                submission=d["submission"],
            )
        except NotFound:
            return _not_found(request, patient_id)
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Encounter started.")
            return redirect(reverse("clinical:chart", args=[patient_id]) + "#encounters")
    return _page(request, "clinical/chart_form.html", {"form": form, "patient_id": patient_id}, status=400)


@require_POST
@requires(Perm.CLINICAL_ENCOUNTER_DISCHARGE)
def encounter_discharge(request: HttpRequest, patient_id: uuid.UUID, encounter_id: uuid.UUID) -> HttpResponse:
    try:
        finished = gateway.encounter_finish(
            **_ctx(request), patient_id=patient_id, encounter_id=str(encounter_id)
        )
    except NotFound:
        return _not_found(request, patient_id)
    except Conflict as error:  # already finished, e.g. a second post
        return _conflict(request, error)
    except InvalidInput:
        return _not_found(request, patient_id)  # no such encounter for this patient
    messages.success(request, "Encounter finished (discharged).")
    # The discharge may end the person's relationship to the patient (the
    # admission's care team leaves): land on the ward or the dashboard, not the chart.
    return landing_after_ward_action(request, finished.ward_id)


# --- patient-requested restrictions ------------------------------------------------------------------
@require_POST
@requires(Perm.CLINICAL_PATIENT_REGISTER)
def restriction_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    form = _restriction_form(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            gateway.restriction_create(
                **_ctx(request),
                patient_id=patient_id,
                kind=d["kind"],
                user_id=d["user"],
                department_id=d["department"],
                note=d["note"] or None,
                submission=d["submission"],
            )
        except NotFound:
            return _not_found(request, patient_id)
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Restriction recorded: it applies from now on.")
            return redirect(reverse("clinical:chart", args=[patient_id]) + "#restrictions")
    return _page(request, "clinical/chart_form.html", {"form": form, "patient_id": patient_id}, status=400)


@require_POST
@requires(Perm.CLINICAL_PATIENT_REGISTER)
def restriction_lift(request: HttpRequest, patient_id: uuid.UUID, restriction_id: uuid.UUID) -> HttpResponse:
    try:
        gateway.restriction_lift(**_ctx(request), patient_id=patient_id, restriction_id=restriction_id)
    except NotFound:
        return _not_found(request, patient_id)
    except Conflict as error:
        return _conflict(request, error)
    messages.success(request, "Restriction lifted.")
    return redirect(reverse("clinical:chart", args=[patient_id]) + "#restrictions")


# --- corrections and amendments (issue 12) --------------------------------------------------------
def _pending_amendments(record: Any) -> list[tuple[str, str]]:
    return [
        (a.id, f"received {a.received_at:%Y-%m-%d}: {a.request[:80]}")
        for a in record.amendment_requests or []
        if a.status == "pending"
    ]


def _edit_page(
    request: HttpRequest, patient_id: uuid.UUID, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context.setdefault("back", reverse("clinical:chart", args=[patient_id]))
    context.setdefault("submit", "Save")
    return _page(request, "clinical/edit_form.html", context, status=status)


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return _page(request, "clinical/conflict.html", {"message": message}, status=403)


def _demographics_initial(p: Any) -> dict[str, Any]:
    address = p.address or {}
    insurance = p.insurance or {}
    return {
        "given_name": p.given_name,
        "family_name": p.family_name,
        "birth_date": p.birth_date,
        "sex": p.sex,
        "phone": p.phone or "",
        "email": p.email or "",
        "national_id": p.national_id or "",
        "address_line": (address.get("line") or [""])[0],
        "city": address.get("city", ""),
        "state": address.get("state", ""),
        "postal_code": address.get("postal_code", ""),
        "insurer": insurance.get("payer", ""),
        "member_id": insurance.get("member_id", ""),
        "is_confidential": "confidential" in p.flags,
        "is_vip": "vip" in p.flags,
        "is_employee": "employee" in p.flags,
    }


def _merged(current: dict[str, Any] | None, typed: dict[str, Any] | None) -> dict[str, Any] | None:
    """The form's keys over the stored ones; a key left empty is removed."""
    merged = {**(current or {}), **(typed or {})}
    kept = {k: v for k, v in merged.items() if v not in ("", [""], [], None)}
    return kept or None


def _corrected_input(form: DemographicsForm, current: Any) -> Any:
    """The form's values over what the form does not show (gender identity,
    date of death, further address and insurance keys), which stay as they were."""
    data = form.patient_input()
    d = form.cleaned_data
    typed_insurance = {"payer": d["insurer"], "member_id": d["member_id"]}
    return dataclasses.replace(
        data,
        gender_identity=current.gender_identity,
        deceased_date=current.deceased_date,
        address=_merged(current.address, typed_address(d)),
        insurance=_merged(current.insurance, typed_insurance),
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.CLINICAL_PATIENT_REGISTER)
def patient_edit(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Correct demographics; the values replaced are kept in the record's history."""
    try:
        record = gateway.chart_read(**_ctx(request), patient_id=patient_id)
    except NotFound:
        return _not_found(request, patient_id)
    pending = _pending_amendments(record)
    context: dict[str, Any] = {"title": "Correct demographics", "intro": "The values replaced are kept."}
    if request.method == "GET":
        form = DemographicsForm(initial=_demographics_initial(record.patient), pending=pending)
        return _edit_page(request, patient_id, {**context, "form": form})
    form = DemographicsForm(request.POST, pending=pending)
    if form.is_valid():
        d = form.cleaned_data
        try:
            gateway.patient_update(
                **_ctx(request),
                patient_id=patient_id,
                data=_corrected_input(form, record.patient),
                reason=d["reason"] or None,
                amendment_request_id=d.get("amendment_request") or None,
                submission=d["submission"],
            )
        except NotFound:
            return _not_found(request, patient_id)
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(
                request, "Demographics corrected. The earlier values are kept in the record's history."
            )
            return redirect(reverse("clinical:chart", args=[patient_id]) + "#corrections")
    return _edit_page(request, patient_id, {**context, "form": form}, status=400)


@require_http_methods(["GET", "POST"])
@requires(Perm.CLINICAL_NOTE_WRITE)
def note_amend(request: HttpRequest, patient_id: uuid.UUID, note_id: uuid.UUID) -> HttpResponse:
    """Amend one's own note: a new version; the earlier one stays and is shown."""
    try:
        record = gateway.chart_read(**_ctx(request), patient_id=patient_id)
    except NotFound:
        return _not_found(request, patient_id)
    # An earlier version is found too: amending it again is refused as a conflict (e.g. the back button).
    versions = [v for n in record.notes or [] for v in (n, *n.previous)]
    note = next((n for n in versions if n.id == str(note_id)), None)
    if note is None:
        return _not_found(request, patient_id)
    pending = _pending_amendments(record)
    context: dict[str, Any] = {
        "title": "Amend a note",
        "intro": "The current version stays in the record, marked as amended, and is shown with the new one.",
        "current_note": note,
        "submit": "Save amendment",
    }
    if request.method == "GET":
        form = NoteAmendForm(initial={"title": note.title, "text": note.text}, pending=pending)
        return _edit_page(request, patient_id, {**context, "form": form})
    form = NoteAmendForm(request.POST, pending=pending)
    if form.is_valid():
        d = form.cleaned_data
        try:
            gateway.note_amend(
                **_ctx(request),
                patient_id=patient_id,
                note_id=note_id,
                title=d["title"],
                text=d["text"],
                reason=d["reason"],
                amendment_request_id=d.get("amendment_request") or None,
                submission=d["submission"],
            )
        except NotFound:
            return _not_found(request, patient_id)
        except Forbidden:
            return _refused(request, "Only the author of a note may amend it.")
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Note amended. The earlier version is kept and shown with it.")
            return redirect(reverse("clinical:chart", args=[patient_id]) + "#notes")
    return _edit_page(request, patient_id, {**context, "form": form}, status=400)


@require_http_methods(["GET", "POST"])
@requires(Perm.CLINICAL_RESULT_WRITE)
def result_correct(request: HttpRequest, patient_id: uuid.UUID, observation_id: uuid.UUID) -> HttpResponse:
    """Correct a lab result: status `corrected`, the earlier value kept and shown."""
    try:
        record = gateway.chart_read(**_ctx(request), patient_id=patient_id)
    except NotFound:
        return _not_found(request, patient_id)
    result = next((r for r in record.results or [] if r.id == str(observation_id)), None)
    if result is None:
        return _not_found(request, patient_id)
    pending = _pending_amendments(record)
    context: dict[str, Any] = {
        "title": "Correct a result",
        "intro": f"{result.display}: the current value stays in the record as the value replaced.",
        "submit": "Save correction",
    }
    if request.method == "GET":
        form = ResultCorrectionForm(initial={"value": result.value, "unit": result.unit}, pending=pending)
        return _edit_page(request, patient_id, {**context, "form": form})
    form = ResultCorrectionForm(request.POST, pending=pending)
    if form.is_valid():
        d = form.cleaned_data
        try:
            gateway.result_correct(
                **_ctx(request),
                patient_id=patient_id,
                observation_id=observation_id,
                value=format(d["value"], "f"),
                unit=d["unit"],
                reason=d["reason"],
                confirmed=d["confirmed"],
                amendment_request_id=d.get("amendment_request") or None,
                submission=d["submission"],
            )
        except NotFound:
            return _not_found(request, patient_id)
        except NeedsConfirmation as error:
            return _needs_confirmation(request, form, error, reverse("clinical:chart", args=[patient_id]))
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Result corrected. The earlier value is kept and shown with it.")
            return redirect(reverse("clinical:chart", args=[patient_id]) + "#results")
    return _edit_page(request, patient_id, {**context, "form": form}, status=400)


@require_POST
@requires(Perm.CLINICAL_MEDICATION_PRESCRIBE)
def medication_discontinue(
    request: HttpRequest, patient_id: uuid.UUID, medication_id: uuid.UUID
) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.medication_discontinue(
            **_ctx(request),
            patient_id=patient_id,
            medication_id=medication_id,
            reason=d["reason"],
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, DiscontinueForm, write, "Medication stopped.")


@require_POST
@requires(Perm.CLINICAL_CHART_WRITE)
def problem_status(request: HttpRequest, patient_id: uuid.UUID, condition_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.condition_resolve(
            **_ctx(request),
            patient_id=patient_id,
            condition_id=condition_id,
            status=d["status"],
            reason=d["reason"] or None,
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, ProblemStatusForm, write, "Problem status changed.")


@require_POST
@requires(Perm.CLINICAL_CHART_WRITE)
def allergy_status(request: HttpRequest, patient_id: uuid.UUID, allergy_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.allergy_set_status(
            **_ctx(request),
            patient_id=patient_id,
            allergy_id=allergy_id,
            status=d["status"],
            reason=d["reason"] or None,
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, AllergyStatusForm, write, "Allergy status changed.")


@require_POST
@requires(Perm.CLINICAL_PATIENT_REGISTER)
def amendment_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.amendment_request_record(
            **_ctx(request), patient_id=patient_id, request=d["request"], submission=d["submission"]
        )

    return _chart_write(request, patient_id, AmendmentRequestForm, write, "Amendment request recorded.")


@require_POST
@requires(Perm.CLINICAL_AMENDMENT_DECIDE)
def amendment_deny(request: HttpRequest, patient_id: uuid.UUID, request_id: uuid.UUID) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.amendment_request_deny(
            **_ctx(request),
            patient_id=patient_id,
            request_id=request_id,
            reason=d["reason"],
            disagreement=d["disagreement"] or None,
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, AmendmentDenyForm, write, "Amendment request denied.")


@require_POST
@requires(Perm.CLINICAL_PATIENT_REGISTER)
def amendment_disagreement(
    request: HttpRequest, patient_id: uuid.UUID, request_id: uuid.UUID
) -> HttpResponse:
    def write(d: dict[str, Any]) -> None:
        gateway.amendment_disagreement_attach(
            **_ctx(request),
            patient_id=patient_id,
            request_id=request_id,
            statement=d["statement"],
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, DisagreementForm, write, "Statement of disagreement attached.")


# --- pharmacist verification ---------------------------------------------------------------------------
@require_GET
@requires(Perm.CLINICAL_MEDICATION_DISPENSE)
def pharmacy_worklist(request: HttpRequest) -> HttpResponse:
    try:
        worklist = gateway.medication_orders_to_verify(**_ctx(request))
    except Forbidden:
        return _page(request, "clinical/unreachable.html", {}, status=403)
    rows = [(item, VerifyForm(auto_id=f"verify-{item.order.id}-%s")) for item in worklist.items]
    return _page(request, "clinical/pharmacy_worklist.html", {"worklist": worklist, "rows": rows})


@require_POST
@requires(Perm.CLINICAL_MEDICATION_DISPENSE)
def medication_verify(request: HttpRequest, patient_id: uuid.UUID, medication_id: uuid.UUID) -> HttpResponse:
    form = VerifyForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            gateway.medication_verify(
                **_ctx(request),
                patient_id=patient_id,
                medication_id=medication_id,
                outcome=d["outcome"],
                note=d["note"] or None,
                submission=d["submission"],
            )
        except NotFound:
            return _not_found(request)
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(
                request, "Order verified." if d["outcome"] == "verified" else "Query sent to the prescriber."
            )
            return redirect("clinical:pharmacy_worklist")
    return _page(
        request,
        "clinical/edit_form.html",
        {"form": form, "title": "Not saved", "back": reverse("clinical:pharmacy_worklist"), "submit": "Save"},
        status=400,
    )
