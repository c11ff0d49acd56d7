"""The risk register over REST: list (with the 5x5 heat map), read, record,
replace and review risks (assessment:result:read to read,
assessment:risk:manage to write). Input is checked by the same form as the
pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404, QueryDict
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.assessments import risk_selectors, risk_services
from safeward.assessments.models import Level, Risk
from safeward.assessments.risk_forms import ReviewForm, RiskForm
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class RiskOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    threat_source = serializers.ChoiceField(choices=Risk.ThreatSource.choices)
    threat_event = serializers.CharField()
    vulnerability = serializers.CharField()
    likelihood = serializers.IntegerField()
    impact = serializers.IntegerField()
    inherent_score = serializers.IntegerField()
    inherent_level = serializers.ChoiceField(choices=Level.choices)
    treatment = serializers.ChoiceField(choices=Risk.Treatment.choices)
    treatment_plan = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    residual_likelihood = serializers.IntegerField()
    residual_impact = serializers.IntegerField()
    residual_score = serializers.IntegerField()
    residual_level = serializers.ChoiceField(choices=Level.choices)
    review_due = serializers.DateField()
    last_reviewed_on = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=Risk.Status.choices)
    asset_ids = serializers.ListField(child=serializers.IntegerField())
    control_ids = serializers.ListField(child=serializers.CharField())
    finding_ids = serializers.SerializerMethodField()

    def get_finding_ids(self, risk: Risk) -> list[int]:
        return sorted(finding.pk for finding in risk.findings.all())


class RiskInput(serializers.Serializer[dict[str, Any]]):
    title = serializers.CharField(max_length=200)
    threat_source = serializers.ChoiceField(choices=Risk.ThreatSource.values)
    threat_event = serializers.CharField(max_length=2000)
    vulnerability = serializers.CharField(max_length=2000)
    likelihood = serializers.IntegerField(min_value=1, max_value=5)
    impact = serializers.IntegerField(min_value=1, max_value=5)
    treatment = serializers.ChoiceField(choices=Risk.Treatment.values)
    treatment_plan = serializers.CharField(max_length=5000)
    owner = serializers.IntegerField(help_text="The owner's account id.")
    residual_likelihood = serializers.IntegerField(min_value=1, max_value=5)
    residual_impact = serializers.IntegerField(min_value=1, max_value=5)
    review_due = serializers.DateField()
    status = serializers.ChoiceField(choices=Risk.Status.values, default=Risk.Status.OPEN)
    asset_ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=200)
    control_ids = serializers.ListField(
        child=serializers.CharField(max_length=80), required=False, max_length=200
    )
    finding_ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=200)


def _checked_form(request: Request) -> RiskForm:
    payload = RiskInput(data=request.data)
    payload.is_valid(raise_exception=True)
    data = QueryDict(mutable=True)
    for name, value in payload.validated_data.items():
        if isinstance(value, list):
            data.setlist(name, [str(item) for item in value])
        else:
            data[name] = str(value)
    form = RiskForm(data=data)
    if not form.is_valid():
        raise ValidationError({name: [str(errors[0])] for name, errors in form.errors.items()})
    return form


def _refused(error: Exception) -> Response:
    return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)


class RiskHeatCellOutput(serializers.Serializer[Any]):
    likelihood = serializers.IntegerField()
    impact = serializers.IntegerField()
    count = serializers.IntegerField()
    level = serializers.ChoiceField(choices=Level.choices)


class RiskList(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read", "POST": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            self.required_permission = Perm.ASSESSMENT_RISK_MANAGE
        return super().get_permissions()

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Risk.Status.values),
            OpenApiParameter("level", str, enum=Level.values),
        ],
        responses=RiskOutput(many=True),
        operation_id="risks_list",
    )
    def get(self, request: Request) -> Response:
        state = str(request.query_params.get("status", ""))
        level = str(request.query_params.get("level", ""))
        if state and state not in Risk.Status.values:
            raise ValidationError({"status": ["Unknown status."]})
        if level and level not in Level.values:
            raise ValidationError({"level": ["Unknown level."]})
        return Response(RiskOutput(risk_selectors.risks_list(status=state, level=level), many=True).data)

    @extend_schema(
        request=RiskInput, responses={201: RiskOutput, 409: ErrorOutput}, operation_id="risks_create"
    )
    def post(self, request: Request) -> Response:
        form = _checked_form(request)
        try:
            risk = risk_services.risk_create(
                actor=_actor(request), values=form.risk_values(), finding_ids=form.linked_finding_ids()
            )
        except risk_services.RiskError as error:
            return _refused(error)
        return Response(RiskOutput(risk).data, status=status.HTTP_201_CREATED)


class RiskHeatMap(APIView):
    """Open risks per likelihood x impact cell: rows likelihood 5..1, columns impact 1..5."""

    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[OpenApiParameter("residual", bool)],
        responses=RiskHeatCellOutput(many=True),
        operation_id="risks_heat_map",
    )
    def get(self, request: Request) -> Response:
        residual = str(request.query_params.get("residual", "")).lower() in ("1", "true")
        grid = risk_selectors.heat_map(risks=risk_selectors.risks_list(), residual=residual)
        return Response(RiskHeatCellOutput([cell for row in grid for cell in row], many=True).data)


def _risk(risk_id: int) -> Risk:
    risk = risk_selectors.risk_get(risk_id=risk_id)
    if risk is None:
        raise Http404
    return risk


class RiskDetail(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read", "PUT": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "PUT":
            self.required_permission = Perm.ASSESSMENT_RISK_MANAGE
        return super().get_permissions()

    @extend_schema(responses=RiskOutput, operation_id="risks_read")
    def get(self, request: Request, risk_id: int) -> Response:
        return Response(RiskOutput(_risk(risk_id)).data)

    @extend_schema(
        request=RiskInput, responses={200: RiskOutput, 409: ErrorOutput}, operation_id="risks_replace"
    )
    def put(self, request: Request, risk_id: int) -> Response:
        risk = _risk(risk_id)
        form = _checked_form(request)
        try:
            risk = risk_services.risk_update(
                actor=_actor(request),
                risk_id=risk.pk,
                values=form.risk_values(),
                finding_ids=form.linked_finding_ids(),
            )
        except risk_services.RiskError as error:
            return _refused(error)
        return Response(RiskOutput(risk).data)


class RiskReviewInput(serializers.Serializer[dict[str, Any]]):
    next_review_due = serializers.DateField()


class RiskReview(APIView):
    required_permission = Perm.ASSESSMENT_RISK_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=RiskReviewInput, responses={200: RiskOutput, 409: ErrorOutput}, operation_id="risks_review"
    )
    def post(self, request: Request, risk_id: int) -> Response:
        risk = _risk(risk_id)
        payload = RiskReviewInput(data=request.data)
        payload.is_valid(raise_exception=True)
        form = ReviewForm(data=payload.validated_data)
        if not form.is_valid():
            raise ValidationError({name: [str(errors[0])] for name, errors in form.errors.items()})
        try:
            risk = risk_services.risk_review(
                actor=_actor(request), risk_id=risk.pk, next_review_due=form.cleaned_data["next_review_due"]
            )
        except risk_services.RiskError as error:
            return _refused(error)
        return Response(RiskOutput(risk).data)


urlpatterns = [
    path("", RiskList.as_view(), name="risks"),
    path("heat-map/", RiskHeatMap.as_view(), name="heat_map"),
    path("<int:risk_id>/", RiskDetail.as_view(), name="risk"),
    path("<int:risk_id>/review/", RiskReview.as_view(), name="risk_review"),
]
