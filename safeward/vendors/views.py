"""The vendor register's pages: the list (risk, agreement status, expiry
timeline), a vendor's page (agreements, credentials, what ended them), and
the forms to register a vendor, an agreement, a credential, and to end them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.vendors import documents, selectors, services
from safeward.vendors.forms import (
    AgreementForm,
    CredentialForm,
    DocumentForm,
    NoticeForm,
    ReasonForm,
    RenewForm,
    VendorForm,
    apply_errors,
)
from safeward.vendors.models import Agreement, Credential, Vendor


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _vendor_or_404(vendor_id: int) -> Vendor:
    vendor = selectors.vendor_get(vendor_id=vendor_id)
    if vendor is None:
        raise Http404("No such vendor.")
    return vendor


def _agreement_or_404(agreement_id: int) -> Agreement:
    agreement = selectors.agreement_get(agreement_id=agreement_id)
    if agreement is None:
        raise Http404("No such agreement.")
    return agreement


@require_GET
@requires(Perm.VENDOR_VENDOR_READ)
def vendor_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "vendors/list.html",
        {
            "rows": selectors.vendor_summaries(),
            "can_manage": _actor(request).has_perm(Perm.VENDOR_VENDOR_MANAGE),
        },
    )


def _vendor_page(
    request: HttpRequest,
    vendor: Vendor,
    *,
    reason_form: ReasonForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "vendors/vendor.html",
        {
            "vendor": vendor,
            "summary": selectors.vendor_summary(vendor=vendor),
            "agreements": list(vendor.agreements.order_by("-end_date").prefetch_related("documents")),
            "credentials": selectors.credentials_of(vendor=vendor),
            "checklist": selectors.offboarding_checklist(vendor=vendor),
            "touch": selectors.vendor_touch(vendor=vendor),
            "questionnaires": list(selectors.questionnaires_list(vendor=vendor)),
            "can_manage": _actor(request).has_perm(Perm.VENDOR_VENDOR_MANAGE),
            "reason_form": reason_form or ReasonForm(),
            "notice_form": NoticeForm(),
            "error": error,
        },
        status=status,
    )


@require_GET
@requires(Perm.VENDOR_VENDOR_READ)
def vendor_detail(request: HttpRequest, vendor_id: int) -> HttpResponse:
    return _vendor_page(request, _vendor_or_404(vendor_id))


@require_http_methods(["GET", "POST"])
@requires(Perm.VENDOR_VENDOR_MANAGE)
def vendor_create(request: HttpRequest) -> HttpResponse:
    form = VendorForm(
        request.POST if request.method == "POST" else None, initial={"owner": _actor(request).pk}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            vendor = services.vendor_create(
                actor=_actor(request),
                name=data["name"],
                legal_name=data["legal_name"],
                owner=form.owner_user(),
                identifiers=data["identifiers"],
                services=data["services"],
                contacts=data["contacts"],
                phi_categories=data["phi_categories"],
                phi_volume=data["phi_volume"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Vendor registered. Record its agreement next.")
            return redirect("vendors:agreement_new", vendor_id=vendor.pk)
    status = 400 if form.errors else 200
    return render(request, "vendors/form.html", {"form": form, "title": "Register a vendor"}, status=status)


@require_http_methods(["GET", "POST"])
@requires(Perm.VENDOR_VENDOR_MANAGE)
def agreement_create(request: HttpRequest, vendor_id: int) -> HttpResponse:
    vendor = _vendor_or_404(vendor_id)
    form = AgreementForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.agreement_create(actor=_actor(request), vendor=vendor, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Agreement recorded.")
            return redirect("vendors:vendor", vendor_id=vendor.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "vendors/form.html",
        {"form": form, "title": f"New agreement with {vendor.name}", "vendor": vendor},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.VENDOR_VENDOR_MANAGE)
def credential_create(request: HttpRequest, vendor_id: int) -> HttpResponse:
    vendor = _vendor_or_404(vendor_id)
    form = CredentialForm(request.POST if request.method == "POST" else None, vendor=vendor)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        agreement = vendor.agreements.filter(pk=data["agreement"]).select_related("vendor").first()
        try:
            if data["kind"] == Credential.Kind.ACCOUNT:
                services.credential_bind_account(
                    actor=_actor(request), vendor=vendor, agreement=agreement, user=data["user"]
                )
            elif data["kind"] == Credential.Kind.OAUTH_CLIENT:
                services.credential_bind_client(
                    actor=_actor(request), vendor=vendor, agreement=agreement, registration_id=data["client"]
                )
            else:
                services.credential_record_path(
                    actor=_actor(request),
                    vendor=vendor,
                    agreement=agreement,
                    kind=data["kind"],
                    label=data["label"],
                )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Credential bound to the agreement; it ends when the agreement ends.")
            return redirect("vendors:vendor", vendor_id=vendor.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "vendors/form.html",
        {"form": form, "title": f"Bind a credential of {vendor.name}", "vendor": vendor},
        status=status,
    )


@require_POST
@requires(Perm.VENDOR_VENDOR_MANAGE)
def agreement_terminate(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = _agreement_or_404(agreement_id)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            result = services.agreement_terminate(
                actor=_actor(request), agreement=agreement, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            return _vendor_page(request, agreement.vendor, error=" ".join(error.messages), status=409)
        messages.success(request, f"Agreement terminated; {result.credentials} credential(s) ended.")
        return redirect("vendors:vendor", vendor_id=agreement.vendor_id)
    return _vendor_page(request, agreement.vendor, reason_form=form, error="Give a reason.", status=400)


@require_POST
@requires(Perm.VENDOR_VENDOR_MANAGE)
def agreement_notice(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = _agreement_or_404(agreement_id)
    form = NoticeForm(request.POST)
    if not form.is_valid():
        return _vendor_page(request, agreement.vendor, error="Give the date notice was given.", status=400)
    try:
        services.agreement_give_notice(
            actor=_actor(request), agreement=agreement, on=form.cleaned_data["given_on"]
        )
    except ValidationError as error:
        return _vendor_page(request, agreement.vendor, error=" ".join(error.messages), status=409)
    messages.success(request, "Notice recorded.")
    return redirect("vendors:vendor", vendor_id=agreement.vendor_id)


@require_POST
@requires(Perm.VENDOR_VENDOR_MANAGE)
def agreement_renew(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = _agreement_or_404(agreement_id)
    form = RenewForm(request.POST)
    if not form.is_valid():
        return _vendor_page(request, agreement.vendor, error="Give the new last day.", status=400)
    try:
        services.agreement_renew(
            actor=_actor(request), agreement=agreement, end_date=form.cleaned_data["end_date"]
        )
    except ValidationError as error:
        return _vendor_page(request, agreement.vendor, error=" ".join(error.messages), status=409)
    messages.success(request, "Agreement renewed; its credentials run to the new end.")
    return redirect("vendors:vendor", vendor_id=agreement.vendor_id)


def _status_change(request: HttpRequest, vendor_id: int, action: str) -> HttpResponse:
    vendor = _vendor_or_404(vendor_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _vendor_page(request, vendor, reason_form=form, error="Give a reason.", status=400)
    change = services.vendor_suspend if action == "suspend" else services.vendor_offboard
    try:
        result = change(actor=_actor(request), vendor_id=vendor.pk, reason=form.cleaned_data["reason"])
    except ValidationError as error:
        return _vendor_page(request, vendor, error=" ".join(error.messages), status=409)
    messages.success(request, f"Vendor {action}ed; {result.credentials} credential(s) ended.")
    return redirect("vendors:vendor", vendor_id=vendor.pk)


@require_POST
@requires(Perm.VENDOR_VENDOR_MANAGE)
def vendor_suspend(request: HttpRequest, vendor_id: int) -> HttpResponse:
    return _status_change(request, vendor_id, "suspend")


@require_POST
@requires(Perm.VENDOR_VENDOR_MANAGE)
def vendor_offboard(request: HttpRequest, vendor_id: int) -> HttpResponse:
    return _status_change(request, vendor_id, "offboard")


@require_POST
@requires(Perm.VENDOR_VENDOR_MANAGE)
def document_upload(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = _agreement_or_404(agreement_id)
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _vendor_page(request, agreement.vendor, error="Give a title and choose a file.", status=400)
    upload = form.cleaned_data["file"]
    try:
        documents.document_add(
            actor=_actor(request),
            agreement=agreement,
            title=form.cleaned_data["title"],
            filename=upload.name or "",
            content_type=upload.content_type or "",
            source=upload,
        )
    except ValidationError as error:
        return _vendor_page(request, agreement.vendor, error=" ".join(error.messages), status=400)
    messages.success(request, "Document stored, encrypted, with its hash.")
    return redirect("vendors:vendor", vendor_id=agreement.vendor_id)


@require_GET
@requires(Perm.VENDOR_VENDOR_READ)
def document_download(request: HttpRequest, document_id: int) -> HttpResponse:
    if selectors.document_get(document_id=document_id) is None:
        raise Http404
    try:
        document, content = documents.document_open(actor=_actor(request), document_id=document_id)
    except ValidationError as error:
        return HttpResponse(" ".join(error.messages), status=409, content_type="text/plain")
    response = HttpResponse(content, content_type=document.content_type)
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response["X-Content-SHA256"] = document.sha256
    return response
