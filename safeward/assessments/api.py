"""The compliance REST API: control runs (list, read, trigger), each
framework's computed per-clause table, a run's control results with their
failing resources, and exceptions (list, request, approve, revoke). One
class per operation, each declaring its permission and what a bearer token
needs (`read` / `write`)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.assessments import scoring, selectors, services
from safeward.assessments.forms import ExceptionRequestForm, ExceptionRevokeForm
from safeward.assessments.maturity import current_maturity
from safeward.assessments.models import ControlException, ControlResult, ControlRun
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput

MAX_CONTROL_IDS = 200


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class RunOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    trigger = serializers.ChoiceField(choices=ControlRun.Trigger.choices)
    actor = serializers.CharField(source="actor_username", help_text="Empty: the scheduler.")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    only = serializers.ListField(child=serializers.CharField())
    controls_total = serializers.IntegerField()
    controls_passed = serializers.IntegerField()
    controls_failed = serializers.IntegerField()
    controls_error = serializers.IntegerField()
    controls_not_applicable = serializers.IntegerField()
    resources_total = serializers.IntegerField()
    resources_failed = serializers.IntegerField()
    snapshot_sha256 = serializers.CharField()
    key_id = serializers.CharField()


class ResultOutput(serializers.Serializer[Any]):
    run_id = serializers.IntegerField()
    control_id = serializers.CharField()
    title = serializers.CharField()
    maps = serializers.ListField(child=serializers.CharField())
    outcome = serializers.ChoiceField(choices=ControlResult.Outcome.choices)
    resources_total = serializers.IntegerField()
    resources_failed = serializers.IntegerField()
    resources_excepted = serializers.IntegerField()
    duration_ms = serializers.IntegerField()
    error = serializers.CharField(help_text="The exception class of a test that raised (never its message).")


class ResourceOutput(serializers.Serializer[Any]):
    resource_type = serializers.CharField()
    resource_id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    passed = serializers.BooleanField()
    excepted = serializers.BooleanField()
    exception_id = serializers.IntegerField(allow_null=True)
    evidence = serializers.DictField()


class ResultDetailOutput(ResultOutput):
    failing = ResourceOutput(many=True)


class RunDetailOutput(RunOutput):
    verified = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())
    results = ResultOutput(many=True)


class RunInput(serializers.Serializer[dict[str, Any]]):
    only = serializers.ListField(
        child=serializers.CharField(max_length=120),
        required=False,
        max_length=MAX_CONTROL_IDS,
        help_text="Control ids to run; none: every registered test.",
    )


class EntryOutput(serializers.Serializer[Any]):
    ref = serializers.CharField()
    id = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.source
    controls = serializers.ListField(child=serializers.CharField())
    via = serializers.SerializerMethodField()
    maturity = serializers.IntegerField(allow_null=True)

    def get_via(self, entry: scoring.EntryStatus) -> list[dict[str, str]]:
        return [{"ref": ref, "provenance": provenance} for ref, provenance in entry.via]


class ClauseOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    title = serializers.CharField()
    count = serializers.IntegerField()
    passing = serializers.IntegerField()
    failing = serializers.IntegerField()
    excepted = serializers.IntegerField()
    assessed = serializers.IntegerField()
    score = serializers.FloatField(allow_null=True)
    entries = EntryOutput(many=True)


class TableOutput(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField()
    total = ClauseOutput()
    rows = ClauseOutput(many=True)


class ExceptionOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    control_id = serializers.CharField()
    resource_type = serializers.CharField()
    resource_id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    reason = serializers.CharField()
    expires_on = serializers.DateField()
    state = serializers.ChoiceField(choices=ControlException.State.choices)
    requested_by = serializers.CharField(source="requested_by.username")
    approved_by = serializers.CharField(source="approved_by.username", allow_null=True, default=None)
    revoked_by = serializers.CharField(source="revoked_by.username", allow_null=True, default=None)


class ExceptionInput(serializers.Serializer[dict[str, Any]]):
    control_id = serializers.CharField(max_length=120)
    resource_type = serializers.CharField(max_length=60)
    resource_id = serializers.CharField(max_length=200)
    reason = serializers.CharField(max_length=services.MAX_REASON)
    expires_on = serializers.DateField()


class RevokeInput(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=services.MAX_REASON)


def _refused(error: services.AssessmentError) -> Response:
    return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)


class RunList(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read", "POST": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            self.required_permission = Perm.ASSESSMENT_CONTROL_RUN
        return super().get_permissions()

    @extend_schema(responses=RunOutput(many=True), operation_id="compliance_runs_list")
    def get(self, request: Request) -> Response:
        return Response(RunOutput(selectors.runs_list(), many=True).data)

    @extend_schema(
        request=RunInput,
        responses={201: RunOutput, 400: ErrorOutput},
        operation_id="compliance_runs_trigger",
        description="Run the control tests now (all, or `only` some) and sign the run.",
    )
    def post(self, request: Request) -> Response:
        payload = RunInput(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            run = services.controls_run(actor=_actor(request), only=payload.validated_data.get("only", []))
        except services.AssessmentError as error:
            raise ValidationError({"only": [str(error)]}) from None
        return Response(RunOutput(run).data, status=status.HTTP_201_CREATED)


class RunDetail(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=RunDetailOutput, operation_id="compliance_runs_read")
    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.run_get(run_id=run_id)
        if run is None:
            raise Http404
        verification = services.verify_run(run)
        body = RunOutput(run).data
        body["verified"] = verification.ok
        body["problems"] = list(verification.problems)
        body["results"] = ResultOutput(selectors.run_results(run=run), many=True).data
        return Response(body)


class ResultDetail(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=ResultDetailOutput, operation_id="compliance_results_read")
    def get(self, request: Request, run_id: int, control_id: str) -> Response:
        result = selectors.result_get(run_id=run_id, control_id=control_id)
        if result is None:
            raise Http404
        body = ResultOutput(result).data
        body["failing"] = ResourceOutput(
            selectors.result_resources(result=result, failing_only=True), many=True
        ).data
        return Response(body)


class FrameworkTableView(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=TableOutput, operation_id="compliance_frameworks_read")
    def get(self, request: Request, key: str) -> Response:
        scorer = scoring.Scorer(maturity=current_maturity())
        if key not in scorer.catalog.frameworks:
            raise Http404
        return Response(TableOutput(scorer.table(key)).data)


class ExceptionList(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read", "POST": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            self.required_permission = Perm.ASSESSMENT_CONTROL_RUN
        return super().get_permissions()

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=ControlException.State.values)],
        responses=ExceptionOutput(many=True),
        operation_id="compliance_exceptions_list",
    )
    def get(self, request: Request) -> Response:
        state = str(request.query_params.get("state", ""))
        if state and state not in ControlException.State.values:
            raise ValidationError({"state": ["Unknown value."]})
        return Response(ExceptionOutput(selectors.exceptions_list(state=state)[:1000], many=True).data)

    @extend_schema(
        request=ExceptionInput,
        responses={201: ExceptionOutput, 409: ErrorOutput},
        operation_id="compliance_exceptions_request",
    )
    def post(self, request: Request) -> Response:
        payload = ExceptionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        form = ExceptionRequestForm(data=payload.validated_data)
        if not form.is_valid():
            raise ValidationError({name: [str(errors[0])] for name, errors in form.errors.items()})
        try:
            exception = services.exception_request(actor=_actor(request), **form.cleaned_data)
        except services.AssessmentError as error:
            return _refused(error)
        return Response(ExceptionOutput(exception).data, status=status.HTTP_201_CREATED)


class ExceptionApprove(APIView):
    required_permission = Perm.ASSESSMENT_EXCEPTION_APPROVE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=None,
        responses={200: ExceptionOutput, 409: ErrorOutput},
        operation_id="compliance_exceptions_approve",
    )
    def post(self, request: Request, exception_id: int) -> Response:
        if selectors.exception_get(exception_id=exception_id) is None:
            raise Http404
        try:
            exception = services.exception_approve(actor=_actor(request), exception_id=exception_id)
        except services.AssessmentError as error:
            return _refused(error)
        return Response(ExceptionOutput(exception).data)


class ExceptionRevoke(APIView):
    required_permission = Perm.ASSESSMENT_EXCEPTION_APPROVE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=RevokeInput,
        responses={200: ExceptionOutput, 409: ErrorOutput},
        operation_id="compliance_exceptions_revoke",
    )
    def post(self, request: Request, exception_id: int) -> Response:
        if selectors.exception_get(exception_id=exception_id) is None:
            raise Http404
        payload = RevokeInput(data=request.data)
        payload.is_valid(raise_exception=True)
        form = ExceptionRevokeForm(data=payload.validated_data)
        if not form.is_valid():
            raise ValidationError({"reason": ["Give the reason for revoking the exception."]})
        try:
            exception = services.exception_revoke(
                actor=_actor(request), exception_id=exception_id, reason=form.cleaned_data["reason"]
            )
        except services.AssessmentError as error:
            return _refused(error)
        return Response(ExceptionOutput(exception).data)


urlpatterns = [
    path("runs/", RunList.as_view(), name="runs"),
    path("runs/<int:run_id>/", RunDetail.as_view(), name="run"),
    path("runs/<int:run_id>/controls/<str:control_id>/", ResultDetail.as_view(), name="result"),
    path("frameworks/<str:key>/", FrameworkTableView.as_view(), name="framework"),
    path("exceptions/", ExceptionList.as_view(), name="exceptions"),
    path("exceptions/<int:exception_id>/approve/", ExceptionApprove.as_view(), name="exception_approve"),
    path("exceptions/<int:exception_id>/revoke/", ExceptionRevoke.as_view(), name="exception_revoke"),
]
