"""The devices pages: the inventory (list with filters, device page, forms,
CSV import), the segments page with the flow matrix, MDS2 statements and
their import, compensating controls with their live-test state and evidence.
Reading takes devices:device:read; the inventory, MDS2 and controls take
devices:device:manage; segments and flows take devices:network:manage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from safeward import clock
from safeward.devices import flow_exports, importers, selectors, services
from safeward.devices.forms import (
    ControlForm,
    DeviceForm,
    EvidenceForm,
    FlowForm,
    LifecycleForm,
    Mds2UploadForm,
    SegmentForm,
    UploadForm,
)
from safeward.devices.models import CompensatingControl, Device
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _device_or_404(device_id: int) -> Device:
    device = selectors.device_get(device_id=device_id)
    if device is None:
        raise Http404("No such device.")
    return device


def _control_or_404(control_id: int) -> CompensatingControl:
    control = selectors.control_get(control_id=control_id)
    if control is None:
        raise Http404("No such control.")
    return control


# --- inventory -------------------------------------------------------------------------------------


class FilterForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, label="Search")
    kind = forms.ChoiceField(choices=[("", "Any kind"), *Device.Kind.choices], required=False)
    lifecycle = forms.ChoiceField(choices=[("", "Any state"), *Device.Lifecycle.choices], required=False)
    legacy = forms.BooleanField(required=False, label="Legacy only")
    no_segment = forms.BooleanField(required=False, label="No segment")
    control = forms.ChoiceField(
        choices=[("", "Any control state"), ("failing", "Control failing"), ("expiring", "Control expiring")],
        required=False,
    )


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def device_list(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound:
        if not form.is_valid():
            return render(request, "devices/list.html", {"form": form, "rows": []}, status=400)
        data = form.cleaned_data
        filters = {
            "kind": data["kind"],
            "lifecycle": data["lifecycle"],
            "legacy": data["legacy"],
            "no_segment": data["no_segment"],
            "control": data["control"],
            "search": data["q"],
        }
    now = clock.now()
    devices = selectors.devices_list(**filters, now=now)[:2000]
    health = selectors.device_health(devices, now=now)
    return render(
        request,
        "devices/list.html",
        {
            "form": form,
            "rows": [(device, health[device.pk]) for device in devices],
            "can_manage": _actor(request).has_perm(Perm.DEVICES_DEVICE_MANAGE),
        },
    )


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def device_detail(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _device_or_404(device_id)
    now = clock.now()
    controls = selectors.controls_for_device(device)
    statement = selectors.statement_for(manufacturer=device.manufacturer, model=device.model)
    return render(
        request,
        "devices/device.html",
        {
            "device": device,
            "health": selectors.device_health([device], now=now)[device.pk],
            "legacy": selectors.device_is_legacy(device, today=now.date()),
            "isolation": selectors.segment_isolation(device.segment),
            "controls": [(c, selectors.control_state(c, now=now)) for c in controls],
            "statement": statement,
            "answers": list(statement.answers.all()) if statement else [],
            "lifecycle_form": LifecycleForm(),
            "can_manage": _actor(request).has_perm(Perm.DEVICES_DEVICE_MANAGE),
        },
    )


def _device_initial(device: Device) -> dict[str, Any]:
    initial = {name: getattr(device, name) for name in DeviceForm.base_fields if name != "segment"}
    initial["segment"] = device.segment_id
    return initial


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_DEVICE_MANAGE)
def device_form(request: HttpRequest, device_id: int | None = None) -> HttpResponse:
    device = _device_or_404(device_id) if device_id is not None else None
    if request.method == "POST":
        form = DeviceForm(request.POST)
        if form.is_valid():
            try:
                if device is None:
                    device = services.device_create(actor=_actor(request), data=form.cleaned_data)
                else:
                    services.device_update(actor=_actor(request), device_id=device.pk, data=form.cleaned_data)
            except services.DeviceError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Device {device.asset_tag} saved.")
                return redirect("devices:device", device.pk)
        return render(request, "devices/device_form.html", {"form": form, "device": device}, status=400)
    form = DeviceForm(initial=_device_initial(device) if device else None)
    return render(request, "devices/device_form.html", {"form": form, "device": device})


@require_POST
@requires(Perm.DEVICES_DEVICE_MANAGE)
def device_lifecycle(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _device_or_404(device_id)
    form = LifecycleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a lifecycle state.")
        return redirect("devices:device", device.pk)
    try:
        services.device_lifecycle_set(
            actor=_actor(request),
            device_id=device.pk,
            state=form.cleaned_data["state"],
            reason=form.cleaned_data["reason"],
        )
    except services.DeviceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Device {device.asset_tag} is now {form.cleaned_data['state']}.")
    return redirect("devices:device", device.pk)


def _import_page(
    request: HttpRequest, *, title: str, help_text: str, columns: tuple[str, ...], run: Any, back: str
) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {
        "form": form,
        "title": title,
        "help": help_text,
        "columns": columns,
        "back": back,
    }
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "devices/import.html", context, status=400)
        result = run(actor=_actor(request), data=form.cleaned_data["file"].read())
        if not result.ok:
            context["errors"] = result.errors
            return render(request, "devices/import.html", context, status=400)
        messages.success(
            request,
            f"Imported: {result.created} created, {result.updated} updated, {result.unchanged} unchanged.",
        )
        return redirect(back)
    return render(request, "devices/import.html", context)


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_DEVICE_MANAGE)
def inventory_import(request: HttpRequest) -> HttpResponse:
    return _import_page(
        request,
        title="Import the device inventory",
        help_text="A UTF-8 CSV; a row whose asset tag is in the inventory updates that device. "
        "If any row is wrong nothing is imported.",
        columns=importers.INVENTORY_COLUMNS,
        run=importers.inventory_import,
        back="devices:list",
    )


# --- segments and flows ----------------------------------------------------------------------------


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def segments(request: HttpRequest) -> HttpResponse:
    rows, columns, cells = selectors.flow_matrix()
    export = selectors.latest_flow_export()
    matrix = [
        (segment, [", ".join(cells.get((segment.pk, column), [])) for column in columns]) for segment in rows
    ]
    return render(
        request,
        "devices/segments.html",
        {
            "matrix": matrix,
            "columns": columns,
            "flows": selectors.flows_list(),
            "isolation": {segment.pk: selectors.segment_isolation(segment) for segment in rows},
            "export": export,
            "undeclared": selectors.observed_flows(export=export, undeclared_only=True) if export else [],
            "can_manage": _actor(request).has_perm(Perm.DEVICES_NETWORK_MANAGE),
            "flow_form": FlowForm(),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_NETWORK_MANAGE)
def segment_new(request: HttpRequest) -> HttpResponse:
    form = SegmentForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.segment_create(actor=_actor(request), data=form.cleaned_data)
            except services.DeviceError as error:
                form.add_error("name", str(error))
            else:
                return redirect("devices:segments")
        return render(request, "devices/segment_form.html", {"form": form}, status=400)
    return render(request, "devices/segment_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_NETWORK_MANAGE)
def flow_new(request: HttpRequest) -> HttpResponse:
    form = FlowForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.flow_create(
                    actor=_actor(request),
                    source_id=data["source"],
                    destination_id=form.destination_id(),
                    port=data["port"],
                    protocol=data["protocol"],
                    purpose=data["purpose"],
                )
            except services.DeviceError as error:
                form.add_error(None, str(error))
            else:
                return redirect("devices:segments")
        return render(request, "devices/flow_form.html", {"form": form}, status=400)
    return render(request, "devices/flow_form.html", {"form": form})


@require_POST
@requires(Perm.DEVICES_NETWORK_MANAGE)
def flow_delete(request: HttpRequest, flow_id: int) -> HttpResponse:
    try:
        services.flow_delete(actor=_actor(request), flow_id=flow_id)
    except services.DeviceError:
        raise Http404("No such flow.") from None
    return redirect("devices:segments")


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_NETWORK_MANAGE)
def flows_import(request: HttpRequest) -> HttpResponse:
    return _import_page(
        request,
        title="Import allowed flows",
        help_text="A UTF-8 CSV, one allowed flow a row; 'to' is a segment name or 'internet'. "
        "Flows already declared are kept; if any row is wrong nothing is imported.",
        columns=importers.FLOW_COLUMNS,
        run=importers.flows_import,
        back="devices:segments",
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_NETWORK_MANAGE)
def flow_export_import(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {
        "form": form,
        "title": "Import a flow export",
        "help": "What the network carried: a firewall log or NetFlow/IPFIX export summarised to CSV by your"
        " collector. Addresses are placed in segments by their CIDR; connections no declared flow allows"
        " show on the segments page and fail the segment live tests. If any row is wrong nothing is"
        " imported.",
        "columns": flow_exports.COLUMNS,
    }
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "devices/import.html", context, status=400)
        upload = form.cleaned_data["file"]
        result = flow_exports.flow_export_import(
            actor=_actor(request), data=upload.read(), filename=str(upload.name)
        )
        if not result.ok:
            context["errors"] = result.errors
            return render(request, "devices/import.html", context, status=400)
        messages.success(
            request,
            f"Flow export imported: {result.rows:,} rows, {result.flows} distinct flows,"
            f" {result.undeclared} not declared.",
        )
        return redirect("devices:segments")
    return render(request, "devices/import.html", context)


# --- MDS2 ------------------------------------------------------------------------------------------


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def mds2_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "devices/mds2_list.html",
        {
            "statements": selectors.statements_list(),
            "can_manage": _actor(request).has_perm(Perm.DEVICES_DEVICE_MANAGE),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_DEVICE_MANAGE)
def mds2_import(request: HttpRequest) -> HttpResponse:
    form = Mds2UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        errors: list[Any] = []
        if form.is_valid():
            upload = form.cleaned_data["file"]
            statement, errors, created = services.mds2_import(
                actor=_actor(request),
                data=upload.read(),
                filename=upload.name or "",
                manufacturer=form.cleaned_data["manufacturer"],
                model=form.cleaned_data["model"],
            )
            if statement is not None:
                messages.success(
                    request, f"MDS2 for {statement} imported; {len(created)} compensating control(s) derived."
                )
                return redirect("devices:mds2", statement.pk)
        return render(request, "devices/mds2_import.html", {"form": form, "errors": errors}, status=400)
    return render(request, "devices/mds2_import.html", {"form": form})


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def mds2_detail(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = selectors.statement_get(statement_id=statement_id)
    if statement is None:
        raise Http404("No such statement.")
    now = clock.now()
    controls = [
        c
        for c in selectors.controls_list()
        if c.device_id is None
        and c.manufacturer.casefold() == statement.manufacturer.casefold()
        and c.model.casefold() == statement.model.casefold()
    ]
    from safeward.devices.mds2 import RULES

    return render(
        request,
        "devices/mds2.html",
        {
            "statement": statement,
            "answers": list(statement.answers.all()),
            "rules": {rule.question_id for rule in RULES},
            "controls": [(c, selectors.control_state(c, now=now)) for c in controls],
            "devices": selectors.devices_of_model(manufacturer=statement.manufacturer, model=statement.model),
        },
    )


# --- compensating controls -------------------------------------------------------------------------


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def control_list(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    return render(
        request,
        "devices/controls.html",
        {
            "rows": [(c, selectors.control_state(c, now=now)) for c in selectors.controls_list()],
            "can_manage": _actor(request).has_perm(Perm.DEVICES_DEVICE_MANAGE),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.DEVICES_DEVICE_MANAGE)
def control_new(request: HttpRequest) -> HttpResponse:
    today = clock.now().date()
    form = ControlForm(
        request.POST or None,
        initial={
            "owner": _actor(request).pk,
            "review_due": today + dt.timedelta(days=30),
            "expires_on": today + dt.timedelta(days=30),
            "device": request.GET.get("device", "")[:64],
        },
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                control = services.control_create(actor=_actor(request), data=form.cleaned_data)
            except services.DeviceError as error:
                form.add_error(None, str(error))
            else:
                return redirect("devices:control", control.pk)
        return render(request, "devices/control_form.html", {"form": form}, status=400)
    return render(request, "devices/control_form.html", {"form": form})


class RenewForm(forms.Form):
    expires_on = forms.DateField(help_text="YYYY-MM-DD")
    note = forms.CharField(max_length=500, required=False)


class RetireForm(forms.Form):
    reason = forms.CharField(max_length=500)


def _control_page(
    request: HttpRequest,
    control: CompensatingControl,
    *,
    evidence_form: EvidenceForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    now = clock.now()
    return render(
        request,
        "devices/control.html",
        {
            "control": control,
            "state": selectors.control_state(control, now=now),
            "devices": selectors.control_devices(control),
            "evidence": selectors.control_evidence(control_id=control.pk),
            "evidence_form": evidence_form or EvidenceForm(),
            "renew_form": RenewForm(initial={"expires_on": control.expires_on}),
            "retire_form": RetireForm(),
            "can_manage": _actor(request).has_perm(Perm.DEVICES_DEVICE_MANAGE),
            "error": error,
        },
        status=status,
    )


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def control_detail(request: HttpRequest, control_id: int) -> HttpResponse:
    return _control_page(request, _control_or_404(control_id))


@require_POST
@requires(Perm.DEVICES_DEVICE_MANAGE)
def evidence_attach(request: HttpRequest, control_id: int) -> HttpResponse:
    control = _control_or_404(control_id)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _control_page(request, control, evidence_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        evidence = services.evidence_attach(
            actor=_actor(request),
            control_id=control.pk,
            filename=upload.name or "evidence",
            content_type=upload.content_type,
            data=upload.read(),
            note=form.cleaned_data["note"],
        )
    except services.DeviceError as error:
        return _control_page(request, control, error=str(error), status=400)
    messages.success(request, f"Evidence {evidence.filename} attached (SHA-256 {evidence.sha256[:12]}…).")
    return redirect("devices:control", control.pk)


@require_GET
@requires(Perm.DEVICES_DEVICE_READ)
def evidence_download(request: HttpRequest, control_id: int, evidence_id: int) -> HttpResponse:
    evidence = selectors.evidence_get(control_id=control_id, evidence_id=evidence_id)
    if evidence is None:
        raise Http404("No such evidence.")
    response = HttpResponse(bytes(evidence.data), content_type=evidence.content_type)
    response["Content-Disposition"] = f'attachment; filename="{evidence.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@requires(Perm.DEVICES_DEVICE_MANAGE)
def control_renew(request: HttpRequest, control_id: int) -> HttpResponse:
    control = _control_or_404(control_id)
    form = RenewForm(request.POST)
    if not form.is_valid():
        return _control_page(request, control, error="Give the new expiry date (YYYY-MM-DD).", status=400)
    try:
        services.control_renew(
            actor=_actor(request),
            control_id=control.pk,
            expires_on=form.cleaned_data["expires_on"],
            note=form.cleaned_data["note"],
        )
    except services.DeviceError as error:
        return _control_page(request, control, error=str(error), status=400)
    return redirect("devices:control", control.pk)


@require_POST
@requires(Perm.DEVICES_DEVICE_MANAGE)
def control_retire(request: HttpRequest, control_id: int) -> HttpResponse:
    control = _control_or_404(control_id)
    form = RetireForm(request.POST)
    if not form.is_valid():
        return _control_page(request, control, error="Say why the control is retired.", status=400)
    try:
        services.control_retire(
            actor=_actor(request), control_id=control.pk, reason=form.cleaned_data["reason"]
        )
    except services.DeviceError as error:
        return _control_page(request, control, error=str(error), status=400)
    return redirect("devices:controls")
