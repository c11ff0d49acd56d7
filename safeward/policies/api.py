"""The policy library's REST API, read-only: the published documents and
their revisions (every signed-in account, as on the pages), and who
acknowledged which revision (policy:document:manage: an LMS or HR system
reads it). Acknowledging is done by the person on the acknowledgement page,
after reading the text, never by an integrator. One class per operation, each
declaring its permission and what a bearer token needs."""

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

from safeward.identity.api import UsableAccount
from safeward.identity.api_permissions import TokenScope
from safeward.identity.decorators import AUTHENTICATED_ONLY
from safeward.identity.permissions import Perm
from safeward.policies import selectors
from safeward.policies.models import PolicyDocument, PolicyRevision

MAX_LIST = 5000


class RevisionOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    state = serializers.ChoiceField(choices=PolicyRevision.State.choices)
    change_summary = serializers.CharField()
    author = serializers.CharField(source="author.username")
    approved_by = serializers.CharField(source="approved_by.username", allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    retired_at = serializers.DateTimeField(allow_null=True)
    content_sha256 = serializers.CharField()
    pdf_sha256 = serializers.CharField()


class PolicyDocumentOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    code = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=PolicyDocument.Kind.choices)
    owner = serializers.CharField(source="owner.username")
    review_period_days = serializers.IntegerField()
    last_reviewed_at = serializers.DateTimeField(allow_null=True)
    next_review_due = serializers.DateTimeField(allow_null=True)
    current_revision = serializers.IntegerField(source="current_revision_id", allow_null=True)
    required_roles = serializers.SerializerMethodField()
    required_positions = serializers.SerializerMethodField()

    def get_required_roles(self, document: PolicyDocument) -> list[str]:
        return selectors.document_requirements(document=document)[0]

    def get_required_positions(self, document: PolicyDocument) -> list[str]:
        return selectors.document_requirements(document=document)[1]


class DocumentDetailOutput(PolicyDocumentOutput):
    text = serializers.SerializerMethodField(help_text="The text of the revision in force.")
    revisions = serializers.SerializerMethodField()

    def get_text(self, document: PolicyDocument) -> str:
        return document.current_revision.body if document.current_revision else ""

    @extend_schema_field(RevisionOutput(many=True))
    def get_revisions(self, document: PolicyDocument) -> list[dict[str, Any]]:
        revisions = selectors.document_revisions(document=document, include_unpublished=False)
        return list(RevisionOutput(revisions, many=True).data)


class AcknowledgementOutput(serializers.Serializer[Any]):
    document = serializers.CharField(source="revision.document.code")
    revision = serializers.IntegerField(source="revision.number")
    revision_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    acknowledged_at = serializers.DateTimeField()
    content_sha256 = serializers.CharField()


class DocumentList(APIView):
    # Every signed-in account reads the published library (the pages' @authenticated).
    required_permission = AUTHENTICATED_ONLY
    token_scopes = {"GET": "read"}

    permission_classes = [UsableAccount, TokenScope]

    @extend_schema(responses=PolicyDocumentOutput(many=True), operation_id="policies_documents_list")
    def get(self, request: Request) -> Response:
        documents = selectors.documents_list(include_unpublished=False)[:MAX_LIST]
        return Response(PolicyDocumentOutput(documents, many=True).data)


class DocumentDetail(APIView):
    required_permission = AUTHENTICATED_ONLY
    token_scopes = {"GET": "read"}

    permission_classes = [UsableAccount, TokenScope]

    @extend_schema(responses=DocumentDetailOutput, operation_id="policies_documents_read")
    def get(self, request: Request, code: str) -> Response:
        document = selectors.document_by_code(code=code[:60])
        if document is None or document.current_revision_id is None or document.retired_at is not None:
            raise Http404
        return Response(DocumentDetailOutput(document).data)


class AcknowledgementList(APIView):
    required_permission = Perm.POLICY_DOCUMENT_MANAGE
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("document", str, description="A document code."),
            OpenApiParameter("revision", int, description="A revision number of that document."),
            OpenApiParameter("username", str),
        ],
        responses=AcknowledgementOutput(many=True),
        operation_id="policies_acknowledgements_list",
    )
    def get(self, request: Request) -> Response:
        code = str(request.query_params.get("document", ""))[:61]
        number = str(request.query_params.get("revision", ""))
        username = str(request.query_params.get("username", ""))
        if len(username) > 150:
            raise ValidationError({"username": ["Too long."]})
        if number and not code:
            raise ValidationError({"revision": ["Give the document too."]})
        if number and (not number.isdigit() or len(number) > 6):
            raise ValidationError({"revision": ["A revision number."]})
        document_id = revision_id = None
        if code:
            document = selectors.document_by_code(code=code)
            if document is None:
                raise ValidationError({"document": ["No such document."]})
            document_id = document.pk
            if number:
                revision = document.revisions.filter(number=int(number)).only("pk").first()
                if revision is None:
                    raise ValidationError({"revision": ["No such revision of this document."]})
                revision_id = revision.pk
        found = selectors.acknowledgements_list(
            document_id=document_id, revision_id=revision_id, username=username
        )[:MAX_LIST]
        return Response(AcknowledgementOutput(found, many=True).data)


urlpatterns = [
    path("documents/", DocumentList.as_view(), name="documents"),
    path("documents/<slug:code>/", DocumentDetail.as_view(), name="document"),
    path("acknowledgements/", AcknowledgementList.as_view(), name="acknowledgements"),
]
