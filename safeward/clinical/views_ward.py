"""Wards, the census and admission/transfer (issue 12), and acknowledging a
result notification. Thin like views.py: forms validate, the gateway decides,
audits and writes. After an action each person lands on a page they may
open: the ward's census (the ADT desk, nurses, physicians) or the dashboard."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.clinical import gateway
from safeward.clinical.forms import AdmitForm, TransferForm, WardEditForm, WardForm
from safeward.clinical.types import BedSetup, Conflict, Forbidden, InvalidInput, NotFound, WardView
from safeward.clinical.views import (
    _actor,
    _conflict,
    _ctx,
    _form_errors,
    _not_found,
    _page,
    landing_after_ward_action,
)
from safeward.identity.decorators import requires
from safeward.identity.permissions import Perm


@require_GET
@requires(Perm.CLINICAL_CENSUS_READ)
def wards(request: HttpRequest) -> HttpResponse:
    return _page(request, "clinical/wards.html", {"wards": gateway.wards_list()})


@require_GET
@requires(Perm.CLINICAL_CENSUS_READ)
def ward_census(request: HttpRequest, ward_id: uuid.UUID) -> HttpResponse:
    try:
        census = gateway.ward_census(**_ctx(request), ward_id=ward_id)
    except Forbidden:
        return _page(request, "clinical/unreachable.html", {}, status=403)
    except NotFound:
        return _page(
            request, "web/error.html", {"title": "Not found", "message": "There is no such ward."}, 404
        )
    return _page(
        request,
        "clinical/census.html",
        {
            "census": census,
            "can_discharge": _actor(request).has_perm(Perm.CLINICAL_ENCOUNTER_DISCHARGE),
            "can_move": _actor(request).has_perm(Perm.CLINICAL_APPOINTMENT_MANAGE),
        },
    )


def _admit_form(data: object = None) -> AdmitForm:
    physicians, nurses = gateway.admission_clinicians()
    beds = [(b.id, b.label) for b in gateway.beds_free()]
    return AdmitForm(data, beds=beds, physicians=physicians, nurses=nurses)


def _transfer_form(data: object = None) -> TransferForm:
    return TransferForm(data, beds=[(b.id, b.label) for b in gateway.beds_free()])


@require_http_methods(["GET", "POST"])
@requires(Perm.CLINICAL_APPOINTMENT_MANAGE)
def admission(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """The patient's admission: where they lie now (then a transfer), or the
    form to admit them to a bed. A second admission is refused."""
    try:
        desk = gateway.admission_desk(**_ctx(request), patient_id=patient_id)
    except NotFound:
        return _not_found(request, patient_id)
    current = desk.current
    form = _admit_form(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                admitted = gateway.admission_admit(
                    **_ctx(request),
                    patient_id=patient_id,
                    bed_id=d["bed"],
                    attending_id=d["attending"],
                    nurse_id=d["nurse"],
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
                messages.success(request, f"Admitted to {admitted.ward}, bed {admitted.bed}.")
                return landing_after_ward_action(request, admitted.ward_id)
        status = 400
    return _page(
        request,
        "clinical/admission.html",
        {
            "patient_id": patient_id,
            "patient": desk.patient,
            "current": current,
            "form": form if current is None or request.method == "POST" else None,
            "transfer_form": _transfer_form() if current is not None else None,
        },
        status,
    )


@require_POST
@requires(Perm.CLINICAL_APPOINTMENT_MANAGE)
def admission_transfer(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    form = _transfer_form(request.POST)
    if form.is_valid():
        try:
            moved = gateway.admission_transfer(
                **_ctx(request),
                patient_id=patient_id,
                bed_id=form.cleaned_data["bed"],
                submission=form.cleaned_data["submission"],
            )
        except NotFound:
            return _not_found(request, patient_id)
        except Conflict as error:
            return _conflict(request, error)
        except InvalidInput as error:
            _form_errors(form, error)
        else:
            messages.success(request, f"Transferred to {moved.ward}, bed {moved.bed}.")
            return landing_after_ward_action(request, moved.ward_id)
    return _page(request, "clinical/chart_form.html", {"form": form, "patient_id": patient_id}, status=400)


@require_POST
@requires(Perm.CLINICAL_RESULT_READ)
def result_acknowledge(request: HttpRequest, notification_id: uuid.UUID) -> HttpResponse:
    try:
        gateway.result_notification_acknowledge(**_ctx(request), notification_id=notification_id)
    except NotFound:
        return _page(
            request, "web/error.html", {"title": "Not found", "message": "No such notification."}, 404
        )
    except Conflict as error:
        return _conflict(request, error)
    messages.success(request, "Result acknowledged.")
    return redirect(reverse("web:dashboard") + "#worklist-physician")


# --- wards and beds: the operator's settings page (ADR 0583) ------------------------------------------
def _ward_form(data: object = None) -> WardForm:
    return WardForm(data, departments=gateway.departments_list(clinical_only=True))


def _ward_edit_form(ward: WardView, beds: list[BedSetup], data: object = None) -> WardEditForm:
    removable = [(b.id, b.label) for b in beds if not b.used]
    return WardEditForm(data, removable=removable, initial={"name": ward.name})


def _ward_setup_page(request: HttpRequest, form: WardForm, status: int = 200) -> HttpResponse:
    return _page(request, "clinical/ward_setup.html", {"wards": gateway.wards_list(), "form": form}, status)


@require_http_methods(["GET", "POST"])
@requires(Perm.FACILITY_WARD_MANAGE)
def ward_setup(request: HttpRequest) -> HttpResponse:
    """Every ward with its beds, and the form for a new one."""
    if request.method == "GET":
        return _ward_setup_page(request, _ward_form())
    form = _ward_form(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            ward = gateway.ward_create(
                actor=_actor(request),
                department_id=d["department"],
                code=d["code"],
                name=d["name"],
                beds=d["beds"],
                new=True,
            )
        except InvalidInput as error:
            _form_errors(form, error)
        except Conflict as error:
            form.add_error(None, str(error))
            return _ward_setup_page(request, form, 409)
        else:
            messages.success(request, f"Ward {ward.name} added with {ward.beds} beds.")
            return redirect("clinical:ward_edit", ward_id=ward.id)
    return _ward_setup_page(request, form, 400)


@require_http_methods(["GET", "POST"])
@requires(Perm.FACILITY_WARD_MANAGE)
def ward_edit(request: HttpRequest, ward_id: uuid.UUID) -> HttpResponse:
    """A ward's name and beds: rename, add beds, remove unused ones."""
    ward = next((w for w in gateway.wards_list() if w.id == str(ward_id)), None)
    if ward is None:
        return _page(
            request, "web/error.html", {"title": "Not found", "message": "There is no such ward."}, 404
        )
    beds = gateway.ward_beds(ward_id=ward_id)
    form = _ward_edit_form(ward, beds, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                saved = gateway.ward_update(
                    actor=_actor(request),
                    ward_id=ward_id,
                    name=d["name"],
                    add_beds=d["add_beds"],
                    remove_beds=d["remove_beds"],
                )
            except NotFound:
                return _page(
                    request,
                    "web/error.html",
                    {"title": "Not found", "message": "There is no such ward."},
                    404,
                )
            except InvalidInput as error:
                _form_errors(form, error)
            except Conflict as error:
                form.add_error(None, str(error))
                status = 409
            else:
                messages.success(request, f"Ward {saved.name} saved: {saved.beds} beds.")
                return redirect("clinical:ward_edit", ward_id=saved.id)
        status = status if status != 200 else 400
    return _page(request, "clinical/ward_edit.html", {"ward": ward, "beds": beds, "form": form}, status)
