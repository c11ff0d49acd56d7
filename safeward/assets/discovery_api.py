"""The PHI discovery REST API (ADR 0810): findings (list, read, triage) and
a scan of a registered share. Patient ids are never returned: a finding
says how many of our patients it holds. A bearer token needs `read` to read
and `write` to triage or scan (ADR 0606)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.assets import discovery_selectors as selectors
from safeward.assets import discovery_services as services
from safeward.assets.models import DiscoveryFinding
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class FindingOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    asset = serializers.IntegerField(source="asset_id")
    path = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    encrypted = serializers.BooleanField()
    protection = serializers.CharField()
    formats = serializers.ListField(child=serializers.CharField())
    counts = serializers.DictField(child=serializers.IntegerField())
    matched_by = serializers.DictField(child=serializers.IntegerField())
    patients_matched = serializers.IntegerField()
    status = serializers.CharField()
    remediation = serializers.CharField()
    resolution_note = serializers.CharField()
    alert = serializers.IntegerField(source="alert_id", allow_null=True)
    scan = serializers.IntegerField(source="scan_id")
    created_at = serializers.DateTimeField()
    triaged_at = serializers.DateTimeField(allow_null=True)


class FindingList(APIView):
    required_permission = Perm.ASSETS_FINDING_READ
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=DiscoveryFinding.Status.values,
                description="Omit for the triage queue (open and confirmed).",
            )
        ],
        responses={200: FindingOutput(many=True), 400: ErrorOutput},
        operation_id="discovery_findings_list",
    )
    def get(self, request: Request) -> Response:
        wanted = str(request.query_params.get("status", ""))
        if wanted and wanted not in DiscoveryFinding.Status.values:
            return Response(
                {"detail": "Check the query.", "errors": {"status": "Not one of the allowed values."}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(FindingOutput(selectors.findings(status=wanted or None)[:500], many=True).data)


class FindingDetail(APIView):
    required_permission = Perm.ASSETS_FINDING_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=FindingOutput, operation_id="discovery_finding_read")
    def get(self, request: Request, finding_id: int) -> Response:
        finding = selectors.finding_get(finding_id=finding_id)
        if finding is None:
            raise Http404
        return Response(FindingOutput(finding).data)


class TriageInput(serializers.Serializer[dict[str, Any]]):
    action = serializers.ChoiceField(choices=services.TRIAGE_ACTIONS)
    remediation = serializers.ChoiceField(
        choices=[value for value in DiscoveryFinding.Remediation.values if value], required=False
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class FindingTriage(APIView):
    required_permission = Perm.ASSETS_FINDING_TRIAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=TriageInput,
        responses={200: FindingOutput, 400: ErrorOutput, 409: ErrorOutput},
        operation_id="discovery_finding_triage",
    )
    def post(self, request: Request, finding_id: int) -> Response:
        if selectors.finding_get(finding_id=finding_id) is None:
            raise Http404
        payload = TriageInput(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            finding = services.finding_triage(
                actor=_actor(request), finding_id=finding_id, **payload.validated_data
            )
        except services.DiscoveryError as error:
            code = status.HTTP_409_CONFLICT if error.field in ("action", "remediation") else 400
            return Response(
                {"detail": error.message, "errors": {error.field or "detail": error.message}}, status=code
            )
        return Response(FindingOutput(finding).data)


class ScanOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.CharField()
    files_seen = serializers.IntegerField()
    files_read = serializers.IntegerField()
    files_unchanged = serializers.IntegerField()
    files_skipped = serializers.IntegerField()
    files_protected = serializers.IntegerField()
    findings_opened = serializers.IntegerField()


class ShareScan(APIView):
    """Scan one registered file share now (small shares; large ones belong to `safeward scan shares`)."""

    required_permission = Perm.ASSETS_DISCOVERY_RUN
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=None, responses={200: ScanOutput, 400: ErrorOutput}, operation_id="discovery_share_scan"
    )
    def post(self, request: Request, asset_id: int) -> Response:
        try:
            summary = services.share_scan(actor=_actor(request), asset_id=asset_id)
        except services.DiscoveryError as error:
            return Response({"detail": error.message}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ScanOutput(summary.scan).data)


urlpatterns = [
    path("findings/", FindingList.as_view(), name="findings"),
    path("findings/<int:finding_id>/", FindingDetail.as_view(), name="finding"),
    path("findings/<int:finding_id>/triage/", FindingTriage.as_view(), name="finding_triage"),
    path("shares/<int:asset_id>/scan/", ShareScan.as_view(), name="share_scan"),
]
