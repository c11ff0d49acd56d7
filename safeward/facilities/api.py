"""The facilities REST API (/api/v1/facilities/): areas, door events (read and
import, all-or-nothing), visitors (sign in, the desk's inpatient lookup), custody, certificates of
sanitization (record, validate) and disposal, single or bulk. Disposal is
refused without a validated certificate here as on the pages and the CLI.
One class per operation, each declaring its permission and token scope."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.facilities import patient_refs, selectors, services
from safeward.facilities.models import Area, Certificate, CustodyEvent, DoorEvent
from safeward.identity.models import User
from safeward.identity.permissions import Perm

MAX_LIST = 5000
MAX_BULK = 500


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class AreaOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Area.Kind.choices)
    classification = serializers.ChoiceField(choices=Area.Classification.choices)
    site = serializers.CharField(source="site.name")
    time_zone = serializers.CharField(source="site.time_zone")
    building = serializers.CharField()
    floor = serializers.CharField()
    room = serializers.CharField()


class DoorEventOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    credential_id = serializers.CharField()
    person_id = serializers.IntegerField(allow_null=True)
    door = serializers.CharField(source="door.code")
    area = serializers.CharField(source="area.code")
    occurred_at = serializers.DateTimeField()
    granted = serializers.BooleanField()
    direction = serializers.ChoiceField(choices=DoorEvent.Direction.choices)


class DoorEventInput(serializers.Serializer[Any]):
    events = serializers.ListField(child=serializers.DictField(), max_length=100_000)


class DoorImportOutput(serializers.Serializer[Any]):
    events = serializers.IntegerField()
    alerts = serializers.IntegerField()


class VisitorInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    host = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        default="",
        help_text="Who they visit (empty for a patient's visitor).",
    )
    patient_ref = serializers.CharField(
        max_length=patient_refs.MAX_REF_CHARS,
        required=False,
        allow_blank=True,
        default="",
        help_text="A patient's visitor: the `patient_ref` of a match from the patient lookup "
        "(same user and desk session, at most 10 minutes old). The patient is checked again "
        "through the gateway: still in a bed, an escort for a confidential patient.",
    )
    purpose = serializers.CharField(max_length=200)
    badge_number = serializers.CharField(max_length=20)
    organisation = serializers.CharField(max_length=120, required=False, default="")
    areas = serializers.CharField(max_length=200, required=False, default="")
    escort = serializers.CharField(max_length=120, required=False, default="")
    expected_minutes = serializers.IntegerField(min_value=5, max_value=1440, required=False, default=120)
    flagged_patient_visit = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["host"] and not attrs["patient_ref"]:
            raise ValidationError({"host": "Name the person visited, or give the patient_ref of a patient."})
        return attrs


class VisitorOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    host = serializers.CharField()
    badge_number = serializers.CharField()
    destination = serializers.CharField(
        help_text="A patient's visitor: ward and bed, or escorted by the ward."
    )
    flagged_patient_visit = serializers.BooleanField()
    signed_in_at = serializers.DateTimeField()
    signed_out_at = serializers.DateTimeField(allow_null=True)


class PatientLookupInput(serializers.Serializer[Any]):
    # In the body only: a patient's name never sits in a URL (ADR 0540, ADR 1113).
    given_name = serializers.CharField(max_length=200, trim_whitespace=True)
    family_name = serializers.CharField(max_length=200, trim_whitespace=True)


class VisitorPatientOutput(serializers.Serializer[Any]):
    display_name = serializers.CharField(help_text="Given name and family initial.")
    ward = serializers.CharField(help_text="Empty for a confidential patient.")
    bed = serializers.CharField(help_text="Empty for a confidential patient.")
    visiting_allowed = serializers.BooleanField()
    escort_required = serializers.BooleanField(
        help_text="The ward confirms the visit and an escort takes the visitor (confidential patient)."
    )
    flagged = serializers.BooleanField(help_text="VIP or confidential: the visit is listed for privacy.")
    patient_ref = serializers.CharField(
        help_text="Opaque and short-lived (10 minutes), for this user's desk session only: "
        "give it to the sign-in to register the visit against this patient."
    )


class PatientLookupOutput(serializers.Serializer[Any]):
    results = VisitorPatientOutput(many=True)


class CustodyOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    device_id = serializers.IntegerField(allow_null=True)
    medium = serializers.CharField(source="medium.property_number", allow_null=True, default=None)
    kind = serializers.ChoiceField(choices=CustodyEvent.Kind.choices)
    holder_person_id = serializers.IntegerField(allow_null=True)
    location = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class CertificateInput(serializers.Serializer[Any]):
    device_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    medium_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    person_name = serializers.CharField(max_length=120)
    person_title = serializers.CharField(max_length=120)
    person_organisation = serializers.CharField(max_length=120)
    person_location = serializers.CharField(max_length=120)
    person_phone = serializers.CharField(max_length=40)
    media_make = serializers.CharField(max_length=120)
    media_model = serializers.CharField(max_length=120)
    media_serial = serializers.CharField(max_length=120)
    media_property_number = serializers.CharField(max_length=64)
    media_type = serializers.CharField(max_length=40)
    media_source = serializers.CharField(max_length=120)
    classification = serializers.CharField(max_length=40)
    backed_up = serializers.BooleanField()
    backup_location = serializers.CharField(max_length=200, required=False, default="")
    method_type = serializers.ChoiceField(choices=Certificate.MethodType.choices)
    method = serializers.ChoiceField(choices=Certificate.Method.choices)
    tool = serializers.CharField(max_length=120)
    tool_version = serializers.CharField(max_length=40)
    verification = serializers.ChoiceField(choices=Certificate.Verification.choices)
    post_classification = serializers.CharField(max_length=40)
    destination = serializers.ChoiceField(choices=Certificate.Destination.choices)
    standard = serializers.ChoiceField(choices=Certificate.Standard.choices)
    pickup = serializers.CharField(max_length=64, required=False, default="")


class CertificateOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    device_id = serializers.IntegerField(allow_null=True)
    medium_id = serializers.IntegerField(allow_null=True)
    method_type = serializers.ChoiceField(choices=Certificate.MethodType.choices)
    method = serializers.ChoiceField(choices=Certificate.Method.choices)
    standard = serializers.ChoiceField(choices=Certificate.Standard.choices)
    destination = serializers.ChoiceField(choices=Certificate.Destination.choices)
    operator = serializers.CharField(source="operator.username")
    validator = serializers.CharField(source="validator.username", allow_null=True, default=None)
    validated_at = serializers.DateTimeField(allow_null=True)
    patients_in_scope = serializers.IntegerField()
    evidence_sha256 = serializers.CharField()
    pickup = serializers.CharField()
    disposed_at = serializers.DateTimeField(allow_null=True)


class DisposeInput(serializers.Serializer[Any]):
    pickup = serializers.CharField(max_length=64, required=False, default="")


class BulkDisposeInput(serializers.Serializer[Any]):
    certificate_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_BULK
    )
    pickup = serializers.CharField(max_length=64, required=False, default="")


class BulkDisposeOutput(serializers.Serializer[Any]):
    disposed = serializers.IntegerField()


def _refused(error: Exception) -> Response:
    return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)


class AreaList(APIView):
    required_permission = Perm.FACILITY_AREA_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=AreaOutput(many=True), operation_id="facilities_areas_list")
    def get(self, request: Request) -> Response:
        return Response(AreaOutput(selectors.areas_list()[:MAX_LIST], many=True).data)


class EventList(APIView):
    required_permission = Perm.FACILITY_AREA_READ
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[OpenApiParameter("area", int), OpenApiParameter("person", int)],
        responses=DoorEventOutput(many=True),
        operation_id="facilities_events_list",
    )
    def get(self, request: Request) -> Response:
        area, person = request.query_params.get("area", ""), request.query_params.get("person", "")
        if area.isdigit() and len(area) < 12:
            events = selectors.events_for_area(area_id=int(area), limit=MAX_LIST)
        elif person.isdigit() and len(person) < 12:
            events = selectors.events_for_person(person_id=int(person), limit=MAX_LIST)
        else:
            raise ValidationError({"area": ["Give an area id or a person id."]})
        return Response(DoorEventOutput(events, many=True).data)


class EventImport(APIView):
    required_permission = Perm.FACILITY_AREA_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=DoorEventInput, responses={201: DoorImportOutput}, operation_id="facilities_events_import"
    )
    def post(self, request: Request) -> Response:
        data = DoorEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = services.events_ingest(
                actor=_actor(request), rows=data.validated_data["events"], source="api"
            )
        except services.ImportRejected as rejected:
            raise ValidationError({"events": rejected.errors[:200]}) from None
        return Response({"events": result.events, "alerts": result.alerts}, status=status.HTTP_201_CREATED)


class VisitorList(APIView):
    required_permission = Perm.FACILITY_VISITOR_MANAGE
    token_scopes = {"GET": "read"}

    @extend_schema(responses=VisitorOutput(many=True), operation_id="facilities_visitors_on_site")
    def get(self, request: Request) -> Response:
        return Response(VisitorOutput(selectors.visitors_on_site()[:MAX_LIST], many=True).data)


class VisitorSignIn(APIView):
    required_permission = Perm.FACILITY_VISITOR_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=VisitorInput, responses={201: VisitorOutput}, operation_id="facilities_visitors_sign_in"
    )
    def post(self, request: Request) -> Response:
        data = VisitorInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        ref = fields.pop("patient_ref")
        actor = _actor(request)
        session = SessionContext.from_request(request)
        patient_id = ""
        if ref:
            if request.auth is not None:
                # A bearer-token request may still carry the desk's session cookie:
                # a patient visit is the desk session's act alone (ADR 1115).
                raise ValidationError({"patient_ref": patient_refs.INVALID})
            try:
                patient_id = patient_refs.ref_open(actor=actor, session=session, value=ref)
            except patient_refs.RefInvalid as invalid:
                raise ValidationError({"patient_ref": str(invalid)}) from None
        try:
            visitor = services.visitor_sign_in(actor=actor, patient_id=patient_id, session=session, **fields)
        except services.FacilityError as error:
            return _refused(error)
        return Response(VisitorOutput(visitor).data, status=status.HTTP_201_CREATED)


class VisitorPatientLookup(APIView):
    """The visitor desk's inpatient lookup (ADR 1111, ADR 1113): the page's
    gateway entry, its refusals and its one audit event (the patients shown,
    never the names typed). POST only, so the names stay out of URLs and
    logs. A signed-in desk session only: no token scope reaches it, since a
    patient's ward is chart data and the `read` scope is for what lies
    outside the chart (ADR 0606)."""

    required_permission = Perm.FACILITY_VISITOR_MANAGE
    token_scopes: dict[str, str] = {}

    @extend_schema(
        request=PatientLookupInput,
        responses=PatientLookupOutput,
        operation_id="facilities_visitors_patient_lookup",
    )
    def post(self, request: Request) -> Response:
        data = PatientLookupInput(data=request.data)
        data.is_valid(raise_exception=True)
        actor, session = _actor(request), SessionContext.from_request(request)
        try:
            found = gateway.visitor_patient_lookup(
                actor=actor,
                session=session,
                given_name=data.validated_data["given_name"],
                family_name=data.validated_data["family_name"],
            )
        except gateway.InvalidInput as error:
            raise ValidationError(error.errors) from None
        except gateway.Forbidden:
            raise PermissionDenied("Patient lookup is not available from this session.") from None
        return Response(
            {
                "results": [
                    {
                        "display_name": p.display_name,
                        "ward": p.ward,
                        "bed": p.bed,
                        "visiting_allowed": p.visiting_allowed,
                        "escort_required": not p.visiting_allowed,
                        "flagged": p.flagged,
                        "patient_ref": patient_refs.ref_issue(actor=actor, session=session, patient_id=p.id),
                    }
                    for p in found
                ]
            }
        )


class CustodyList(APIView):
    required_permission = Perm.FACILITY_CUSTODY_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=CustodyOutput(many=True), operation_id="facilities_custody_list")
    def get(self, request: Request) -> Response:
        return Response(CustodyOutput(selectors.custody_log(limit=MAX_LIST), many=True).data)


class CertificateList(APIView):
    required_permission = Perm.FACILITY_CUSTODY_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=CertificateOutput(many=True), operation_id="facilities_certificates_list")
    def get(self, request: Request) -> Response:
        return Response(CertificateOutput(selectors.disposal_queue()[:MAX_LIST], many=True).data)


class CertificateRecord(APIView):
    required_permission = Perm.FACILITY_CUSTODY_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=CertificateInput,
        responses={201: CertificateOutput},
        operation_id="facilities_certificates_record",
    )
    def post(self, request: Request) -> Response:
        data = CertificateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        device_id, medium_id = fields.pop("device_id"), fields.pop("medium_id")
        try:
            certificate = services.certificate_record(
                actor=_actor(request), fields=fields, device_id=device_id, medium_id=medium_id
            )
        except services.FacilityError as error:
            raise ValidationError({"detail": [str(error)]}) from None
        return Response(CertificateOutput(certificate).data, status=status.HTTP_201_CREATED)


class CertificateValidate(APIView):
    required_permission = Perm.FACILITY_CUSTODY_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(request=None, responses=CertificateOutput, operation_id="facilities_certificates_validate")
    def post(self, request: Request, certificate_id: int) -> Response:
        if selectors.certificate_get(certificate_id=certificate_id) is None:
            raise Http404
        try:
            certificate = services.certificate_validate(actor=_actor(request), certificate_id=certificate_id)
        except services.FacilityError as error:
            return _refused(error)
        return Response(CertificateOutput(certificate).data)


class CertificateDispose(APIView):
    required_permission = Perm.FACILITY_CUSTODY_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=DisposeInput, responses=CertificateOutput, operation_id="facilities_certificates_dispose"
    )
    def post(self, request: Request, certificate_id: int) -> Response:
        if selectors.certificate_get(certificate_id=certificate_id) is None:
            raise Http404
        data = DisposeInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            certificate = services.disposal_record(
                actor=_actor(request), certificate_id=certificate_id, pickup=data.validated_data["pickup"]
            )
        except services.FacilityError as error:
            return _refused(error)
        return Response(CertificateOutput(certificate).data)


class BulkDispose(APIView):
    """A recycler's pallet: every certificate validated, or nothing leaves."""

    required_permission = Perm.FACILITY_CUSTODY_MANAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=BulkDisposeInput, responses=BulkDisposeOutput, operation_id="facilities_disposals_bulk"
    )
    def post(self, request: Request) -> Response:
        data = BulkDisposeInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            count = services.disposals_bulk(
                actor=_actor(request),
                certificate_ids=data.validated_data["certificate_ids"],
                pickup=data.validated_data["pickup"],
            )
        except services.FacilityError as error:
            return _refused(error)
        return Response({"disposed": count})


urlpatterns = [
    path("areas/", AreaList.as_view(), name="areas"),
    path("events/", EventList.as_view(), name="events"),
    path("events/import/", EventImport.as_view(), name="events_import"),
    path("visitors/", VisitorList.as_view(), name="visitors"),
    path("visitors/sign-in/", VisitorSignIn.as_view(), name="visitor_sign_in"),
    path("visitors/patient-lookup/", VisitorPatientLookup.as_view(), name="visitor_patient_lookup"),
    path("custody/", CustodyList.as_view(), name="custody"),
    path("certificates/", CertificateList.as_view(), name="certificates"),
    path("certificates/new/", CertificateRecord.as_view(), name="certificate_record"),
    path(
        "certificates/<int:certificate_id>/validate/",
        CertificateValidate.as_view(),
        name="certificate_validate",
    ),
    path(
        "certificates/<int:certificate_id>/dispose/", CertificateDispose.as_view(), name="certificate_dispose"
    ),
    path("disposals/bulk/", BulkDispose.as_view(), name="disposals_bulk"),
]
