"""Posture pages: the endpoints whose posture fails and the import form; a device's
posture (the panel the device page includes); reporting a device lost or stolen;
linking an OAuth client to a device (ADR 1018)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.devices import posture_selectors as selectors
from safeward.devices.models import Device
from safeward.devices.oauth_links import LINK_PERMISSION, client_link, client_links, client_unlink
from safeward.devices.posture import PostureImportError, device_report_lost, posture_import, source_detect
from safeward.devices.posture_forms import (
    ClientLinkForm,
    ClientUnlinkForm,
    PostureImportForm,
    ReportLostForm,
    WipeConfirmForm,
)
from safeward.devices.services import DeviceError
from safeward.devices.wipes import wipe_confirm, wipe_state
from safeward.fhir.clients import client_names
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _device_or_404(device_id: int) -> Device:
    device = selectors.posture_device_get(device_id=device_id)
    if device is None:
        raise Http404
    return device


def _overview(
    request: HttpRequest,
    form: PostureImportForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "failing": selectors.posture_failing(),
        "counts": selectors.posture_counts(),
        "wipes": selectors.wipe_rows(open_only=True),
        "form": form or PostureImportForm(),
        "errors": errors or [],
        "can_import": _actor(request).has_perm(Perm.DEVICES_DEVICE_MANAGE),
        "confirm_hours": settings.SAFEWARD_WIPE_CONFIRM_HOURS,
    }
    return render(request, "devices/posture/overview.html", context, status=status)


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def overview(request: HttpRequest) -> HttpResponse:
    return _overview(request)


@require_POST
@requires(Perm.DEVICES_DEVICE_MANAGE)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = PostureImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _overview(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        source = form.cleaned_data["format"] or source_detect(filename=upload.name, data=data)
        result = posture_import(actor=_actor(request), source=source, data=data, filename=upload.name)
    except PostureImportError as error:
        return _overview(request, form, errors=error.errors[:100], status=400)
    text = (
        f"{result.imported} device(s) updated: {result.compliant} compliant, "
        f"{result.non_compliant} not compliant."
    )
    if result.wipes_confirmed:
        text += f" {result.wipes_confirmed} remote wipe(s) confirmed."
    if result.unmatched_count:
        text += f" {result.unmatched_count} not in the inventory: {', '.join(result.unmatched[:10])}."
    messages.success(request, text)
    return redirect("devices_posture:overview")


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def device_posture(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _device_or_404(device_id)
    context = {
        "device": device,
        "can_report": _actor(request).has_perm(Perm.DEVICES_DEVICE_MANAGE),
        "reportable": device.lifecycle == Device.Lifecycle.IN_SERVICE,
    }
    return render(request, "devices/posture/device.html", context)


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_DEVICE_MANAGE)
def report_lost(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _device_or_404(device_id)
    form = ReportLostForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                report = device_report_lost(
                    actor=_actor(request),
                    device_id=device.pk,
                    state=form.cleaned_data["state"],
                    reason=form.cleaned_data["reason"],
                )
            except DeviceError as error:
                form.add_error(None, str(error))
                status = 409
            else:
                messages.success(
                    request,
                    f"{device.asset_tag} reported {form.cleaned_data['state']}: "
                    f"{report.sessions_ended} session(s) ended, {report.tokens_revoked} token(s) revoked, "
                    f"remote wipe requested, incident {report.incident_id} opened.",
                )
                return redirect("devices_posture:device", device_id=device.pk)
    return render(
        request, "devices/posture/report_lost.html", {"device": device, "form": form}, status=status
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_DEVICE_MANAGE)
def wipe_confirm_page(request: HttpRequest, wipe_id: int) -> HttpResponse:
    """A person confirms a wipe the MDM cannot report (ADR 1017)."""
    wipe = selectors.wipe_get(wipe_id=wipe_id)
    if wipe is None:
        raise Http404
    form = WipeConfirmForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                wipe_confirm(actor=_actor(request), wipe_id=wipe.pk, note=form.cleaned_data["note"])
            except DeviceError as error:
                form.add_error(None, str(error))
                status = 409
            else:
                messages.success(request, f"Remote wipe of {wipe.device.asset_tag} confirmed.")
                return redirect("devices_posture:device", device_id=wipe.device_id)
    context = {"wipe": wipe, "state": wipe_state(wipe, now=clock.now()), "form": form}
    return render(request, "devices/posture/wipe_confirm.html", context, status=status)


# --- OAuth clients on a device (ADR 1018) -------------------------------------------------------
def _client_choices() -> list[tuple[str, str]]:
    linked = {row.link.application.client_id for row in client_links()}
    return [(cid, f"{name} ({cid})") for cid, name in client_names().items() if cid not in linked]


@require_http_methods(["GET", "POST"])
@requires(LINK_PERMISSION)
def client_link_page(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _device_or_404(device_id)
    form = ClientLinkForm(request.POST if request.method == "POST" else None, clients=_client_choices())
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                client_link(
                    actor=_actor(request),
                    device_id=device.pk,
                    client_id=form.cleaned_data["client_id"],
                    reason=form.cleaned_data["reason"],
                )
            except DeviceError as error:
                form.add_error(None, str(error))
                status = 409
            else:
                messages.success(
                    request, f"Client linked: its tokens now follow {device.asset_tag}'s posture."
                )
                return redirect("devices_posture:device", device_id=device.pk)
    return render(
        request, "devices/posture/client_link.html", {"device": device, "form": form}, status=status
    )


@require_POST
@requires(LINK_PERMISSION)
def client_unlink_page(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _device_or_404(device_id)
    form = ClientUnlinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the client is unlinked.")
        return redirect("devices_posture:device", device_id=device.pk)
    linked = {row.link.application.client_id for row in client_links(device_id=device.pk)}
    if form.cleaned_data["client_id"] not in linked:
        raise Http404
    try:
        client_unlink(
            actor=_actor(request),
            client_id=form.cleaned_data["client_id"],
            reason=form.cleaned_data["reason"],
        )
    except DeviceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Client unlinked: its tokens follow their own device again.")
    return redirect("devices_posture:device", device_id=device.pk)
