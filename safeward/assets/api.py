"""The asset register's REST API: list and read (assets:asset:read), register,
replace and import (assets:asset:manage). Input is checked by the same form
as the pages and the CSV import; one class per operation, each declaring its
permission and what a bearer token needs (`read` / `write`)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.http import Http404, QueryDict
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.assets import importer, selectors, services
from safeward.assets.forms import PHI_CHOICES, AssetForm
from safeward.assets.models import Asset, Classification
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput

MAX_LIST = 1000


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class AssetOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Asset.Kind.choices)
    description = serializers.CharField()
    owner_person_id = serializers.IntegerField(allow_null=True)
    custodian_person_id = serializers.IntegerField(allow_null=True)
    location = serializers.CharField()
    hosting = serializers.ChoiceField(choices=Asset.Hosting.choices)
    vendor_id = serializers.IntegerField(allow_null=True)
    vendor_name = serializers.CharField()
    network_zone = serializers.CharField()
    classification = serializers.CharField(help_text="HICP Table 3 level; empty: unclassified.")
    phi_categories = serializers.ListField(child=serializers.CharField())
    record_count_estimate = serializers.IntegerField(allow_null=True)
    encrypted_at_rest = serializers.ChoiceField(choices=Asset.Protection.choices)
    encrypted_at_rest_evidence = serializers.CharField()
    encrypted_in_transit = serializers.ChoiceField(choices=Asset.Protection.choices)
    encrypted_in_transit_evidence = serializers.CharField()
    retention = serializers.CharField()
    criticality = serializers.ChoiceField(choices=Asset.Criticality.choices)
    rto_minutes = serializers.IntegerField(allow_null=True)
    rpo_minutes = serializers.IntegerField(allow_null=True)
    clinical_services = serializers.ListField(child=serializers.CharField())
    department_ids = serializers.ListField(child=serializers.IntegerField())
    depends_on = serializers.SerializerMethodField()
    last_reviewed_on = serializers.DateField(allow_null=True)
    next_review_due = serializers.DateField(allow_null=True)
    last_assessed_on = serializers.DateField(allow_null=True)
    next_assessment_due = serializers.DateField(allow_null=True)
    review_state = serializers.ChoiceField(choices=Asset.ReviewState.choices)
    origin = serializers.ChoiceField(source="source", choices=Asset.Source.choices)
    system_key = serializers.CharField(allow_null=True)

    def get_depends_on(self, asset: Asset) -> list[int]:
        return sorted(link.depends_on_id for link in asset.dependency_links.all())


class AssetInput(serializers.Serializer[dict[str, Any]]):
    """What the asset form takes; the form checks it (the same rules as the pages)."""

    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Asset.Kind.choices)
    description = serializers.CharField(required=False, allow_blank=True)
    owner_person_id = serializers.IntegerField(required=False, allow_null=True)
    custodian_person_id = serializers.IntegerField(required=False, allow_null=True)
    location = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    hosting = serializers.ChoiceField(choices=Asset.Hosting.choices, default=Asset.Hosting.ON_PREMISES)
    vendor_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    network_zone = serializers.CharField(required=False, allow_blank=True, max_length=80)
    classification = serializers.ChoiceField(choices=Classification.choices, required=False, allow_blank=True)
    phi_categories = serializers.ListField(child=serializers.ChoiceField(choices=PHI_CHOICES), required=False)
    record_count_estimate = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    encrypted_at_rest = serializers.ChoiceField(
        choices=Asset.Protection.choices, default=Asset.Protection.UNKNOWN
    )
    encrypted_at_rest_evidence = serializers.CharField(required=False, allow_blank=True)
    encrypted_in_transit = serializers.ChoiceField(
        choices=Asset.Protection.choices, default=Asset.Protection.UNKNOWN
    )
    encrypted_in_transit_evidence = serializers.CharField(required=False, allow_blank=True)
    retention = serializers.CharField(required=False, allow_blank=True, max_length=200)
    criticality = serializers.ChoiceField(
        choices=Asset.Criticality.choices, default=Asset.Criticality.MODERATE
    )
    rto_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    rpo_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    clinical_services = serializers.ListField(child=serializers.CharField(max_length=80), required=False)
    department_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    depends_on = serializers.ListField(child=serializers.IntegerField(), required=False)
    last_reviewed_on = serializers.DateField(required=False, allow_null=True)
    next_review_due = serializers.DateField(required=False, allow_null=True)
    last_assessed_on = serializers.DateField(required=False, allow_null=True)
    next_assessment_due = serializers.DateField(required=False, allow_null=True)


def _checked_form(request: Request, instance: Asset | None) -> AssetForm:
    payload = AssetInput(data=request.data)
    payload.is_valid(raise_exception=True)
    data = QueryDict(mutable=True)
    for name, value in payload.validated_data.items():
        if name == "clinical_services":
            data[name] = ", ".join(value)
        elif isinstance(value, list):
            data.setlist(name, [str(item) for item in value])
        elif value is not None:
            data[name] = str(value)
    form = AssetForm(data=data, instance=instance)
    if not form.is_valid():
        raise ValidationError({name: [str(errors[0])] for name, errors in form.errors.items()})
    return form


def _conflict(error: Exception) -> Response:
    detail = str(error) if isinstance(error, services.AssetError) else "An asset of that name exists."
    return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)


class AssetList(APIView):
    required_permission = Perm.ASSETS_ASSET_READ
    token_scopes = {"GET": "read", "POST": "write"}

    def get_permissions(self) -> Any:
        # Registering needs more than reading: the POST declares its own permission.
        if self.request.method == "POST":
            self.required_permission = Perm.ASSETS_ASSET_MANAGE
        return super().get_permissions()

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=Asset.Kind.values),
            OpenApiParameter("classification", str, enum=Classification.values),
            OpenApiParameter("review_state", str, enum=Asset.ReviewState.values),
        ],
        responses=AssetOutput(many=True),
        operation_id="assets_list",
    )
    def get(self, request: Request) -> Response:
        filters = {}
        for name, allowed in (
            ("kind", Asset.Kind.values),
            ("classification", Classification.values),
            ("review_state", Asset.ReviewState.values),
        ):
            value = str(request.query_params.get(name, ""))
            if value and value not in allowed:
                raise ValidationError({name: ["Unknown value."]})
            filters[name] = value
        assets = selectors.assets_list(**filters).prefetch_related("dependency_links")[:MAX_LIST]
        return Response(AssetOutput(assets, many=True).data)

    @extend_schema(
        request=AssetInput, responses={201: AssetOutput, 409: ErrorOutput}, operation_id="assets_create"
    )
    def post(self, request: Request) -> Response:
        form = _checked_form(request, None)
        try:
            asset = services.asset_create(
                actor=_actor(request), values=form.asset_values(), depends_on_ids=form.depends_on_ids()
            )
        except (services.AssetError, IntegrityError) as error:
            return _conflict(error)
        return Response(AssetOutput(asset).data, status=status.HTTP_201_CREATED)


class AssetDetail(APIView):
    required_permission = Perm.ASSETS_ASSET_READ
    token_scopes = {"GET": "read", "PUT": "write"}

    def get_permissions(self) -> Any:
        if self.request.method == "PUT":
            self.required_permission = Perm.ASSETS_ASSET_MANAGE
        return super().get_permissions()

    @extend_schema(responses=AssetOutput, operation_id="assets_read")
    def get(self, request: Request, asset_id: int) -> Response:
        asset = selectors.asset_get(asset_id=asset_id)
        if asset is None:
            raise Http404
        return Response(AssetOutput(asset).data)

    @extend_schema(
        request=AssetInput,
        responses={200: AssetOutput, 409: ErrorOutput},
        operation_id="assets_replace",
        description="Replace the asset's fields (SafeWard's own stores keep their computed classification).",
    )
    def put(self, request: Request, asset_id: int) -> Response:
        asset = selectors.asset_get(asset_id=asset_id)
        if asset is None:
            raise Http404
        form = _checked_form(request, asset)
        try:
            asset = services.asset_update(
                actor=_actor(request),
                asset_id=asset.pk,
                values=form.asset_values(),
                depends_on_ids=form.depends_on_ids(),
            )
        except (services.AssetError, IntegrityError) as error:
            return _conflict(error)
        return Response(AssetOutput(asset).data)


class ImportInput(serializers.Serializer[dict[str, Any]]):
    csv = serializers.CharField(
        max_length=importer.MAX_BYTES,
        trim_whitespace=False,
        help_text="The inventory CSV (see the import page).",
    )


class AssetImportRowError(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    reason = serializers.CharField()


class ImportOutput(serializers.Serializer[Any]):
    applied = serializers.BooleanField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = AssetImportRowError(many=True)  # type: ignore[assignment]  # a field named like Serializer.errors


class AssetImport(APIView):
    """All or nothing: a file with any bad row is refused with every bad
    row's line and reason, and nothing is applied."""

    required_permission = Perm.ASSETS_ASSET_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=ImportInput,
        responses={
            200: ImportOutput,
            400: PolymorphicProxySerializer(
                component_name="AssetImportRefused",
                serializers=[ImportOutput, ErrorOutput],
                resource_type_field_name=None,
            ),
            409: ErrorOutput,
        },
        operation_id="assets_import",
    )
    def post(self, request: Request) -> Response:
        payload = ImportInput(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            result = importer.csv_import(actor=_actor(request), data=payload.validated_data["csv"].encode())
        except IntegrityError:
            return Response(
                {"detail": "The import conflicted with a concurrent edit; nothing was applied."},
                status=status.HTTP_409_CONFLICT,
            )
        body = {
            "applied": result.ok,
            "created": result.created,
            "updated": result.updated,
            "errors": result.errors,
        }
        return Response(
            ImportOutput(body).data, status=status.HTTP_200_OK if result.ok else status.HTTP_400_BAD_REQUEST
        )


urlpatterns = [
    path("", AssetList.as_view(), name="api_assets"),
    path("import/", AssetImport.as_view(), name="api_assets_import"),
    path("<int:asset_id>/", AssetDetail.as_view(), name="api_asset"),
]
