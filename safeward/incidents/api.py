"""The incident cases' REST API, read-only (ADR 1404): the list of cases and
one case with its tasks, timeline, evidence metadata and breach clock
(counts and deadlines, never a patient id). For a SIEM or a GRC tool; cases
change on the pages, where every change is a reviewed form."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward import clock
from safeward.identity.permissions import Perm
from safeward.incidents import case_services, selectors
from safeward.incidents.models import BreachAssessment, Incident

PAGE_SIZE = 100


class IncidentOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    category = serializers.ChoiceField(choices=Incident.Category.choices)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices)
    status = serializers.ChoiceField(choices=Incident.Status.choices)
    is_exercise = serializers.BooleanField()
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    owner_id = serializers.IntegerField(allow_null=True)
    reviewer_id = serializers.IntegerField(allow_null=True)


class TaskOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    done_at = serializers.DateTimeField(allow_null=True)


class TimelineOutput(serializers.Serializer[Any]):
    occurred_at = serializers.DateTimeField()
    time_zone = serializers.CharField()
    kind = serializers.CharField()
    text = serializers.CharField()
    for_report = serializers.BooleanField()


class EvidenceOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    acquired_at = serializers.DateTimeField()


class DeadlineOutput(serializers.Serializer[Any]):
    code = serializers.CharField()
    notice = serializers.CharField()
    due = serializers.DateTimeField()
    basis = serializers.CharField()
    example = serializers.BooleanField(help_text="From a state row marked as an example for legal review.")
    state = serializers.CharField()


class BreachOutput(serializers.Serializer[Any]):
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    affected = serializers.IntegerField()
    by_state = serializers.DictField(child=serializers.IntegerField())
    stale_contacts = serializers.IntegerField()
    discovered_at = serializers.DateTimeField(allow_null=True)
    discovery_override_at = serializers.DateTimeField(allow_null=True)
    gdpr_applies = serializers.BooleanField()
    deadlines = serializers.SerializerMethodField()

    @extend_schema_field(DeadlineOutput(many=True))
    def get_deadlines(self, breach: BreachAssessment) -> list[dict[str, Any]]:
        now = clock.now()
        return [
            {
                "code": deadline.code,
                "notice": deadline.label,
                "due": deadline.due,
                "basis": deadline.basis,
                "example": deadline.example,
                "state": deadline.state(now),
            }
            for deadline in case_services.breach_deadlines(breach)
        ]


class IncidentDetailOutput(IncidentOutput):
    summary = serializers.CharField()
    lessons_learned = serializers.CharField()
    tasks = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()
    breach = serializers.SerializerMethodField()

    @extend_schema_field(TaskOutput(many=True))
    def get_tasks(self, incident: Incident) -> list[dict[str, Any]]:
        return list(TaskOutput(selectors.case_tasks(incident_id=int(incident.pk)), many=True).data)

    @extend_schema_field(TimelineOutput(many=True))
    def get_timeline(self, incident: Incident) -> list[dict[str, Any]]:
        return list(TimelineOutput(selectors.case_timeline(incident_id=int(incident.pk)), many=True).data)

    @extend_schema_field(EvidenceOutput(many=True))
    def get_evidence(self, incident: Incident) -> list[dict[str, Any]]:
        return list(EvidenceOutput(selectors.case_evidence(incident_id=int(incident.pk)), many=True).data)

    @extend_schema_field(BreachOutput(allow_null=True))
    def get_breach(self, incident: Incident) -> dict[str, Any] | None:
        breach = selectors.case_breach(incident_id=int(incident.pk))
        return dict(BreachOutput(breach).data) if breach is not None else None


class IncidentList(APIView):
    required_permission = Perm.INCIDENT_RECORD_READ
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Incident.Status.values),
            OpenApiParameter("before", int, description="Continue before this id (newest first)."),
        ],
        responses=IncidentOutput(many=True),
        operation_id="incidents_list",
    )
    def get(self, request: Request) -> Response:
        status = str(request.query_params.get("status", ""))
        if status and status not in Incident.Status.values:
            raise ValidationError({"status": ["Not one of the statuses."]})
        before = str(request.query_params.get("before", ""))
        if before and (not before.isdigit() or len(before) > 18):
            raise ValidationError({"before": ["An incident id."]})
        rows, _ = selectors.incidents_page(
            status=status, before_id=int(before) if before else None, size=PAGE_SIZE
        )
        return Response(IncidentOutput(rows, many=True).data)


class IncidentDetail(APIView):
    required_permission = Perm.INCIDENT_RECORD_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=IncidentDetailOutput, operation_id="incidents_read")
    def get(self, request: Request, incident_id: int) -> Response:
        incident = selectors.incident_get(incident_id=incident_id)
        if incident is None:
            raise Http404
        return Response(IncidentDetailOutput(incident).data)


urlpatterns = [
    path("", IncidentList.as_view(), name="incidents"),
    path("<int:incident_id>/", IncidentDetail.as_view(), name="incident"),
]
