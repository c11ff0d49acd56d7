"""Assessment campaigns over REST: campaigns and their questions, answers,
the two signatures, findings, evidence files, the year-over-year comparison
and the latest signed-off maturity per entry (assessment:result:read to
read; assessment:campaign:manage to write; signing off is the reviewer's,
which the service checks). Evidence is uploaded as multipart/form-data with
the pages' rules (ADR 0942): the size cap is in place before anything reads
the body, the type is decided from the content and the name, the file is
stored encrypted with its SHA-256; downloads stay on the pages (hash checked
there)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.assessments import campaign_selectors, campaign_services
from safeward.assessments.campaign_evidence import MAX_MEGABYTES, MAX_REQUEST_BYTES, SizeLimitHandler
from safeward.assessments.campaign_forms import AnswerForm, CampaignForm, FindingForm, FindingUpdateForm
from safeward.assessments.models import Campaign, Finding, Maturity, Severity
from safeward.compliance import FRAMEWORKS
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput

MAX_LIST = 1000


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def _form_errors(form: Any) -> ValidationError:
    return ValidationError({name: [str(errors[0])] for name, errors in form.errors.items()})


def _refused(error: campaign_services.CampaignError) -> Response:
    code = (
        status.HTTP_403_FORBIDDEN
        if isinstance(error, campaign_services.NotYours)
        else status.HTTP_409_CONFLICT
    )
    return Response({"detail": str(error)}, status=code)


class AssessmentEvidenceOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_at = serializers.DateTimeField()


class AssessmentQuestionOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    entry_ref = serializers.CharField()
    entry_title = serializers.CharField()
    clause_ref = serializers.CharField()
    maturity = serializers.IntegerField(
        allow_null=True, help_text="0 not in place ... 3 measured and managed"
    )
    notes = serializers.CharField()
    answered_at = serializers.DateTimeField(allow_null=True)


class AssessmentCampaignOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    framework = serializers.CharField()
    year = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Campaign.Status.choices)
    assessor = serializers.CharField(source="assessor.username")
    reviewer = serializers.CharField(source="reviewer.username")
    assessor_signed_at = serializers.DateTimeField(allow_null=True)
    reviewer_signed_at = serializers.DateTimeField(allow_null=True)


class AssessmentCampaignDetailOutput(AssessmentCampaignOutput):
    questions = serializers.SerializerMethodField()

    @extend_schema_field(AssessmentQuestionOutput(many=True))
    def get_questions(self, campaign: Campaign) -> list[dict[str, Any]]:
        return list(AssessmentQuestionOutput(campaign.questions.order_by("position"), many=True).data)


class AssessmentCampaignInput(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=200)
    framework = serializers.ChoiceField(choices=list(FRAMEWORKS))
    year = serializers.IntegerField()
    assessor = serializers.IntegerField(help_text="The assessor's account id.")
    reviewer = serializers.IntegerField(help_text="The reviewer's account id (another person).")
    entry_refs = serializers.ListField(
        child=serializers.CharField(max_length=120), required=False, max_length=500
    )
    scope_note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class CampaignList(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read", "POST": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            self.required_permission = Perm.ASSESSMENT_CAMPAIGN_MANAGE
        return super().get_permissions()

    @extend_schema(
        parameters=[
            OpenApiParameter("framework", str, enum=list(FRAMEWORKS)),
            OpenApiParameter("status", str, enum=Campaign.Status.values),
        ],
        responses=AssessmentCampaignOutput(many=True),
        operation_id="assessment_campaigns_list",
    )
    def get(self, request: Request) -> Response:
        framework = str(request.query_params.get("framework", ""))
        state = str(request.query_params.get("status", ""))
        if framework and framework not in FRAMEWORKS:
            raise ValidationError({"framework": ["Unknown framework."]})
        if state and state not in Campaign.Status.values:
            raise ValidationError({"status": ["Unknown status."]})
        campaigns = campaign_selectors.campaigns_list(framework=framework, status=state)[:MAX_LIST]
        return Response(AssessmentCampaignOutput(campaigns, many=True).data)

    @extend_schema(
        request=AssessmentCampaignInput,
        responses={201: AssessmentCampaignDetailOutput, 409: ErrorOutput},
        operation_id="assessment_campaigns_create",
    )
    def post(self, request: Request) -> Response:
        payload = AssessmentCampaignInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        form = CampaignForm(
            data={
                **data,
                "entry_refs": "\n".join(data.get("entry_refs", [])),
                "scope_note": data.get("scope_note", ""),
            }
        )
        if not form.is_valid():
            raise _form_errors(form)
        clean = form.cleaned_data
        try:
            campaign = campaign_services.campaign_create(
                actor=_actor(request),
                name=clean["name"],
                framework=clean["framework"],
                year=clean["year"],
                assessor_id=clean["assessor"],
                reviewer_id=clean["reviewer"],
                entry_refs=clean["entry_refs"],
                scope_note=clean["scope_note"],
            )
        except campaign_services.CampaignError as error:
            return _refused(error)
        return Response(AssessmentCampaignDetailOutput(campaign).data, status=status.HTTP_201_CREATED)


def _campaign(campaign_id: int) -> Campaign:
    campaign = campaign_selectors.campaign_get(campaign_id=campaign_id)
    if campaign is None:
        raise Http404
    return campaign


class CampaignDetail(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=AssessmentCampaignDetailOutput, operation_id="assessment_campaigns_read")
    def get(self, request: Request, campaign_id: int) -> Response:
        return Response(AssessmentCampaignDetailOutput(_campaign(campaign_id)).data)


class CampaignSubmit(APIView):
    """The assessor's signature (every question answered)."""

    required_permission = Perm.ASSESSMENT_CAMPAIGN_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=None,
        responses={200: AssessmentCampaignOutput, 403: ErrorOutput, 409: ErrorOutput},
        operation_id="assessment_campaigns_submit",
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = _campaign(campaign_id)
        try:
            campaign = campaign_services.campaign_submit(actor=_actor(request), campaign_id=campaign.pk)
        except campaign_services.CampaignError as error:
            return _refused(error)
        return Response(AssessmentCampaignOutput(campaign).data)


