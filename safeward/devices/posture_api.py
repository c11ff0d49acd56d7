"""The posture REST API under /api/v1/devices/posture/: import an MDM export (an MDM
connector posts it; bodies are capped at DATA_UPLOAD_MAX_MEMORY_SIZE, larger exports
go through the CLI or the watched folder), read a device's posture and history, and
report a device lost or stolen, link OAuth clients to devices (ADR 1018). One class per
operation, each declaring its permission and what a bearer token needs."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward import clock
from safeward.devices import posture_selectors as selectors
from safeward.devices.models import Device, PostureSource
from safeward.devices.oauth_links import LINK_PERMISSION, client_link, client_links, client_unlink
from safeward.devices.posture import PostureImportError, device_report_lost, posture_import, source_detect
from safeward.devices.services import DeviceError
from safeward.devices.wipes import wipe_confirm, wipe_state
from safeward.identity.models import User
from safeward.identity.permissions import Perm


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class PostureImportInput(serializers.Serializer[Any]):
    format = serializers.ChoiceField(
        choices=PostureSource.choices, required=False, help_text="Recognised from the content if omitted."
    )
    filename = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    content = serializers.CharField(
        min_length=1,
        trim_whitespace=False,
        help_text="The export's text: Fleet JSON, Intune CSV or Jamf CSV.",
    )


class PostureImportOutput(serializers.Serializer[Any]):
    import_id = serializers.UUIDField()
    source = serializers.ChoiceField(choices=PostureSource.choices)  # type: ignore[assignment]  # a field named like Field.source
    rows = serializers.IntegerField()
    imported = serializers.IntegerField()
    compliant = serializers.IntegerField()
    non_compliant = serializers.IntegerField()
    unmatched_count = serializers.IntegerField(help_text="Rows naming a device not in the inventory.")
    unmatched = serializers.ListField(child=serializers.CharField(), help_text="The first 50 of them.")
    wipes_confirmed = serializers.IntegerField(help_text="Open wipe requests the export reports done.")


class PostureImports(APIView):
    required_permission = Perm.DEVICES_DEVICE_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=PostureImportInput,
        responses={201: PostureImportOutput},
        operation_id="devices_posture_imports_create",
        description="All or nothing: a 400 lists each bad row (`errors.content`) and saves nothing.",
    )
    def post(self, request: Request) -> Response:
        given = PostureImportInput(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data["content"].encode("utf-8")
        filename = given.validated_data["filename"]
        try:
            source = given.validated_data.get("format") or source_detect(filename=filename, data=data)
            result = posture_import(actor=_actor(request), source=source, data=data, filename=filename)
        except PostureImportError as error:
            raise ValidationError({"content": error.errors[:200]}) from error
        return Response(PostureImportOutput(result).data, status=status.HTTP_201_CREATED)


class PostureReportOutput(serializers.Serializer[Any]):
    source = serializers.ChoiceField(choices=PostureSource.choices)  # type: ignore[assignment]  # a field named like Field.source
    import_id = serializers.UUIDField()
    imported_at = serializers.DateTimeField()
    disk_encrypted = serializers.BooleanField(allow_null=True)
    passcode_set = serializers.BooleanField(allow_null=True)
    os_version = serializers.CharField()
    jailbroken = serializers.BooleanField(allow_null=True)
    last_check_in = serializers.DateTimeField(allow_null=True)
    compliant = serializers.BooleanField()
    compliance_reasons = serializers.ListField(child=serializers.CharField())


class PostureCurrentOutput(serializers.Serializer[Any]):
    source = serializers.ChoiceField(choices=PostureSource.choices)  # type: ignore[assignment]  # a field named like Field.source
    disk_encrypted = serializers.BooleanField(allow_null=True)
    passcode_set = serializers.BooleanField(allow_null=True)
    os_version = serializers.CharField()
    jailbroken = serializers.BooleanField(allow_null=True)
    last_check_in = serializers.DateTimeField(allow_null=True)
    compliant = serializers.BooleanField()
    compliance_reasons = serializers.ListField(child=serializers.CharField())


class PostureOutput(serializers.Serializer[Any]):
    device = serializers.IntegerField(source="device.pk")
    asset_tag = serializers.CharField(source="device.asset_tag")
    lifecycle = serializers.ChoiceField(source="device.lifecycle", choices=Device.Lifecycle.choices)
    current = PostureCurrentOutput(allow_null=True)
    stale = serializers.BooleanField(
        help_text="The last check-in is older than SAFEWARD_POSTURE_CHECK_IN_DAYS."
    )
    history = PostureReportOutput(many=True)


class DevicePostureDetail(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=PostureOutput, operation_id="devices_posture_read")
    def get(self, request: Request, device_id: int) -> Response:
        device = selectors.posture_device_get(device_id=device_id)
        if device is None:
            raise Http404
        return Response(PostureOutput(selectors.posture_panel(device=device)).data)


class DeviceLostInput(serializers.Serializer[Any]):
    state = serializers.ChoiceField(
        choices=[(Device.Lifecycle.LOST, "Lost"), (Device.Lifecycle.STOLEN, "Stolen")]
    )
    reason = serializers.CharField(min_length=1, max_length=500)


class DeviceLostOutput(serializers.Serializer[Any]):
    wipe_request = serializers.IntegerField(source="wipe.pk")
    sessions_ended = serializers.IntegerField()
    tokens_revoked = serializers.IntegerField()
    incident = serializers.IntegerField(source="incident_id")


class DeviceReportLost(APIView):
    required_permission = Perm.DEVICES_DEVICE_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=DeviceLostInput, responses={201: DeviceLostOutput}, operation_id="devices_posture_report_lost"
    )
    def post(self, request: Request, device_id: int) -> Response:
        device = selectors.posture_device_get(device_id=device_id)
        if device is None:
            raise Http404
        given = DeviceLostInput(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            report = device_report_lost(
                actor=_actor(request),
                device_id=device.pk,
                state=given.validated_data["state"],
                reason=given.validated_data["reason"],
            )
        except DeviceError as error:
            raise ValidationError({"state": [str(error)]}) from error
        return Response(DeviceLostOutput(report).data, status=status.HTTP_201_CREATED)


class WipeOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="wipe.pk")
    device = serializers.IntegerField(source="wipe.device_id")
    asset_tag = serializers.CharField(source="wipe.device.asset_tag")
    requested_at = serializers.DateTimeField(source="wipe.requested_at")
    incident = serializers.IntegerField(source="wipe.incident_id", allow_null=True)
    state = serializers.ChoiceField(
        choices=["confirmed", "pending", "overdue"],
        help_text="overdue: unconfirmed SAFEWARD_WIPE_CONFIRM_HOURS after the request.",
    )
    confirmed_at = serializers.DateTimeField(source="wipe.confirmed_at", allow_null=True)
    confirmation_source = serializers.CharField(source="wipe.confirmation_source")


class Wipes(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=WipeOutput(many=True), operation_id="devices_posture_wipes_list")
    def get(self, request: Request) -> Response:
        return Response(WipeOutput(selectors.wipe_rows(), many=True).data)


class WipeConfirmInput(serializers.Serializer[Any]):
    note = serializers.CharField(min_length=1, max_length=500, help_text="How you know it was wiped.")


class WipeConfirm(APIView):
    required_permission = Perm.DEVICES_DEVICE_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=WipeConfirmInput,
        responses={200: WipeOutput},
        operation_id="devices_posture_wipe_confirm",
        description="A person confirms a wipe the MDM cannot report; 400 when already confirmed.",
    )
    def post(self, request: Request, wipe_id: int) -> Response:
        wipe = selectors.wipe_get(wipe_id=wipe_id)
        if wipe is None:
            raise Http404
        given = WipeConfirmInput(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            wipe = wipe_confirm(actor=_actor(request), wipe_id=wipe.pk, note=given.validated_data["note"])
        except DeviceError as error:
            raise ValidationError({"note": [str(error)]}) from error
        row = selectors.WipeRow(wipe, wipe_state(wipe, now=clock.now()))
        return Response(WipeOutput(row).data)


# --- OAuth clients on a device (ADR 1018) -----------------------------------------------------------
class ClientLinkOutput(serializers.Serializer[Any]):
    device = serializers.IntegerField(source="link.device_id")
    asset_tag = serializers.CharField(source="link.device.asset_tag")
    client_id = serializers.CharField(source="link.application.client_id")
    client_name = serializers.CharField(source="link.application.name")
    posture = serializers.ChoiceField(
        choices=["compliant", "unmanaged", "non_compliant", "lost"],
        help_text="The device's posture now: every token of the client is judged by it.",
    )
    linked_at = serializers.DateTimeField(source="link.linked_at")
    reason = serializers.CharField(source="link.reason")


class ClientLinkInput(serializers.Serializer[Any]):
    device = serializers.IntegerField(min_value=1)
    client_id = serializers.CharField(min_length=1, max_length=100)
    reason = serializers.CharField(min_length=1, max_length=500)


class ClientUnlinkInput(serializers.Serializer[Any]):
    client_id = serializers.CharField(min_length=1, max_length=100)
    reason = serializers.CharField(min_length=1, max_length=500)


class ClientUnlinkOutput(serializers.Serializer[Any]):
    device = serializers.IntegerField()
    client_id = serializers.CharField()


def _link_error(error: DeviceError) -> ValidationError:
    text = str(error)
    field = "device" if "device" in text.lower() and "client" not in text.lower() else "client_id"
    return ValidationError({field: [text]})


class ClientLinks(APIView):
    required_permission = Perm.DEVICES_DEVICE_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=ClientLinkOutput(many=True), operation_id="devices_client_links_list")
    def get(self, request: Request) -> Response:
        return Response(ClientLinkOutput(client_links(), many=True).data)


class ClientLink(APIView):
    required_permission = LINK_PERMISSION
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=ClientLinkInput,
        responses={201: ClientLinkOutput},
        operation_id="devices_client_links_create",
        description="A security officer links a kiosk or shared-workstation OAuth client to the "
        "device its credentials live on; 400 for an unknown or revoked client, a device not in "
        "service, or a client already linked.",
    )
    def post(self, request: Request) -> Response:
        given = ClientLinkInput(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            link = client_link(
                actor=_actor(request),
                device_id=data["device"],
                client_id=data["client_id"],
                reason=data["reason"],
            )
        except DeviceError as error:
            raise _link_error(error) from error
        row = next(r for r in client_links(device_id=link.device_id) if r.link.pk == link.pk)
        return Response(ClientLinkOutput(row).data, status=status.HTTP_201_CREATED)


class ClientUnlink(APIView):
    required_permission = LINK_PERMISSION
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=ClientUnlinkInput,
        responses={200: ClientUnlinkOutput},
        operation_id="devices_client_links_unlink",
        description="End a client's link; 400 when it is not linked.",
    )
    def post(self, request: Request) -> Response:
        given = ClientUnlinkInput(data=request.data)
        given.is_valid(raise_exception=True)
        client_id = given.validated_data["client_id"]
        try:
            device = client_unlink(
                actor=_actor(request), client_id=client_id, reason=given.validated_data["reason"]
            )
        except DeviceError as error:
            raise ValidationError({"client_id": [str(error)]}) from error
        return Response(ClientUnlinkOutput({"device": device.pk, "client_id": client_id}).data)


urlpatterns = [
    path("imports/", PostureImports.as_view(), name="imports"),
    path("devices/<int:device_id>/", DevicePostureDetail.as_view(), name="device"),
    path("devices/<int:device_id>/report-lost/", DeviceReportLost.as_view(), name="report_lost"),
    path("wipes/", Wipes.as_view(), name="wipes"),
    path("client-links/", ClientLinks.as_view(), name="client_links"),
    path("client-links/link/", ClientLink.as_view(), name="client_link"),
    path("client-links/unlink/", ClientUnlink.as_view(), name="client_unlink"),
    path("wipes/<int:wipe_id>/confirm/", WipeConfirm.as_view(), name="wipe_confirm"),
]
