"""The continuity REST API: the dashboard's state (last backup, last restore
test, downtime), the backup list, and the periodic jobs (ADR 1504) with
"run now" for an operator who may (ADR 1505), as `safeward schedule run-due
--only JOB --force` does. Backups are otherwise made and tested by the CLI
on the server."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward import clock
from safeward.continuity import conf, schedule, selectors, services
from safeward.continuity.models import Backup, Downtime, ScheduledRun
from safeward.identity.api import UsableAccount
from safeward.identity.api_permissions import DenyUnlessDeclared, TokenScope
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput


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


class ScheduledRunOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    job = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField()
    outcome = serializers.ChoiceField(choices=ScheduledRun.Outcome.choices)
    exit_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(
        allow_blank=True, help_text="The exception class, or the reason code when waiting; never a message."
    )
    note = serializers.CharField(
        allow_blank=True,
        help_text="What a successful job had to say (nothing to do, part of its work not done); "
        "no patient data.",
    )


class JobOutput(serializers.Serializer[Any]):
    code = serializers.CharField()
    command = serializers.CharField()
    what = serializers.CharField()
    every_minutes = serializers.IntegerField()
    last_run = ScheduledRunOutput(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    next_due_at = serializers.DateTimeField(
        allow_null=True, help_text="Null when it has never run (due at once) or is running."
    )
    due = serializers.BooleanField()
    overdue = serializers.BooleanField(help_text="No success within its cadence plus the grace.")
    failed = serializers.BooleanField(help_text="Its newest run failed.")
    waiting_for = serializers.CharField(
        allow_blank=True, help_text="The next step when its newest run waits."
    )


class RunNowInput(serializers.Serializer[dict[str, Any]]):
    job = serializers.ChoiceField(choices=[job.code for job in schedule.JOBS])


def _job(state: selectors.JobState, now: dt.datetime, grace: dt.timedelta) -> dict[str, Any]:
    return {
        "code": state.job.code,
        "command": state.job.command,
        "what": state.job.what,
        "every_minutes": int(state.job.every.total_seconds() // 60),
        "last_run": state.last,
        "last_success_at": state.last_success.started_at if state.last_success else None,
        "next_due_at": state.next_due_at(),
        "due": state.due(now),
        "overdue": state.overdue(now, grace),
        "failed": state.failed,
        "waiting_for": state.waiting_for,
    }


class ScheduleView(APIView):
    required_permission = Perm.CONTINUITY_STATUS_READ
    token_scopes = {"GET": "read", "POST": "write"}
    permission_classes = [UsableAccount, DenyUnlessDeclared, TokenScope]

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            self.required_permission = Perm.CONTINUITY_SCHEDULE_RUN
        return super().get_permissions()

    @extend_schema(operation_id="continuity_schedule", responses=JobOutput(many=True))
    def get(self, request: Request) -> Response:
        now = clock.now()
        grace = dt.timedelta(minutes=conf.schedule_grace_minutes())
        return Response(
            JobOutput([_job(state, now, grace) for state in selectors.schedule_states()], many=True).data
        )

    @extend_schema(
        operation_id="continuity_schedule_run",
        request=RunNowInput,
        responses={201: ScheduledRunOutput, 400: ErrorOutput, 409: ErrorOutput},
        description="Run one job now, due or not, and answer with its recorded run (outcome "
        "succeeded, failed or waiting). 409 when it is running already.",
    )
    def post(self, request: Request) -> Response:
        payload = RunNowInput(data=request.data)
        payload.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        job = payload.validated_data["job"]
        runs = services.schedule_run_due(actor=request.user, only=[job], force=True)
        if not runs:
            return Response({"detail": f"{job} is running already."}, status=status.HTTP_409_CONFLICT)
        return Response(ScheduledRunOutput(runs[0]).data, status=status.HTTP_201_CREATED)


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
    path("schedule/", ScheduleView.as_view(), name="schedule"),
]