class CampaignSignOff(APIView):
    """The reviewer's signature; the campaign becomes read-only."""

    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=None,
        responses={200: AssessmentCampaignOutput, 403: ErrorOutput, 409: ErrorOutput},
        operation_id="assessment_campaigns_sign_off",
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = _campaign(campaign_id)
        try:
            campaign = campaign_services.campaign_sign_off(actor=_actor(request), campaign_id=campaign.pk)
        except campaign_services.CampaignError as error:
            return _refused(error)
        return Response(AssessmentCampaignOutput(campaign).data)


class AssessmentComparisonOutput(serializers.Serializer[Any]):
    ref = serializers.CharField()
    title = serializers.CharField()
    previous = serializers.FloatField(allow_null=True)
    current = serializers.FloatField(allow_null=True)
    delta = serializers.FloatField(allow_null=True)


class AssessmentYearOverYearOutput(serializers.Serializer[Any]):
    campaign = serializers.IntegerField(source="campaign.pk")
    previous = serializers.IntegerField(source="previous.pk", allow_null=True, default=None)
    entries = AssessmentComparisonOutput(many=True)
    clauses = AssessmentComparisonOutput(many=True)


class CampaignCompare(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=AssessmentYearOverYearOutput, operation_id="assessment_campaigns_compare")
    def get(self, request: Request, campaign_id: int) -> Response:
        return Response(
            AssessmentYearOverYearOutput(
                campaign_selectors.year_over_year(campaign=_campaign(campaign_id))
            ).data
        )


class AssessmentAnswerInput(serializers.Serializer[dict[str, Any]]):
    maturity = serializers.ChoiceField(choices=Maturity.values)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class QuestionAnswer(APIView):
    required_permission = Perm.ASSESSMENT_CAMPAIGN_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=AssessmentAnswerInput,
        responses={200: AssessmentQuestionOutput, 403: ErrorOutput, 409: ErrorOutput},
        operation_id="assessment_questions_answer",
    )
    def post(self, request: Request, question_id: int) -> Response:
        if campaign_selectors.question_get(question_id=question_id) is None:
            raise Http404
        payload = AssessmentAnswerInput(data=request.data)
        payload.is_valid(raise_exception=True)
        form = AnswerForm(data=payload.validated_data)
        if not form.is_valid():
            raise _form_errors(form)
        try:
            question = campaign_services.question_answer(
                actor=_actor(request),
                question_id=question_id,
                maturity=form.cleaned_data["maturity"],
                notes=form.cleaned_data["notes"],
            )
        except campaign_services.CampaignError as error:
            return _refused(error)
        return Response(AssessmentQuestionOutput(question).data)


class EvidenceTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The file is larger than {MAX_MEGABYTES} MiB."
    default_code = "too_large"


class AssessmentEvidenceInput(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(
        help_text=f"PDF, PNG, JPEG, plain text or CSV, at most {MAX_MEGABYTES} MiB; "
        "the type is decided from the content and the name's extension."
    )


class QuestionEvidence(APIView):
    """A question's evidence files (metadata and SHA-256), and uploading one."""

    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read", "POST": "write"}
    parser_classes = [MultiPartParser]  # a file upload only: JSON is refused with 415
    limiter: SizeLimitHandler | None = None

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            self.required_permission = Perm.ASSESSMENT_CAMPAIGN_MANAGE
        return super().get_permissions()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            # Before authentication: the session's CSRF check reads the form,
            # so the cap must be in place first. A body declared over the cap
            # is refused unread (the answer says nothing about the question).
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > MAX_REQUEST_BYTES:
                raise EvidenceTooLarge
            self.limiter = SizeLimitHandler(request._request)
            request._request.upload_handlers.insert(0, self.limiter)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        responses={200: AssessmentEvidenceOutput(many=True)}, operation_id="assessment_evidence_list"
    )
    def get(self, request: Request, question_id: int) -> Response:
        question = campaign_selectors.question_get(question_id=question_id)
        if question is None:
            raise Http404
        evidence = campaign_selectors.question_evidence(question=question)
        return Response(AssessmentEvidenceOutput(evidence, many=True).data)

    @extend_schema(
        request={"multipart/form-data": AssessmentEvidenceInput},
        responses={201: AssessmentEvidenceOutput, 403: ErrorOutput, 409: ErrorOutput, 413: ErrorOutput},
        operation_id="assessment_evidence_upload",
    )
    def post(self, request: Request, question_id: int) -> Response:
        if campaign_selectors.question_get(question_id=question_id) is None:
            raise Http404
        payload = AssessmentEvidenceInput(data=request.data)
        if self.limiter is not None and self.limiter.exceeded:
            raise EvidenceTooLarge
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        try:
            evidence = campaign_services.evidence_add(
                actor=_actor(request), question_id=question_id, filename=upload.name or "", data=upload.read()
            )
        except campaign_services.EvidenceRefused as error:
            raise ValidationError({"file": [str(error)]}) from None
        except campaign_services.CampaignError as error:
            return _refused(error)
        return Response(AssessmentEvidenceOutput(evidence).data, status=status.HTTP_201_CREATED)


class AssessmentFindingOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    campaign = serializers.IntegerField(source="campaign_id")
    entry_ref = serializers.CharField(source="question.entry_ref")
    title = serializers.CharField()
    description = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    owner = serializers.CharField(source="owner.username")
    due_on = serializers.DateField()
    status = serializers.ChoiceField(choices=Finding.Status.choices)
    resolution = serializers.CharField()


class AssessmentFindingInput(serializers.Serializer[dict[str, Any]]):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    severity = serializers.ChoiceField(choices=Severity.values)
    owner = serializers.IntegerField()
    due_on = serializers.DateField()


class QuestionFindings(APIView):
    required_permission = Perm.ASSESSMENT_CAMPAIGN_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=AssessmentFindingInput,
        responses={201: AssessmentFindingOutput, 409: ErrorOutput},
        operation_id="assessment_findings_create",
    )
    def post(self, request: Request, question_id: int) -> Response:
        if campaign_selectors.question_get(question_id=question_id) is None:
            raise Http404
        payload = AssessmentFindingInput(data=request.data)
        payload.is_valid(raise_exception=True)
        form = FindingForm(data=payload.validated_data)
        if not form.is_valid():
            raise _form_errors(form)
        data = form.cleaned_data
        try:
            finding = campaign_services.finding_create(
                actor=_actor(request),
                question_id=question_id,
                title=data["title"],
                description=data["description"],
                severity=data["severity"],
                owner_id=data["owner"],
                due_on=data["due_on"],
            )
        except campaign_services.CampaignError as error:
            return _refused(error)
        return Response(AssessmentFindingOutput(finding).data, status=status.HTTP_201_CREATED)


