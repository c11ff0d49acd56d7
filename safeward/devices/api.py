"""The devices REST API under /api/v1/devices/: the inventory (read, create),
segments and flows (read; flows added one by one or from a CSV), compensating
controls with their live-test state, MDS2 statements and their import. One
class per operation; input is validated by the same forms as the pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward import clock
from safeward.devices import flow_exports, importers, selectors, services
from safeward.devices.forms import DeviceForm, FlowForm
from safeward.devices.models import CompensatingControl, Device, Mds2Answer, NetworkSegment, SegmentFlow
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput

MAX_LIST = 5000


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def _form_errors(form: Any) -> dict[str, list[str]]:
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


class InventoryDeviceOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    asset_tag = serializers.CharField()
    kind = serializers.ChoiceField(choices=Device.Kind.choices)
    name = serializers.CharField()
    manufacturer = serializers.CharField()
    model = serializers.CharField()
    serial = serializers.CharField()
    os_name = serializers.CharField()
    os_version = serializers.CharField()
    location = serializers.CharField()
    segment = serializers.CharField(source="segment.name", allow_null=True, default=None)
    ip_address = serializers.CharField(allow_null=True)
    mac_address = serializers.CharField()
    lifecycle = serializers.ChoiceField(choices=Device.Lifecycle.choices)
    end_of_support = serializers.DateField(allow_null=True)
    legacy = serializers.BooleanField(source="is_legacy")
    red = serializers.BooleanField(
        help_text="A covering control fails or expired, or legacy and not isolated."
    )
    reasons = serializers.ListField(child=serializers.CharField())


class InventoryDeviceInput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Device.Kind.choices)
    asset_tag = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    manufacturer = serializers.CharField(max_length=200, required=False, allow_blank=True)
    model = serializers.CharField(max_length=200, required=False, allow_blank=True)
    serial = serializers.CharField(max_length=200, required=False, allow_blank=True)
    os_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    os_version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    location = serializers.CharField(max_length=300, required=False, allow_blank=True)
    segment = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="A segment name."
    )
    ip_address = serializers.CharField(max_length=45, required=False, allow_blank=True)
    mac_address = serializers.CharField(max_length=17, required=False, allow_blank=True)
    end_of_support = serializers.CharField(max_length=10, required=False, allow_blank=True)


def _device_rows(devices: list[Device]) -> list[dict[str, Any]]:
    health = selectors.device_health(devices, now=clock.now())
    for device in devices:
        device.red = health[device.pk].red  # type: ignore[attr-defined]
        device.reasons = health[device.pk].reasons  # type: ignore[attr-defined]
    return list(InventoryDeviceOutput(devices, many=True).data)


class DeviceList(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read", "POST": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            self.required_permission = Perm.DEVICES_DEVICE_MANAGE
        return super().get_permissions()

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=Device.Kind.values),
            OpenApiParameter("lifecycle", str, enum=Device.Lifecycle.values),
            OpenApiParameter("legacy", bool),
            OpenApiParameter("no_segment", bool),
            OpenApiParameter("control", str, enum=["failing", "expiring"]),
        ],
        responses=InventoryDeviceOutput(many=True),
        operation_id="devices_list",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        kind = str(params.get("kind", ""))
        lifecycle = str(params.get("lifecycle", ""))
        control = str(params.get("control", ""))
        if kind and kind not in Device.Kind.values:
            raise ValidationError({"kind": [f"One of {', '.join(Device.Kind.values)}."]})
        if lifecycle and lifecycle not in Device.Lifecycle.values:
            raise ValidationError({"lifecycle": [f"One of {', '.join(Device.Lifecycle.values)}."]})
        if control and control not in ("failing", "expiring"):
            raise ValidationError({"control": ["failing or expiring."]})
        devices = selectors.devices_list(
            kind=kind,
            lifecycle=lifecycle,
            legacy=str(params.get("legacy", "")).lower() in ("1", "true"),
            no_segment=str(params.get("no_segment", "")).lower() in ("1", "true"),
            control=control,
        )[:MAX_LIST]
        return Response(_device_rows(devices))

    @extend_schema(
        request=InventoryDeviceInput,
        responses={201: InventoryDeviceOutput, 400: ErrorOutput},
        operation_id="devices_create",
    )
    def post(self, request: Request) -> Response:
        payload = InventoryDeviceInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        segment_name = data.pop("segment", "")
        if segment_name:
            segment = NetworkSegment.objects.filter(name=segment_name).first()
            if segment is None:
                raise ValidationError({"segment": ["No segment with this name."]})
            data["segment"] = str(segment.pk)
        form = DeviceForm(data)
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        try:
            device = services.device_create(actor=_actor(request), data=form.cleaned_data)
        except services.DeviceError as error:
            raise ValidationError({"asset_tag": [str(error)]}) from None
        found = selectors.device_get(device_id=device.pk)
        assert found is not None
        return Response(_device_rows([found])[0], status=status.HTTP_201_CREATED)


class DeviceDetail(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=InventoryDeviceOutput, operation_id="devices_read")
    def get(self, request: Request, device_id: int) -> Response:
        device = selectors.device_get(device_id=device_id)
        if device is None:
            raise Http404
        return Response(_device_rows([device])[0])


class NetworkSegmentOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    zone = serializers.ChoiceField(choices=NetworkSegment.Zone.choices)
    vlan = serializers.IntegerField(allow_null=True)
    cidr = serializers.CharField()
    isolated = serializers.SerializerMethodField()

    def get_isolated(self, segment: NetworkSegment) -> bool:
        return not selectors.segment_isolation(segment)


class SegmentList(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=NetworkSegmentOutput(many=True), operation_id="devices_segments_list")
    def get(self, request: Request) -> Response:
        return Response(NetworkSegmentOutput(selectors.segments_list(), many=True).data)


class SegmentFlowOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    from_segment = serializers.CharField(source="source.name")
    destination = serializers.CharField(source="destination_label", help_text='A segment name or "internet".')
    port = serializers.IntegerField(allow_null=True)
    protocol = serializers.ChoiceField(choices=SegmentFlow.Protocol.choices)
    purpose = serializers.CharField()


class SegmentFlowInput(serializers.Serializer[Any]):
    from_segment = serializers.CharField(max_length=100, help_text="A segment name.")
    destination = serializers.CharField(max_length=100, help_text='A segment name or "internet".')
    port = serializers.IntegerField(min_value=0, max_value=65535, required=False, allow_null=True)
    protocol = serializers.ChoiceField(choices=SegmentFlow.Protocol.choices)
    purpose = serializers.CharField(max_length=300)


class FlowList(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read", "POST": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            self.required_permission = Perm.DEVICES_NETWORK_MANAGE
        return super().get_permissions()

    @extend_schema(responses=SegmentFlowOutput(many=True), operation_id="devices_flows_list")
    def get(self, request: Request) -> Response:
        return Response(SegmentFlowOutput(selectors.flows_list(), many=True).data)

    @extend_schema(
        request=SegmentFlowInput,
        responses={201: SegmentFlowOutput, 400: ErrorOutput},
        operation_id="devices_flows_create",
    )
    def post(self, request: Request) -> Response:
        payload = SegmentFlowInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        by_name = {s.name: s.pk for s in selectors.segments_list()}
        if data["from_segment"] not in by_name:
            raise ValidationError({"from_segment": ["No segment with this name."]})
        if data["destination"] != "internet" and data["destination"] not in by_name:
            raise ValidationError({"destination": ['No segment with this name (or "internet").']})
        form = FlowForm(
            {
                "source": by_name[data["from_segment"]],
                "destination": by_name.get(data["destination"], "internet"),
                "port": data.get("port") if data.get("port") is not None else "",
                "protocol": data["protocol"],
                "purpose": data["purpose"],
            }
        )
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        try:
            flow = services.flow_create(
                actor=_actor(request),
                source_id=form.cleaned_data["source"],
                destination_id=form.destination_id(),
                port=form.cleaned_data["port"],
                protocol=form.cleaned_data["protocol"],
                purpose=form.cleaned_data["purpose"],
            )
        except services.DeviceError as error:
            raise ValidationError({"detail": [str(error)]}) from None
        return Response(SegmentFlowOutput(flow).data, status=status.HTTP_201_CREATED)


class DevicesRowError(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    reason = serializers.CharField()


class DevicesImportOutput(serializers.Serializer[Any]):
    applied = serializers.BooleanField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = DevicesRowError(many=True)  # type: ignore[assignment]  # a field named like Serializer.errors


class DevicesCsvInput(serializers.Serializer[Any]):
    csv = serializers.CharField(max_length=importers.MAX_BYTES, trim_whitespace=False, allow_blank=True)


def _import_response(result: importers.ImportResult) -> Response:
    body = {
        "applied": result.ok,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "errors": result.errors,
    }
    return Response(
        DevicesImportOutput(body).data,
        status=status.HTTP_200_OK if result.ok else status.HTTP_400_BAD_REQUEST,
    )


_IMPORT_RESPONSES = {
    200: DevicesImportOutput,
    400: PolymorphicProxySerializer(
        component_name="DevicesImportRefused",
        serializers=[DevicesImportOutput, ErrorOutput],
        resource_type_field_name=None,
    ),
}


class FlowImport(APIView):
    """All or nothing, like the page: any bad row refuses the file."""

    required_permission = Perm.DEVICES_NETWORK_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(request=DevicesCsvInput, responses=_IMPORT_RESPONSES, operation_id="devices_flows_import")
    def post(self, request: Request) -> Response:
        payload = DevicesCsvInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _import_response(
            importers.flows_import(actor=_actor(request), data=payload.validated_data["csv"].encode())
        )


class DevicesFlowExportOutput(serializers.Serializer[Any]):
    applied = serializers.BooleanField()
    export = serializers.IntegerField(allow_null=True)
    rows = serializers.IntegerField()
    flows = serializers.IntegerField(help_text="Distinct (source segment, destination, service) flows.")
    undeclared = serializers.IntegerField(help_text="Flows from a segment that no declared flow allows.")
    errors = DevicesRowError(many=True)  # type: ignore[assignment]  # a field named like Serializer.errors


class DevicesFlowExportInput(serializers.Serializer[Any]):
    csv = serializers.CharField(
        max_length=importers.MAX_BYTES,
        trim_whitespace=False,
        help_text="src_ip, dst_ip, dst_port, protocol[, count, last_seen]; larger exports: the CLI.",
    )
    filename = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class FlowExportImport(APIView):
    """What the network carried, all rows or none; the segment live tests read the latest."""

    required_permission = Perm.DEVICES_NETWORK_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=DevicesFlowExportInput,
        responses={
            200: DevicesFlowExportOutput,
            400: PolymorphicProxySerializer(
                component_name="DevicesFlowExportRefused",
                serializers=[DevicesFlowExportOutput, ErrorOutput],
                resource_type_field_name=None,
            ),
        },
        operation_id="devices_flow_exports_import",
    )
    def post(self, request: Request) -> Response:
        payload = DevicesFlowExportInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = flow_exports.flow_export_import(
            actor=_actor(request), data=data["csv"].encode(), filename=data["filename"]
        )
        body = {
            "applied": result.ok,
            "export": result.export.pk if result.export else None,
            "rows": result.rows,
            "flows": result.flows,
            "undeclared": result.undeclared,
            "errors": result.errors,
        }
        return Response(
            DevicesFlowExportOutput(body).data,
            status=status.HTTP_200_OK if result.ok else status.HTTP_400_BAD_REQUEST,
        )


class InventoryImport(APIView):
    required_permission = Perm.DEVICES_DEVICE_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=DevicesCsvInput, responses=_IMPORT_RESPONSES, operation_id="devices_inventory_import"
    )
    def post(self, request: Request) -> Response:
        payload = DevicesCsvInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return _import_response(
            importers.inventory_import(actor=_actor(request), data=payload.validated_data["csv"].encode())
        )


class CompensatingControlOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    resource_id = serializers.CharField(help_text="The id control tests and compliance exceptions use.")
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=CompensatingControl.Kind.choices)
    remediation = serializers.ChoiceField(choices=CompensatingControl.Remediation.choices)
    owner = serializers.CharField(source="owner.username")
    device = serializers.CharField(source="device.asset_tag", allow_null=True, default=None)
    manufacturer = serializers.CharField()
    model = serializers.CharField()
    mds2_question = serializers.CharField()
    test = serializers.ChoiceField(choices=CompensatingControl.Test.choices)
    review_due = serializers.DateField()
    expires_on = serializers.DateField()
    state = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()

    def get_state(self, control: CompensatingControl) -> str:
        return selectors.control_state(control).state

    def get_reason(self, control: CompensatingControl) -> str:
        return selectors.control_state(control).reason


class ControlList(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=CompensatingControlOutput(many=True), operation_id="devices_controls_list")
    def get(self, request: Request) -> Response:
        return Response(CompensatingControlOutput(selectors.controls_list()[:MAX_LIST], many=True).data)


class Mds2AnswerOutput(serializers.Serializer[Any]):
    question_id = serializers.CharField()
    value = serializers.ChoiceField(choices=Mds2Answer.Value.choices)
    note = serializers.CharField()


class Mds2StatementOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    manufacturer = serializers.CharField()
    model = serializers.CharField()
    document_version = serializers.CharField()
    source_sha256 = serializers.CharField()
    imported_at = serializers.DateTimeField()
    answers = Mds2AnswerOutput(many=True, source="answers.all")


class Mds2ImportInput(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text="The filled MDS2 workbook (xlsx) or a CSV of Question ID, Answer, Note."
    )
    manufacturer = serializers.CharField(max_length=200, required=False, allow_blank=True)
    model = serializers.CharField(max_length=200, required=False, allow_blank=True)


class Mds2ImportOutput(serializers.Serializer[Any]):
    applied = serializers.BooleanField()
    statement = Mds2StatementOutput(allow_null=True)
    controls = CompensatingControlOutput(many=True)
    errors = DevicesRowError(many=True)  # type: ignore[assignment]  # a field named like Serializer.errors


class Mds2List(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=Mds2StatementOutput(many=True), operation_id="devices_mds2_list")
    def get(self, request: Request) -> Response:
        return Response(Mds2StatementOutput(selectors.statements_list(), many=True).data)


class Mds2Import(APIView):
    """All or nothing: with any bad row nothing is stored and no control derived."""

    required_permission = Perm.DEVICES_DEVICE_MANAGE
    token_scopes = {"POST": "write"}
    parser_classes = [MultiPartParser]  # a file upload only: JSON is refused with 415

    @extend_schema(
        request={"multipart/form-data": Mds2ImportInput},
        responses={201: Mds2ImportOutput, 400: Mds2ImportOutput},
        operation_id="devices_mds2_import",
    )
    def post(self, request: Request) -> Response:
        payload = Mds2ImportInput(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        statement, errors, created = services.mds2_import(
            actor=_actor(request),
            data=upload.read(),
            filename=upload.name or "",
            manufacturer=payload.validated_data.get("manufacturer", ""),
            model=payload.validated_data.get("model", ""),
        )
        body = {
            "applied": statement is not None,
            "statement": statement,
            "controls": created,
            "errors": errors,
        }
        return Response(
            Mds2ImportOutput(body).data,
            status=status.HTTP_201_CREATED if statement is not None else status.HTTP_400_BAD_REQUEST,
        )


urlpatterns = [
    path("", DeviceList.as_view(), name="devices"),
    path("<int:device_id>/", DeviceDetail.as_view(), name="device"),
    path("import/", InventoryImport.as_view(), name="inventory_import"),
    path("segments/", SegmentList.as_view(), name="segments"),
    path("flows/", FlowList.as_view(), name="flows"),
    path("flows/import/", FlowImport.as_view(), name="flows_import"),
    path("flows/observed/import/", FlowExportImport.as_view(), name="flow_export_import"),
    path("controls/", ControlList.as_view(), name="controls"),
    path("mds2/", Mds2List.as_view(), name="mds2"),
    path("mds2/import/", Mds2Import.as_view(), name="mds2_import"),
]
