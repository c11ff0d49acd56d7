"""The workforce REST API: the same changes as the CSV import, for an HR
system that pushes instead of exporting. One class per operation, explicit
input and output serializers, each declaring its permission, and what a
bearer token needs: `read` to read, `write` to change (ADR 0606)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward import clock
from safeward.identity.errors import InvalidState
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput
from safeward.workforce import importer, selectors, services


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class PersonOutput(serializers.Serializer[Any]):
    employee_number = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    department = serializers.CharField(source="department.code", allow_null=True, default=None)
    position = serializers.CharField(source="position.code", allow_null=True, default=None)
    manager = serializers.CharField(source="manager.employee_number", allow_null=True, default=None)
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    username = serializers.CharField(source="user.username", allow_null=True, default=None)


class PeopleList(APIView):
    required_permission = Perm.WORKFORCE_PERSON_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=PersonOutput(many=True), operation_id="workforce_people_list")
    def get(self, request: Request) -> Response:
        people = selectors.people_list(query=str(request.query_params.get("q", ""))[:40])[:500]
        return Response(PersonOutput(people, many=True).data)


class PersonDetail(APIView):
    required_permission = Perm.WORKFORCE_PERSON_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=PersonOutput, operation_id="workforce_person_read")
    def get(self, request: Request, employee_number: str) -> Response:
        person = selectors.person_by_employee_number(employee_number=employee_number)
        if person is None:
            raise Http404
        return Response(PersonOutput(person).data)


class ChangeInput(serializers.Serializer[dict[str, Any]]):
    """One row of the HR import; an empty or missing field leaves it unchanged."""

    employee_number = serializers.CharField(max_length=32)
    first_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    kind = serializers.CharField(max_length=16, required=False, allow_blank=True)
    department = serializers.CharField(max_length=40, required=False, allow_blank=True)
    position = serializers.CharField(max_length=40, required=False, allow_blank=True)
    manager = serializers.CharField(max_length=32, required=False, allow_blank=True)
    start_date = serializers.CharField(max_length=10, required=False, allow_blank=True)
    end_date = serializers.CharField(max_length=10, required=False, allow_blank=True)


class ChangesInput(serializers.Serializer[dict[str, Any]]):
    changes = ChangeInput(many=True, allow_empty=False, max_length=importer.MAX_ROWS)  # type: ignore[call-arg]  # DRF hands max_length to the ListSerializer


class RowErrorOutput(serializers.Serializer[Any]):
    index = serializers.IntegerField(source="line")
    reason = serializers.CharField()


class ChangesOutput(serializers.Serializer[dict[str, Any]]):
    applied = serializers.BooleanField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    position_changes = serializers.IntegerField()
    terminations_scheduled = serializers.IntegerField()
    errors = RowErrorOutput(many=True)  # type: ignore[assignment]  # a field named like Serializer.errors


class ChangesApply(APIView):
    """All or nothing: a batch with any bad item is refused with every bad
    item's index and reason, and nothing is applied."""

    required_permission = Perm.WORKFORCE_PERSON_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=ChangesInput,
        responses={
            200: ChangesOutput,
            # A refused batch (its rows' reasons), or a body that is not a batch at all.
            400: PolymorphicProxySerializer(
                component_name="ChangesRefused",
                serializers=[ChangesOutput, ErrorOutput],
                resource_type_field_name=None,
            ),
            409: ErrorOutput,
        },
        operation_id="workforce_changes_apply",
    )
    def post(self, request: Request) -> Response:
        payload = ChangesInput(data=request.data)
        payload.is_valid(raise_exception=True)
        rows = list(enumerate(payload.validated_data["changes"]))
        try:
            result = importer.changes_apply(actor=_actor(request), rows=rows, source="api")
        except IntegrityError:
            return Response(
                {"detail": "The changes conflicted with a concurrent edit; nothing was applied."},
                status=status.HTTP_409_CONFLICT,
            )
        body = {**result.summary(), "applied": result.ok, "errors": result.errors}
        return Response(
            ChangesOutput(body).data, status=status.HTTP_200_OK if result.ok else status.HTTP_400_BAD_REQUEST
        )


class TerminateInput(serializers.Serializer[dict[str, Any]]):
    effective_at = serializers.DateTimeField(required=False, help_text="Omit to end access now.")
    reason = serializers.CharField(max_length=300)


class TerminationOutput(serializers.Serializer[Any]):
    status = serializers.CharField()
    effective_at = serializers.DateTimeField()
    applied_at = serializers.DateTimeField(allow_null=True)
    sessions_ended = serializers.IntegerField()
    tokens_revoked = serializers.IntegerField()


class PersonTerminate(APIView):
    required_permission = Perm.WORKFORCE_PERSON_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=TerminateInput,
        responses={200: TerminationOutput, 409: ErrorOutput},
        operation_id="workforce_person_terminate",
    )
    def post(self, request: Request, employee_number: str) -> Response:
        person = selectors.person_by_employee_number(employee_number=employee_number)
        if person is None:
            raise Http404
        payload = TerminateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            termination = services.termination_schedule(
                actor=_actor(request),
                person=person,
                effective_at=payload.validated_data.get("effective_at") or clock.now(),
                reason=payload.validated_data["reason"],
            )
        except InvalidState as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(TerminationOutput(termination).data)


urlpatterns = [
    path("people/", PeopleList.as_view(), name="api_people"),
    path("people/<str:employee_number>/", PersonDetail.as_view(), name="api_person"),
    path("people/<str:employee_number>/terminate/", PersonTerminate.as_view(), name="api_person_terminate"),
    path("changes/", ChangesApply.as_view(), name="api_changes"),
]
