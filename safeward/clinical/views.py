"""The clinician web UI. Thin: forms validate, the gateway decides, decrypts,
audits and writes; these views never touch a PHI model. URLs carry opaque
ids only; queries (search criteria) travel in GET parameters of the search
form, never in a path."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.forms import (
    REASON_KINDS,
    AllergyForm,
    BookForm,
    BreakGlassForm,
    MedicationForm,
    NoteForm,
    ProblemForm,
    RegistrationForm,
    ReviewForm,
    ScheduleForm,
    SearchForm,
    VitalsForm,
)
from safeward.clinical.policy import Section
from safeward.clinical.trends import trends
from safeward.clinical.types import Conflict, Forbidden, InvalidInput, NotFound, SessionContext
from safeward.identity.decorators import requires, step_up_required
from safeward.identity.models import User
from safeward.identity.permissions import Perm


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
        context["breakglass_active"] = gateway.break_glass_active(actor=user)
    context["now"] = clock.now()
    return render(request, template, context, status=status)


def _not_found(request: HttpRequest, patient_id: uuid.UUID | None = None) -> HttpResponse:
    """The same page for "no such record" and "not yours"; a person who may
    break the glass is offered it for any id (so the offer reveals nothing)."""
    return _page(request, "clinical/not_found.html", {"patient_id": patient_id}, status=404)


def _form_errors(form: Any, error: InvalidInput) -> None:
    for name, message in error.errors.items():
        form.add_error(name if name in form.fields else None, message)


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
@requires(Perm.CLINICAL_PATIENT_REGISTER)
def register(request: HttpRequest) -> HttpResponse:
    form = RegistrationForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                patient = gateway.patient_register(
                    **_ctx(request), data=form.patient_input(), submission=form.cleaned_data["submission"]
                )
            except InvalidInput as error:
                _form_errors(form, error)
            except Conflict as error:
                return _conflict(request, error)
            except Forbidden:
                return _page(request, "clinical/unreachable.html", {}, status=403)
            else:
                messages.success(request, f"Registered, medical record number {patient.mrn}.")
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
        "S": {s.name: s for s in Section},
    }


@require_GET
@requires(Perm.CLINICAL_PATIENT_READ)
def chart(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    try:
        record = gateway.chart_read(**_ctx(request), patient_id=patient_id)
    except NotFound:
        return _not_found(request, patient_id)
    user = _actor(request)
    context = _chart_context(record)
    context.update(
        note_form=NoteForm() if user.has_perm(Perm.CLINICAL_NOTE_WRITE) else None,
        problem_form=ProblemForm() if user.has_perm(Perm.CLINICAL_CHART_WRITE) else None,
        allergy_form=AllergyForm() if user.has_perm(Perm.CLINICAL_CHART_WRITE) else None,
        vitals_form=VitalsForm() if user.has_perm(Perm.CLINICAL_CHART_WRITE) else None,
        medication_form=MedicationForm() if user.has_perm(Perm.CLINICAL_MEDICATION_PRESCRIBE) else None,
        can_book=user.has_perm(Perm.CLINICAL_APPOINTMENT_MANAGE),
    )
    return _page(request, "clinical/chart.html", context)


@require_GET
@requires(Perm.CLINICAL_PATIENT_READ)
def chart_print(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    try:
        record = gateway.chart_print(**_ctx(request), patient_id=patient_id)
    except NotFound:
        return _not_found(request, patient_id)
    return _page(request, "clinical/print.html", _chart_context(record))


def _chart_write(
    request: HttpRequest, patient_id: uuid.UUID, form_class: type[Any], write: Any, done: str
) -> HttpResponse:
    """POST a chart form: 400 with the form on bad input, 409 on a double post,
    404 for a patient one may not write to; back to the chart on success."""
    form = form_class(request.POST)
    if form.is_valid():
        try:
            write(form.cleaned_data)
        except NotFound:
            return _not_found(request, patient_id)
        except Conflict as error:
            return _conflict(request, error)
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
            value=str(d["value"].normalize()),
            unit=unit,
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
            submission=d["submission"],
        )

    return _chart_write(request, patient_id, MedicationForm, write, "Medication ordered.")


@require_GET
@requires(Perm.CLINICAL_CHART_READ)
def document_download(request: HttpRequest, patient_id: uuid.UUID, document_id: uuid.UUID) -> HttpResponse:
    try:
        document, chunks = gateway.document_open(
            **_ctx(request), patient_id=patient_id, document_id=str(document_id)
        )
    except NotFound:
        return _not_found(request, patient_id)
    response = HttpResponse(b"".join(chunks), content_type=document.content_type)
    response["Content-Disposition"] = f'attachment; filename="document-{document.id}"'
    response["Cache-Control"] = "no-store"
    return response


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
@requires(Perm.CLINICAL_BREAKGLASS_REVIEW)
def review_queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "pending")
    if status not in ("pending", "justified", "unjustified"):
        status = "pending"
    grants = gateway.break_glass_review_queue(
        actor=_actor(request), session=SessionContext.from_request(request), status=status
    )
    labels = dict(REASON_KINDS)
    rows = [(grant, labels.get(grant.reason_kind, grant.reason_kind)) for grant in grants]
    return _page(request, "clinical/review_queue.html", {"rows": rows, "status": status})


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
    departments = gateway.departments_list()
    data = request.GET.copy()
    data.setdefault("day", clock.now().date().isoformat())
    if departments:
        data.setdefault("department", str(departments[0][0]))
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
    messages.success(request, f"Booked for {appointment.starts_at:%Y-%m-%d %H:%M}.")
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
    return _back_to_schedule(request, appointment.starts_at, appointment.department_id)


@require_POST
@requires(Perm.CLINICAL_APPOINTMENT_MANAGE)
def appointment_cancel(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    return _appointment_action(request, appointment_id, check_in=False)


@require_POST
@requires(Perm.CLINICAL_APPOINTMENT_MANAGE)
def appointment_check_in(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    return _appointment_action(request, appointment_id, check_in=True)
