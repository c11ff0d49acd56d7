"""The continuity REST API, read-only: the dashboard's state (last backup,
last restore test, downtime) and the backup list. Backups are made and
tested by the CLI on the server, never over HTTP."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.continuity import selectors
from safeward.continuity.models import Backup, Downtime
from safeward.identity.api import UsableAccount
from safeward.identity.api_permissions import DenyUnlessDeclared, TokenScope
from safeward.identity.permissions import Perm


class BackupOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    engine = serializers.CharField()
    state = serializers.ChoiceField(choices=Backup.State.choices)
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    tables = serializers.IntegerField()
    rows = serializers.IntegerField()
    documents = serializers.IntegerField()
    duration_seconds = serializers.FloatField()


class RestoreTestOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    backup = serializers.UUIDField(source="backup_id")
    started_at = serializers.DateTimeField()
    passed = serializers.BooleanField()
    duration_seconds = serializers.FloatField()
    rows_checked = serializers.IntegerField()
    audit_events_verified = serializers.IntegerField()
    phi_values_decrypted = serializers.IntegerField()
    problems = serializers.ListField(child=serializers.CharField())


class DowntimeOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Downtime.Kind.choices)
    state = serializers.ChoiceField(choices=Downtime.State.choices)
    reason = serializers.CharField()
    declared_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)


class KitFreshnessOutput(serializers.Serializer[Any]):
    ward_code = serializers.CharField(source="unit.ward_code")
    ward_name = serializers.CharField(source="unit.ward_name")
    last_kit_at = serializers.DateTimeField(source="last.generated_at", allow_null=True, default=None)
    patients = serializers.IntegerField(source="last.patients", allow_null=True, default=None)


class StatusOutput(serializers.Serializer[Any]):
    last_backup = BackupOutput(allow_null=True)
    last_restore_test = RestoreTestOutput(allow_null=True)
    downtime = DowntimeOutput(allow_null=True)
    kits = KitFreshnessOutput(many=True)


class ServiceAssetOutput(serializers.Serializer[Any]):
    name = serializers.CharField()
    criticality = serializers.CharField()
    rto_minutes = serializers.IntegerField(allow_null=True)
    rpo_minutes = serializers.IntegerField(allow_null=True)
    depends_on = serializers.ListField(child=serializers.CharField())


class ServiceImpactOutput(serializers.Serializer[Any]):
    service = serializers.CharField()
    rto_minutes = serializers.IntegerField(allow_null=True)
    rpo_minutes = serializers.IntegerField(allow_null=True)
    assets = ServiceAssetOutput(many=True)
    gaps = serializers.ListField(child=serializers.CharField())


class StatusView(APIView):
    required_permission = Perm.CONTINUITY_STATUS_READ
    token_scopes = {"GET": "read"}
    permission_classes = [UsableAccount, DenyUnlessDeclared, TokenScope]

    @extend_schema(operation_id="continuity_status", responses=StatusOutput)
    def get(self, request: Request) -> Response:
        status = selectors.continuity_status()
        return Response(
            StatusOutput(
                {
                    "last_backup": status.last_backup,
                    "last_restore_test": status.last_restore_test,
                    "downtime": status.downtime,
                    "kits": selectors.kits_freshness(),
                }
            ).data
        )


class BackupList(APIView):
    required_permission = Perm.CONTINUITY_STATUS_READ
    token_scopes = {"GET": "read"}
    permission_classes = [UsableAccount, DenyUnlessDeclared, TokenScope]

    @extend_schema(operation_id="continuity_backups", responses=BackupOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(BackupOutput(selectors.backups_recent(limit=100), many=True).data)


class ImpactList(APIView):
    required_permission = Perm.CONTINUITY_STATUS_READ
    token_scopes = {"GET": "read"}
    permission_classes = [UsableAccount, DenyUnlessDeclared, TokenScope]

    @extend_schema(operation_id="continuity_bia", responses=ServiceImpactOutput(many=True))
    def get(self, request: Request) -> Response:
        from safeward.continuity.bia import impact_analysis

        return Response(ServiceImpactOutput(impact_analysis(), many=True).data)


urlpatterns = [
    path("status/", StatusView.as_view(), name="status"),
    path("backups/", BackupList.as_view(), name="backups"),
    path("bia/", ImpactList.as_view(), name="bia"),
]