class AssessmentFindingList(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=Finding.Status.values)],
        responses=AssessmentFindingOutput(many=True),
        operation_id="assessment_findings_list",
    )
    def get(self, request: Request) -> Response:
        state = str(request.query_params.get("status", ""))
        if state and state not in Finding.Status.values:
            raise ValidationError({"status": ["Unknown status."]})
        return Response(
            AssessmentFindingOutput(campaign_selectors.findings_list(status=state)[:MAX_LIST], many=True).data
        )


class AssessmentFindingUpdateInput(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=Finding.Status.values)
    owner = serializers.IntegerField()
    due_on = serializers.DateField()
    resolution = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class AssessmentFindingDetail(APIView):
    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read", "PUT": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "PUT":
            self.required_permission = Perm.ASSESSMENT_CAMPAIGN_MANAGE
        return super().get_permissions()

    def _finding(self, finding_id: int) -> Finding:
        finding = campaign_selectors.finding_get(finding_id=finding_id)
        if finding is None:
            raise Http404
        return finding

    @extend_schema(responses=AssessmentFindingOutput, operation_id="assessment_findings_read")
    def get(self, request: Request, finding_id: int) -> Response:
        return Response(AssessmentFindingOutput(self._finding(finding_id)).data)

    @extend_schema(
        request=AssessmentFindingUpdateInput,
        responses={200: AssessmentFindingOutput, 409: ErrorOutput},
        operation_id="assessment_findings_update",
    )
    def put(self, request: Request, finding_id: int) -> Response:
        finding = self._finding(finding_id)
        payload = AssessmentFindingUpdateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        form = FindingUpdateForm(data={"resolution": "", **payload.validated_data})
        if not form.is_valid():
            raise _form_errors(form)
        data = form.cleaned_data
        try:
            finding = campaign_services.finding_update(
                actor=_actor(request),
                finding_id=finding.pk,
                status=data["status"],
                owner_id=data["owner"],
                due_on=data["due_on"],
                resolution=data["resolution"],
            )
        except campaign_services.CampaignError as error:
            return _refused(error)
        return Response(AssessmentFindingOutput(finding).data)


class AssessmentMaturityOutput(serializers.Serializer[Any]):
    framework = serializers.CharField()
    maturity = serializers.DictField(child=serializers.IntegerField(), help_text="entry ref -> 0..3")


class LatestMaturity(APIView):
    """The maturity of each entry in the latest signed-off campaign of the framework."""

    required_permission = Perm.ASSESSMENT_RESULT_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=AssessmentMaturityOutput, operation_id="assessment_latest_maturity")
    def get(self, request: Request, framework: str) -> Response:
        if framework not in FRAMEWORKS:
            raise Http404
        return Response({"framework": framework, "maturity": campaign_selectors.latest_maturity(framework)})


urlpatterns = [
    path("campaigns/", CampaignList.as_view(), name="campaigns"),
    path("campaigns/<int:campaign_id>/", CampaignDetail.as_view(), name="campaign"),
    path("campaigns/<int:campaign_id>/submit/", CampaignSubmit.as_view(), name="campaign_submit"),
    path("campaigns/<int:campaign_id>/sign-off/", CampaignSignOff.as_view(), name="campaign_sign_off"),
    path("campaigns/<int:campaign_id>/compare/", CampaignCompare.as_view(), name="campaign_compare"),
    path("questions/<int:question_id>/answer/", QuestionAnswer.as_view(), name="question_answer"),
    path("questions/<int:question_id>/findings/", QuestionFindings.as_view(), name="question_findings"),
    path("questions/<int:question_id>/evidence/", QuestionEvidence.as_view(), name="question_evidence"),
    path("findings/", AssessmentFindingList.as_view(), name="findings"),
    path("findings/<int:finding_id>/", AssessmentFindingDetail.as_view(), name="finding"),
    path("maturity/<str:framework>/", LatestMaturity.as_view(), name="maturity"),
]
