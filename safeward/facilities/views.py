"""Facilities pages: secure areas and their authorisations, door-event
timelines per area and per person, the door-event import, the visitor desk
with its printable badge, the custody log, the disposal queue with
certificates of sanitization (page and PDF) and the batch summary per pickup.
Thin: forms check input, services decide and audit."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.clinical import gateway
from safeward.clinical.types import SessionContext, VisitorPatient
from safeward.facilities import importer, selectors, services
from safeward.facilities.forms import (
    AreaForm,
    AuthoriseForm,
    CertificateForm,
    CustodyForm,
    DisposeForm,
    ImportForm,
    VisitorForm,
    WorkstationForm,
)
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm

MAX_EVIDENCE = 20 * 1024 * 1024
PAGE_HOURS = 7 * 24  # the workstations page: a week of chart reads without a badge-in


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


# --- areas --------------------------------------------------------------------------------------


@require_GET
@requires(Perm.FACILITY_AREA_READ)
def areas(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "facilities/areas.html",
        {"areas": selectors.areas_list(), "can_manage": _actor(request).has_perm(Perm.FACILITY_AREA_MANAGE)},
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.FACILITY_AREA_MANAGE)
def area_new(request: HttpRequest) -> HttpResponse:
    form = AreaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            area = services.area_create(actor=_actor(request), **form.cleaned_data)
        except services.FacilityError as error:
            form.add_error(None, str(error))
        else:
            return redirect("facilities:area", area.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "facilities/form.html", {"form": form, "title": "New secure area"}, status=status)


@require_GET
@requires(Perm.FACILITY_AREA_READ)
def area_detail(request: HttpRequest, area_id: int) -> HttpResponse:
    area = selectors.area_get(area_id=area_id)
    if area is None:
        raise Http404("No such area.")
    return render(
        request,
        "facilities/area.html",
        {
            "area": area,
            "events": selectors.events_for_area(area_id=area.pk, limit=200),
            "form": AuthoriseForm(),
            "can_manage": _actor(request).has_perm(Perm.FACILITY_AREA_MANAGE),
        },
    )


@require_POST
@requires(Perm.FACILITY_AREA_MANAGE)
def area_authorise(request: HttpRequest, area_id: int) -> HttpResponse:
    area = selectors.area_get(area_id=area_id)
    if area is None:
        raise Http404("No such area.")
    form = AuthoriseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.authorisation_grant(
                actor=_actor(request),
                area=area,
                position_code=data["position_code"],
                person_id=data["person_id"],
                weekdays=data["weekdays"],
                start_time=data["start_time"],
                end_time=data["end_time"],
            )
        except services.FacilityError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Authorisation added.")
            return redirect("facilities:area", area.pk)
    context = {"area": area, "events": [], "form": form, "can_manage": True}
    return render(request, "facilities/area.html", context, status=400)


@require_GET
@requires(Perm.FACILITY_AREA_READ)
def person_events(request: HttpRequest, person_id: int) -> HttpResponse:
    events = selectors.events_for_person(person_id=person_id)
    return render(request, "facilities/person_events.html", {"person_id": person_id, "events": events})


@require_http_methods(["GET", "POST"])
@requires(Perm.FACILITY_AREA_MANAGE)
def import_events(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > importer.MAX_BYTES:
                    raise services.ImportRejected(["the file is too large; use the command line"])
                rows, first = importer.rows_from_bytes(upload.read(), name=upload.name or "")
                result = services.events_ingest(
                    actor=_actor(request),
                    rows=rows,
                    source=f"file:{(upload.name or '')[:30]}",
                    first_row=first,
                )
            except services.ImportRejected as rejected:
                errors = rejected.errors[:200]
            else:
                messages.success(request, f"Imported {result.events} door events; {result.alerts} alert(s).")
                return redirect("facilities:import")
    return render(request, "facilities/import.html", {"form": form, "errors": errors}, status=status)


# --- visitors ------------------------------------------------------------------------------------


def _patients_named(request: HttpRequest) -> tuple[list[VisitorPatient] | None, str]:
    """The inpatients by the patient names typed (POST only, so they never sit
    in a URL, ADR 0540) and a lookup error; None when no names were typed."""
    given = str(request.POST.get("patient_given_name") or "").strip()
    family = str(request.POST.get("patient_family_name") or "").strip()
    if not (given or family):
        return None, ""
    try:
        found = gateway.visitor_patient_lookup(
            actor=_actor(request),
            session=SessionContext.from_request(request),
            given_name=given,
            family_name=family,
        )
    except gateway.InvalidInput as error:
        return [], " ".join(error.errors.values())
    except gateway.Forbidden:
        return [], "Patient lookup is not available from this session."
    return found, ""


@require_http_methods(["GET", "POST"])
@requires(Perm.FACILITY_VISITOR_MANAGE)
def visitor_desk(request: HttpRequest) -> HttpResponse:
    form = VisitorForm()
    status = 200
    if request.method == "POST":
        patients, problem = _patients_named(request)
        form = VisitorForm(request.POST, patients=patients)
        valid = form.is_valid()
        if "find" in request.POST or problem:
            # Only the lookup (or its refusal): the rest of the form is not judged yet.
            form.errors.clear()
        if problem:
            form.add_error(None, problem)
        status = 400 if problem or "find" not in request.POST else 200
        if valid and not problem and "find" not in request.POST:
            try:
                visitor = services.visitor_sign_in(
                    actor=_actor(request), session=SessionContext.from_request(request), **form.sign_in_data()
                )
            except services.FacilityError as error:
                form.add_error(None, str(error))
            else:
                return redirect("facilities:visitor_badge", visitor.pk)
    return render(
        request,
        "facilities/visitors.html",
        {"form": form, "on_site": selectors.visitors_on_site()},
        status=status,
    )


@require_GET
@requires(Perm.FACILITY_VISITOR_MANAGE)
def visitor_badge(request: HttpRequest, visitor_id: int) -> HttpResponse:
    visitor = selectors.visitor_get(visitor_id=visitor_id)
    if visitor is None:
        raise Http404("No such visitor.")
    return render(request, "facilities/visitor_badge.html", {"visitor": visitor})


@require_POST
@requires(Perm.FACILITY_VISITOR_MANAGE)
def visitor_sign_out(request: HttpRequest, visitor_id: int) -> HttpResponse:
    if selectors.visitor_get(visitor_id=visitor_id) is None:
        raise Http404("No such visitor.")
    try:
        services.visitor_sign_out(actor=_actor(request), visitor_id=visitor_id)
    except services.FacilityError as error:
        messages.error(request, str(error))
        return redirect("facilities:visitors")
    messages.success(request, "Signed out.")
    return redirect("facilities:visitors")


@require_GET
@requires(Perm.FACILITY_VISITOR_READ)
def visitors_flagged(request: HttpRequest) -> HttpResponse:
    return render(request, "facilities/visitors_flagged.html", {"visitors": selectors.visitors_flagged()})


# --- custody and disposal ------------------------------------------------------------------------


@require_GET
@requires(Perm.FACILITY_CUSTODY_READ)
def custody(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "facilities/custody.html",
        {
            "events": selectors.custody_log(),
            "form": CustodyForm(),
            "can_manage": _actor(request).has_perm(Perm.FACILITY_CUSTODY_MANAGE),
        },
    )


@require_POST
@requires(Perm.FACILITY_CUSTODY_MANAGE)
def custody_new(request: HttpRequest) -> HttpResponse:
    form = CustodyForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = services.custody_record(
                actor=_actor(request),
                kind=data["kind"],
                device_id=data["device_id"],
                medium_id=data["medium"].pk if data["medium"] else None,
                holder_person_id=data["holder_person_id"],
                location=data["location"],
                note=data["note"],
            )
        except services.FacilityError as error:
            form.add_error(None, str(error))
        else:
            if result.incident_id:
                messages.warning(
                    request,
                    f"Recorded as lost: incident {result.incident_id} opened; "
                    f"patients whose data may have been on it: {result.patients_affected}.",
                )
            else:
                messages.success(request, "Custody recorded.")
            return redirect("facilities:custody")
    context = {"events": selectors.custody_log(), "form": form, "can_manage": True}
    return render(request, "facilities/custody.html", context, status=400)


@require_GET
@requires(Perm.FACILITY_CUSTODY_READ)
def disposals(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "facilities/disposals.html",
        {
            "queue": selectors.disposal_queue(),
            "uncertified": selectors.media_without_certificate(),
            "can_manage": _actor(request).has_perm(Perm.FACILITY_CUSTODY_MANAGE),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.FACILITY_CUSTODY_MANAGE)
def certificate_new(request: HttpRequest) -> HttpResponse:
    initial = {"device_id": request.GET.get("device")} if request.GET.get("device", "").isdigit() else None
    form = CertificateForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        upload = data.pop("evidence")
        device_id = data.pop("device_id")
        medium = data.pop("medium")
        evidence = None
        if upload is not None:
            if upload.size > MAX_EVIDENCE:
                form.add_error("evidence", "The evidence file is larger than 20 MiB.")
            else:
                evidence = upload.read()
        if not form.errors:
            try:
                certificate = services.certificate_record(
                    actor=_actor(request),
                    fields=data,
                    device_id=device_id,
                    medium_id=medium.pk if medium else None,
                    evidence=evidence,
                    evidence_name=(upload.name or "") if upload is not None else "",
                )
            except services.FacilityError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, "Certificate recorded: a second person must validate it.")
                return redirect("facilities:certificate", certificate.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "facilities/form.html",
        {"form": form, "title": "Certificate of sanitization", "upload": True},
        status=status,
    )


def _certificate_or_404(certificate_id: int):  # type: ignore[no-untyped-def]
    certificate = selectors.certificate_get(certificate_id=certificate_id)
    if certificate is None:
        raise Http404("No such certificate.")
    return certificate


@require_GET
@requires(Perm.FACILITY_CUSTODY_READ)
def certificate_detail(request: HttpRequest, certificate_id: int) -> HttpResponse:
    certificate = _certificate_or_404(certificate_id)
    return render(
        request,
        "facilities/certificate.html",
        {
            "c": certificate,
            "form": DisposeForm(),
            "can_manage": _actor(request).has_perm(Perm.FACILITY_CUSTODY_MANAGE),
        },
    )


@require_POST
@requires(Perm.FACILITY_CUSTODY_MANAGE)
def certificate_validate(request: HttpRequest, certificate_id: int) -> HttpResponse:
    _certificate_or_404(certificate_id)
    try:
        services.certificate_validate(actor=_actor(request), certificate_id=certificate_id)
    except services.FacilityError as error:
        messages.error(request, str(error))
        return _refused(request, certificate_id, str(error))
    messages.success(request, "Certificate validated.")
    return redirect("facilities:certificate", certificate_id)


@require_POST
@requires(Perm.FACILITY_CUSTODY_MANAGE)
def certificate_dispose(request: HttpRequest, certificate_id: int) -> HttpResponse:
    _certificate_or_404(certificate_id)
    form = DisposeForm(request.POST)
    pickup = form.cleaned_data["pickup"] if form.is_valid() else ""
    try:
        services.disposal_record(actor=_actor(request), certificate_id=certificate_id, pickup=pickup)
    except services.FacilityError as error:
        return _refused(request, certificate_id, str(error))
    messages.success(request, "Disposal recorded: the item has left the hospital.")
    return redirect("facilities:certificate", certificate_id)


def _refused(request: HttpRequest, certificate_id: int, error: str) -> HttpResponse:
    certificate = _certificate_or_404(certificate_id)
    return render(
        request,
        "facilities/certificate.html",
        {"c": certificate, "form": DisposeForm(), "can_manage": True, "error": error},
        status=409,
    )


@require_GET
@requires(Perm.FACILITY_CUSTODY_READ)
def certificate_pdf(request: HttpRequest, certificate_id: int) -> HttpResponse:
    from weasyprint import HTML

    certificate = _certificate_or_404(certificate_id)
    html = render_to_string("facilities/certificate_pdf.html", {"c": certificate})
    response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="sanitization-certificate-{certificate.pk}.pdf"'
    return response


@require_GET
@requires(Perm.FACILITY_CUSTODY_READ)
def pickup_summary(request: HttpRequest, pickup: str) -> HttpResponse:
    certificates = list(selectors.certificates_for_pickup(pickup=pickup))
    if not certificates:
        raise Http404("No such pickup.")
    return render(request, "facilities/pickup.html", {"pickup": pickup, "certificates": certificates})


# --- workstations in secure areas (rule chart_without_badge_in, ADR 1112) ------------------------


def _workstations_page(request: HttpRequest, form: WorkstationForm, status: int = 200) -> HttpResponse:
    return render(
        request,
        "facilities/workstations.html",
        {
            "form": form,
            "workstations": selectors.workstations_placed(),
            "reads": selectors.chart_reads_without_badge_in(hours=PAGE_HOURS),
            "can_place": _actor(request).has_perm(Perm.FACILITY_AREA_MANAGE),
            "days": PAGE_HOURS // 24,
        },
        status=status,
    )


@require_GET
@requires(Perm.DETECTION_ALERT_READ)
def workstations(request: HttpRequest) -> HttpResponse:
    return _workstations_page(request, WorkstationForm())


@require_POST
@requires(Perm.FACILITY_AREA_MANAGE)
def workstation_place(request: HttpRequest) -> HttpResponse:
    form = WorkstationForm(request.POST)
    if form.is_valid():
        try:
            services.workstation_place(
                actor=_actor(request),
                device_id=form.cleaned_data["device_id"],
                area=form.cleaned_data["area"],
            )
        except services.FacilityError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Workstation placed: its chart reads now need a badge-in to the area.")
            return redirect("facilities:workstations")
    if not _actor(request).has_perm(Perm.DETECTION_ALERT_READ):
        # The placer may not read the list of chart reads: the form's errors alone.
        return render(
            request, "facilities/form.html", {"form": form, "title": "Place a workstation"}, status=400
        )
    return _workstations_page(request, form, status=400)
