"""The vendor register's REST API (/api/v1/vendors/): read the register;
suspend a vendor or terminate an agreement (each ends every credential behind
it at once). One class per operation, each declaring its permission and the
token scope a bearer needs."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import path, reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.vendors import questionnaires, selectors, services
from safeward.vendors.models import Agreement, Credential, Questionnaire, Vendor


class AgreementOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Agreement.Kind.choices)
    reference = serializers.CharField()
    covers_phi = serializers.BooleanField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    renewal = serializers.ChoiceField(choices=Agreement.Renewal.choices)
    renewal_months = serializers.IntegerField()
    notice_days = serializers.IntegerField()
    notice_given_on = serializers.DateField(allow_null=True)
    breach_notice_days = serializers.IntegerField()
    subcontractors_allowed = serializers.BooleanField()
    end_of_term = serializers.ChoiceField(choices=Agreement.EndOfTerm.choices)
    in_force_until = serializers.DateTimeField(source="current_end_at")
    status = serializers.ChoiceField(choices=Agreement.Status.choices)
    ended_at = serializers.DateTimeField(allow_null=True)
    ended_via = serializers.CharField()


class CredentialOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Credential.Kind.choices)
    name = serializers.CharField(source="label")
    agreement = serializers.IntegerField(source="agreement_id")
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    revoked_via = serializers.CharField()


class VendorOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="vendor.pk")
    name = serializers.CharField(source="vendor.name")
    legal_name = serializers.CharField(source="vendor.legal_name")
    status = serializers.ChoiceField(source="vendor.status", choices=Vendor.Status.choices)
    owner = serializers.CharField(source="vendor.owner.username")
    phi_categories = serializers.ListField(source="vendor.phi_categories", child=serializers.CharField())
    phi_volume = serializers.ChoiceField(source="vendor.phi_volume", choices=Vendor.Volume.choices)
    risk = serializers.CharField(
        help_text="low, moderate, high or critical: the tier of the latest signed-off security questionnaire"
        " while it is current, else inherent_risk."
    )
    inherent_risk = serializers.CharField(help_text="low, moderate, high or critical: from data and access.")
    assessment_state = serializers.ChoiceField(
        choices=["current", "overdue", "none"],
        help_text="current: a signed-off questionnaire before its next assessment date; overdue: past it"
        " (it no longer counts); none: no signed-off questionnaire.",
    )
    assessment_score = serializers.IntegerField(source="assessment.score", allow_null=True, default=None)
    assessment_tier = serializers.CharField(source="assessment.tier", allow_null=True, default=None)
    assessment_signed_off_at = serializers.DateTimeField(
        source="assessment.reviewed_at", allow_null=True, default=None
    )
    agreement_status = serializers.CharField()
    ends_on = serializers.DateField(allow_null=True)
    live_credentials = serializers.IntegerField()
    next_assessment = serializers.DateField()


class VendorDetailOutput(VendorOutput):
    agreements = serializers.SerializerMethodField()
    credentials = serializers.SerializerMethodField()

    @extend_schema_field(AgreementOutput(many=True))
    def get_agreements(self, summary: selectors.VendorSummary) -> list[dict[str, Any]]:
        return list(AgreementOutput(summary.vendor.agreements.order_by("-end_date"), many=True).data)

    @extend_schema_field(CredentialOutput(many=True))
    def get_credentials(self, summary: selectors.VendorSummary) -> list[dict[str, Any]]:
        return list(CredentialOutput(selectors.credentials_of(vendor=summary.vendor), many=True).data)


class ReasonInput(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=300)


class RevocationOutput(serializers.Serializer[Any]):
    credentials = serializers.IntegerField()
    accounts_disabled = serializers.IntegerField()
    sessions_ended = serializers.IntegerField()
    oauth_revoked = serializers.IntegerField(source="tokens_revoked")
    clients_disabled = serializers.IntegerField()
    paths_to_remove = serializers.IntegerField()


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def _reason(request: Request) -> str:
    data = ReasonInput(data=request.data)
    data.is_valid(raise_exception=True)
    return str(data.validated_data["reason"])


class VendorList(APIView):
    required_permission = Perm.VENDOR_VENDOR_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=VendorOutput(many=True), operation_id="vendors_list")
    def get(self, request: Request) -> Response:
        return Response(VendorOutput(selectors.vendor_summaries(), many=True).data)


class VendorDetail(APIView):
    required_permission = Perm.VENDOR_VENDOR_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=VendorDetailOutput, operation_id="vendors_read")
    def get(self, request: Request, vendor_id: int) -> Response:
        vendor = selectors.vendor_get(vendor_id=vendor_id)
        if vendor is None:
            raise Http404
        return Response(VendorDetailOutput(selectors.vendor_summary(vendor=vendor)).data)


class VendorSuspend(APIView):
    required_permission = Perm.VENDOR_VENDOR_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(request=ReasonInput, responses=RevocationOutput, operation_id="vendors_suspend")
    def post(self, request: Request, vendor_id: int) -> Response:
        if selectors.vendor_get(vendor_id=vendor_id) is None:
            raise Http404
        reason = _reason(request)
        try:
            result = services.vendor_suspend(actor=_actor(request), vendor_id=vendor_id, reason=reason)
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(RevocationOutput(result).data)


class AgreementTerminate(APIView):
    required_permission = Perm.VENDOR_VENDOR_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=ReasonInput, responses=RevocationOutput, operation_id="vendors_agreements_terminate"
    )
    def post(self, request: Request, agreement_id: int) -> Response:
        agreement = selectors.agreement_get(agreement_id=agreement_id)
        if agreement is None:
            raise Http404
        reason = _reason(request)
        try:
            result = services.agreement_terminate(actor=_actor(request), agreement=agreement, reason=reason)
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(RevocationOutput(result).data)


class RenewInput(serializers.Serializer[Any]):
    end_date = serializers.DateField()


class AgreementRenew(APIView):
    required_permission = Perm.VENDOR_VENDOR_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(request=RenewInput, responses=AgreementOutput, operation_id="vendors_agreements_renew")
    def post(self, request: Request, agreement_id: int) -> Response:
        agreement = selectors.agreement_get(agreement_id=agreement_id)
        if agreement is None:
            raise Http404
        data = RenewInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            renewed = services.agreement_renew(
                actor=_actor(request), agreement=agreement, end_date=data.validated_data["end_date"]
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(AgreementOutput(renewed).data)


class QuestionnaireOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    vendor = serializers.IntegerField(source="vendor_id")
    template = serializers.CharField()
    contact_name = serializers.CharField()
    contact_email = serializers.EmailField()
    status = serializers.ChoiceField(choices=Questionnaire.Status.choices)
    sent_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    answers = serializers.DictField(child=serializers.DictField())
    score = serializers.IntegerField(allow_null=True)
    tier = serializers.CharField()
    next_assessment_on = serializers.DateField(allow_null=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", default=None, allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)


class QuestionnaireSentOutput(serializers.Serializer[Any]):
    questionnaire = QuestionnaireOutput()
    link = serializers.CharField(help_text="Shown once; only its hash is stored.")


class QuestionnaireList(APIView):
    required_permission = Perm.VENDOR_VENDOR_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=QuestionnaireOutput(many=True), operation_id="vendors_questionnaires_list")
    def get(self, request: Request) -> Response:
        return Response(QuestionnaireOutput(selectors.questionnaires_list(), many=True).data)


class QuestionnaireSendInput(serializers.Serializer[Any]):
    contact_name = serializers.CharField(max_length=120)
    contact_email = serializers.EmailField(max_length=200)
    days = serializers.IntegerField(
        min_value=1, max_value=questionnaires.MAX_DAYS, default=questionnaires.DEFAULT_DAYS
    )


class QuestionnaireSend(APIView):
    required_permission = Perm.VENDOR_VENDOR_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=QuestionnaireSendInput,
        responses={201: QuestionnaireSentOutput},
        operation_id="vendors_questionnaires_send",
    )
    def post(self, request: Request, vendor_id: int) -> Response:
        vendor = selectors.vendor_get(vendor_id=vendor_id)
        if vendor is None:
            raise Http404
        data = QuestionnaireSendInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            sent = questionnaires.questionnaire_send(
                actor=_actor(request),
                vendor=vendor,
                link_for=lambda token: request.build_absolute_uri(
                    reverse("vendors:questionnaire_answer", args=[token])
                ),
                **data.validated_data,
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(QuestionnaireSentOutput(sent).data, status=201)


class SignOffInput(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class QuestionnaireSignOff(APIView):
    required_permission = Perm.VENDOR_ASSESSMENT_REVIEW
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=SignOffInput, responses=QuestionnaireOutput, operation_id="vendors_questionnaires_sign_off"
    )
    def post(self, request: Request, questionnaire_id: int) -> Response:
        if selectors.questionnaire_get(questionnaire_id=questionnaire_id) is None:
            raise Http404
        data = SignOffInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            signed = questionnaires.questionnaire_sign_off(
                actor=_actor(request), questionnaire_id=questionnaire_id, note=data.validated_data["note"]
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(QuestionnaireOutput(signed).data)


urlpatterns = [
    path("", VendorList.as_view(), name="list"),
    path("<int:vendor_id>/", VendorDetail.as_view(), name="vendor"),
    path("<int:vendor_id>/suspend/", VendorSuspend.as_view(), name="suspend"),
    path(
        "agreements/<int:agreement_id>/terminate/", AgreementTerminate.as_view(), name="agreement_terminate"
    ),
    path("agreements/<int:agreement_id>/renew/", AgreementRenew.as_view(), name="agreement_renew"),
    path("questionnaires/", QuestionnaireList.as_view(), name="questionnaires"),
    path("<int:vendor_id>/questionnaires/", QuestionnaireSend.as_view(), name="questionnaire_send"),
    path(
        "questionnaires/<int:questionnaire_id>/sign-off/",
        QuestionnaireSignOff.as_view(),
        name="questionnaire_sign_off",
    ),
]
