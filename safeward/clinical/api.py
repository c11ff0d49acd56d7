"""The clinical REST API: the chart and scheduling over JSON, for the
hospital's own integrations. Thin, like the web views: explicit input and
output serializers, one class per operation, each declaring its permission;
the gateway decides, decrypts, audits and writes. Gateway errors become
404 / 400 / 409 / 403 with one JSON shape (`ErrorOutput`).

Authentication: a SafeWard browser session, or an OAuth2 bearer token. Each
view names the SMART operation it performs (`scope`: resource type and
permission, the patient from the URL or the body); a token is put to the
same scope decision as FHIR's before the gateway is called (safeward/fhir/
smart.py, ADR 0606): no scope is 403, a patient outside a `patient/` token's
launch context is 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.audit.manifests import ManifestDraft, manifest_response, manifest_write, request_client_id
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.scopes import Operation, session_for
from safeward.clinical.types import (
    Chart,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatientInput,
    PossibleDuplicates,
    SessionContext,
)
from safeward.crypto.normalise import normalise
from safeward.identity.api_permissions import BY_OPERATION
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.api_errors import ErrorOutput

SEXES = ("female", "male", "other", "unknown")
NOTE_KINDS = ("progress", "admission", "discharge", "nursing")
CRITICALITIES = ("low", "high", "unable")
SENSITIVITIES = ("", "mental_health", "sud", "hiv", "reproductive")


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def purpose_for(user: User) -> PurposeOfUse:
    """The purpose of use a person's work implies (recorded in every audit event)."""
    if user.has_perm(Perm.CLINICAL_CHART_READ):
        return PurposeOfUse.TREATMENT
    if user.has_perm(Perm.CLINICAL_INSURANCE_READ):
        return PurposeOfUse.PAYMENT
    return PurposeOfUse.OPERATIONS


# --- errors -----------------------------------------------------------------------------------
ERRORS = {
    400: ErrorOutput,
    401: ErrorOutput,
    403: ErrorOutput,
    404: ErrorOutput,
    405: ErrorOutput,
    406: ErrorOutput,
    409: ErrorOutput,
    415: ErrorOutput,
}


def _first(value: Any) -> str:
    while isinstance(value, list | tuple) and value:
        value = value[0]
    if isinstance(value, dict):
        return "Invalid value."
    return str(value)


class ClinicalAPIView(APIView):
    """Maps the gateway's errors (and DRF's) onto one JSON error shape.
    `scope`: the SMART resource type and permission (c r u d s) a bearer
    token needs for this view's operation (ADR 0606)."""

    required_permission: Perm
    scope: tuple[str, str]
    token_scopes = dict.fromkeys(("GET", "POST"), BY_OPERATION)
    # A read whose body carries patient data names its route: each response
    # that holds a patient is an export with its manifest (ADR 0811).
    manifest_route = ""

    def manifest_contents(self, data: Any) -> tuple[list[str], list[str]]:
        """(patient ids, sections) in a response body of this view."""
        raise NotImplementedError

    # The response `rendered_manifested` already manifested (finalize_response writes no second one).
    _manifested: Response | None = None

    def _draft(self, request: Request, data: Any) -> ManifestDraft | None:
        """The manifest of a 200 body of this view; None when it holds no patient."""
        user = request.user
        assert isinstance(user, User)  # a 200 here has passed the permission checks
        patient_ids, sections = self.manifest_contents(data)
        if not patient_ids:
            return None
        return ManifestDraft(
            kind="api",
            route=self.manifest_route,
            purpose=purpose_for(user).value,
            patient_ids=patient_ids,
            sections=tuple(sections),
            client_id=request_client_id(request),
        )

    def rendered_manifested(self, request: Request, data: Any) -> Response:
        """`data` rendered now, as DRF would render it after the view, and its
        manifest written now from those bytes: in the caller's transaction,
        so a read whose audit event commits writes its manifest in the same
        commit (the chart, ADR 1631) instead of a transaction of its own."""
        response = Response(data)
        response.accepted_renderer = request.accepted_renderer
        response.accepted_media_type = request.accepted_media_type
        response.renderer_context = self.get_renderer_context()  # type: ignore[attr-defined]  # set by DRF, not in its stubs
        response.render()
        draft = self._draft(request, data)
        if draft is not None:
            manifest_write(actor=_actor(request), draft=draft, content=response.content)
        self._manifested = response
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            self.manifest_route
            and isinstance(response, Response)
            and response.status_code == 200
            and response is not self._manifested
        ):
            draft = self._draft(request, response.data)
            if draft is not None:
                manifest_response(response, actor=_actor(request), draft=draft)
        return response

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, NotFound):
            return Response({"detail": "No such record."}, status=status.HTTP_404_NOT_FOUND)
        if isinstance(exc, InvalidInput):
            return Response({"detail": "Invalid input.", "errors": exc.errors}, status=400)
        if isinstance(exc, PossibleDuplicates):
            ids = ", ".join(c.id for c in exc.candidates)
            message = f"Patients with the same name and date of birth are registered: {ids}."
            return Response(
                {
                    "detail": "Possible duplicate patient: check the candidates, then confirm.",
                    "errors": {"confirm_not_duplicate": message},
                },
                status=status.HTTP_409_CONFLICT,
            )
        if isinstance(exc, Conflict):
            return Response({"detail": str(exc) or "Conflict."}, status=status.HTTP_409_CONFLICT)
        if isinstance(exc, Forbidden):
            return Response({"detail": "Not permitted."}, status=status.HTTP_403_FORBIDDEN)
        if isinstance(exc, exceptions.ValidationError):
            detail = exc.detail
            errors = (
                {str(k): _first(v) for k, v in detail.items()}
                if isinstance(detail, dict)
                else {"body": _first(detail)}
            )
            return Response({"detail": "Invalid input.", "errors": errors}, status=400)
        response = super().handle_exception(exc)
        if isinstance(response.data, dict) and "detail" in response.data:
            response.data = {"detail": str(response.data["detail"])}
        elif response.status_code >= 400:
            response.data = {"detail": "Request refused."}
        return response

    def session(self, request: Request, patient_id: str | None, *, pinnable: bool) -> SessionContext:
        resource_type, permission = self.scope
        operation = Operation(resource_type, permission, patient_id, pinnable=pinnable)
        return session_for(request, operation)

    def ctx(
        self, request: Request, patient_id: str | None = None, *, pinnable: bool = True
    ) -> dict[str, Any]:
        """The gateway's keyword arguments; a token the scope decision refuses
        raises here (403 / 404), before the gateway is called."""
        user = _actor(request)
        return {
            "actor": user,
            "session": self.session(request, patient_id, pinnable=pinnable),
            "purpose": purpose_for(user),
        }


# --- output serializers -----------------------------------------------------------------------
class PatientOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    restricted = serializers.BooleanField()
    sections = serializers.SerializerMethodField()
    mrn = serializers.CharField(allow_null=True)
    given_name = serializers.CharField(allow_null=True)
    family_name = serializers.CharField(allow_null=True)
    birth_date = serializers.DateField(allow_null=True)
    sex = serializers.CharField(allow_null=True)
    gender_identity = serializers.CharField(allow_null=True)
    deceased = serializers.BooleanField(allow_null=True)
    deceased_date = serializers.DateField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())
    address = serializers.DictField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    national_id = serializers.CharField(allow_null=True)
    insurance = serializers.DictField(allow_null=True)

    def get_sections(self, obj: Any) -> list[str]:
        return sorted(str(s) for s in obj.sections)


class SearchOutput(serializers.Serializer[Any]):
    results = PatientOutput(many=True)
    page = serializers.IntegerField()
    has_next = serializers.BooleanField()
    capped = serializers.BooleanField()
    # Only patients with a care relationship were searched: add the date of
    # birth or an identifier to find anyone else.
    narrowed = serializers.BooleanField()


class EncounterOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    department = serializers.CharField()
    attending = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    sensitivity = serializers.CharField(allow_blank=True)


class NoteOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    kind = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    author = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    encounter_id = serializers.CharField(allow_null=True)
    sensitivity = serializers.CharField(allow_blank=True)


class ConditionOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    code_system = serializers.CharField()
    code = serializers.CharField()
    display = serializers.CharField(allow_blank=True)
    clinical_status = serializers.CharField()
    onset = serializers.DateField(allow_null=True)
    recorded_at = serializers.DateTimeField()
    sensitivity = serializers.CharField(allow_blank=True)


class AllergyOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    substance = serializers.CharField()
    reaction = serializers.CharField(allow_null=True)
    criticality = serializers.CharField()
    clinical_status = serializers.CharField()
    recorded_at = serializers.DateTimeField()


class MedicationOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    medication = serializers.CharField()
    rxnorm = serializers.CharField(allow_null=True)
    dosage = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    authored_at = serializers.DateTimeField()
    requester = serializers.CharField(allow_blank=True)
    sensitivity = serializers.CharField(allow_blank=True)


class AdministrationOutput(serializers.Serializer[Any]):
    """A dose given against a medication order (ADR 1419, 1420)."""

    id = serializers.CharField()
    request_id = serializers.CharField(
        help_text="The medication order (MedicationRequest) it was given against."
    )
    medication = serializers.CharField(allow_blank=True)
    dose = serializers.CharField()
    dose_unit = serializers.CharField(help_text="UCUM unit.")
    route = serializers.CharField()
    administered_at = serializers.DateTimeField(help_text="When it was given (the time on the paper).")
    recorded_by = serializers.CharField(allow_blank=True)
    # A declared field named like Field.source: DRF's metaclass pops declared fields off the class.
    source = serializers.ChoiceField(choices=("chart", "paper (downtime)"))  # type: ignore[assignment]
    late_entry_at = serializers.DateTimeField(
        allow_null=True, help_text="Entered from the paper MAR after a downtime, at this time."
    )
    verified_by = serializers.CharField(allow_blank=True, help_text="The second person who checked it.")
    verified_at = serializers.DateTimeField(allow_null=True)
    sensitivity = serializers.CharField(allow_blank=True)


class ObservationOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    category = serializers.CharField()
    status = serializers.CharField()
    code = serializers.CharField()
    display = serializers.CharField(allow_blank=True)
    value = serializers.CharField(allow_null=True)
    unit = serializers.CharField(allow_blank=True)
    effective_at = serializers.DateTimeField()
    sensitivity = serializers.CharField(allow_blank=True)
    late_entry_at = serializers.DateTimeField(
        allow_null=True, help_text="Entered from paper after a downtime, at this time (ADR 1415)."
    )


class AppointmentOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    patient_id = serializers.CharField()
    patient = PatientOutput(allow_null=True)
    department = serializers.CharField()
    department_id = serializers.IntegerField()
    clinician = serializers.CharField(allow_blank=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_null=True)
    encounter_id = serializers.CharField(allow_null=True)


class DocumentOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    title = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    sensitivity = serializers.CharField(allow_blank=True)


class CareTeamOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    user_id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    role = serializers.CharField()
    ends_at = serializers.DateTimeField(allow_null=True)


class ImmunizationOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    status = serializers.CharField()
    vaccine_code = serializers.CharField()
    vaccine = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    sensitivity = serializers.CharField(allow_blank=True)


class ProcedureOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    status = serializers.CharField()
    code = serializers.CharField()
    display = serializers.CharField()
    performed_at = serializers.DateTimeField()
    performed_end = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    sensitivity = serializers.CharField(allow_blank=True)


class ReportOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    status = serializers.CharField()
    category = serializers.CharField()
    code = serializers.CharField()
    display = serializers.CharField()
    effective_at = serializers.DateTimeField()
    issued_at = serializers.DateTimeField(allow_null=True)
    conclusion = serializers.CharField(allow_null=True)
    result_ids = serializers.ListField(child=serializers.CharField())
    sensitivity = serializers.CharField(allow_blank=True)


class AmendmentRequestOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    patient_id = serializers.CharField()
    status = serializers.ChoiceField(choices=("pending", "accepted", "denied"))
    request = serializers.CharField()
    received_at = serializers.DateTimeField()
    received_by = serializers.CharField(allow_blank=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField(allow_blank=True)
    denial_reason = serializers.CharField(allow_null=True)
    disagreement = serializers.CharField(allow_null=True)
    applied_type = serializers.CharField(allow_blank=True)
    applied_id = serializers.CharField(allow_null=True)


class ChartOutput(serializers.Serializer[Any]):
    patient = PatientOutput()
    sections = serializers.SerializerMethodField()
    emergency = serializers.BooleanField()
    withheld_sensitive = serializers.IntegerField()
    encounters = EncounterOutput(many=True, allow_null=True)
    notes = NoteOutput(many=True, allow_null=True)
    problems = ConditionOutput(many=True, allow_null=True)
    medications = MedicationOutput(many=True, allow_null=True)
    administrations = AdministrationOutput(many=True, allow_null=True)
    allergies = AllergyOutput(many=True, allow_null=True)
    orders = ObservationOutput(many=True, allow_null=True)
    results = ObservationOutput(many=True, allow_null=True)
    appointments = AppointmentOutput(many=True, allow_null=True)
    documents = DocumentOutput(many=True, allow_null=True)
    care_team = CareTeamOutput(many=True, allow_null=True)
    immunizations = ImmunizationOutput(many=True, allow_null=True)
    procedures = ProcedureOutput(many=True, allow_null=True)
    reports = ReportOutput(many=True, allow_null=True)
    amendment_requests = AmendmentRequestOutput(many=True, allow_null=True)

    def get_sections(self, obj: Any) -> list[str]:
        return sorted(str(s) for s in obj.sections)


# DRF builds a serializer's fields (deep copies of the declared ones) for each
# instance: about 1 ms for the chart's hundred-odd fields, five times what
# representing a chart with them costs. Representing reads the bound fields
# and changes nothing, so every chart reuses one instance's (ADR 1631).
_CHART_OUTPUT = ChartOutput()


def chart_data(chart: Chart) -> dict[str, Any]:
    """The REST chart's body, exactly as `ChartOutput(chart).data`."""
    return _CHART_OUTPUT.to_representation(chart)


class SlotOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    department_id = serializers.IntegerField()
    clinician = serializers.CharField(allow_blank=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    appointment = AppointmentOutput(allow_null=True)
    blocked = serializers.BooleanField()


# --- input serializers ------------------------------------------------------------------------
class SearchInput(serializers.Serializer[Any]):
    mrn = serializers.CharField(max_length=40, required=False, allow_blank=True)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False)
    national_id = serializers.CharField(max_length=40, required=False, allow_blank=True)
    page = serializers.IntegerField(min_value=1, max_value=100, required=False, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=50, required=False, default=20)


class AddressInput(serializers.Serializer[Any]):
    """A postal address, stored (encrypted) with the importer's and the forms' keys."""

    line = serializers.ListField(child=serializers.CharField(max_length=200), max_length=4, default=list)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    state = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


def _matchable_name(value: str) -> None:
    """A name the duplicate check can compare (a letter or digit in it), or a
    400 naming the field; the message never repeats the value."""
    try:
        normalise("name", value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None


class PatientInputSerializer(serializers.Serializer[Any]):
    given_name = serializers.CharField(max_length=200, validators=[_matchable_name])
    family_name = serializers.CharField(max_length=200, validators=[_matchable_name])
    birth_date = serializers.DateField()
    sex = serializers.ChoiceField(choices=SEXES, default="unknown")
    mrn = serializers.CharField(max_length=40, required=False, allow_null=True, default=None)
    gender_identity = serializers.CharField(max_length=100, required=False, allow_null=True, default=None)
    national_id = serializers.CharField(max_length=40, required=False, allow_null=True, default=None)
    phone = serializers.CharField(max_length=40, required=False, allow_null=True, default=None)
    email = serializers.EmailField(max_length=254, required=False, allow_null=True, default=None)
    address = AddressInput(required=False, allow_null=True, default=None)
    is_employee = serializers.BooleanField(default=False)
    is_vip = serializers.BooleanField(default=False)
    is_confidential = serializers.BooleanField(default=False)
    # Patients with the same names and date of birth exist: register anyway (a 409 lists them first).
    confirm_not_duplicate = serializers.BooleanField(default=False)
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


class NoteInput(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=20000)
    kind = serializers.ChoiceField(choices=NOTE_KINDS, default="progress")
    sensitivity = serializers.ChoiceField(choices=SENSITIVITIES, default="")
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


class ConditionInput(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=20)
    display = serializers.CharField(max_length=200)
    onset = serializers.DateField(required=False, allow_null=True, default=None)
    sensitivity = serializers.ChoiceField(choices=SENSITIVITIES, default="")
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


class AllergyInput(serializers.Serializer[Any]):
    substance = serializers.CharField(max_length=200)
    reaction = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    criticality = serializers.ChoiceField(choices=CRITICALITIES, default="low")
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


class ScheduleInput(serializers.Serializer[Any]):
    department_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    day = serializers.DateField()
    clinician_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)


class BookInput(serializers.Serializer[Any]):
    patient_id = serializers.UUIDField()
    slot_id = serializers.UUIDField()
    reason = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


def _valid(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


PATIENT_ID = OpenApiParameter("patient_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


# --- patients ---------------------------------------------------------------------------------
# Criteria that identify a person never travel in a URL (proxies, browser
# histories and access logs keep URLs): a search posts them as JSON (ADR 0540).
SEARCH_CRITERIA = ("mrn", "name", "birth_date", "national_id")
SEARCH_PATH = "/api/v1/clinical/patients/search/"


class PatientCollection(ClinicalAPIView):
    """POST: register (needs register). GET is not offered: a search is
    POST patients/search/, and a GET gets a 405 that says so (ADR 0540)."""

    required_permission = Perm.CLINICAL_PATIENT_READ
    scope = ("Patient", "c")

    def get_permissions(self) -> Any:
        # Registering needs more than searching: the POST declares its own permission.
        if self.request.method == "POST":
            self.required_permission = Perm.CLINICAL_PATIENT_REGISTER
        return super().get_permissions()

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Response:  # a DRF Request
        """GET is not a search any more: a 405 that points to the POST search,
        naming the criteria it saw (never their values)."""
        if request.method != "GET":
            return super().http_method_not_allowed(request, *args, **kwargs)
        sent = sorted(k for k in request.query_params if k in SEARCH_CRITERIA)
        errors = dict.fromkeys(sent, f"Not accepted in a URL; POST it as JSON to {SEARCH_PATH}.")
        return Response(
            {
                "detail": f"Patient search is POST {SEARCH_PATH} with the criteria in a JSON body: "
                "identifying criteria never go in a URL.",
                **({"errors": errors} if errors else {}),
            },
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
        )

    @extend_schema(
        request=PatientInputSerializer,
        responses={201: PatientOutput, **ERRORS},
        operation_id="clinical_patient_register",
    )
    def post(self, request: Request) -> Response:
        ctx = self.ctx(request, pinnable=False)  # a new patient is nobody's launch patient
        data = _valid(PatientInputSerializer, request.data)
        submission = data.pop("submission")
        confirmed = data.pop("confirm_not_duplicate")
        view = gateway.patient_register(
            **ctx, data=PatientInput(**data), confirm_not_duplicate=confirmed, submission=submission
        )
        return Response(PatientOutput(view).data, status=status.HTTP_201_CREATED)


class PatientSearch(ClinicalAPIView):
    """POST patients/search/: at least one criterion (MRN, name prefix, date
    of birth, national id) in the JSON body; the gateway audits the search
    with the kinds of criteria, never their values."""

    required_permission = Perm.CLINICAL_PATIENT_READ
    scope = ("Patient", "s")
    manifest_route = "clinical_api:patient_search"

    def manifest_contents(self, data: Any) -> tuple[list[str], list[str]]:
        results = data["results"]
        return [r["id"] for r in results], sorted({s for r in results for s in r["sections"]})

    @extend_schema(
        request=SearchInput,
        responses={200: SearchOutput, **ERRORS},
        operation_id="clinical_patient_search",
        description="Search patients. The criteria go in the body, never in the URL.",
    )
    def post(self, request: Request) -> Response:
        ctx = self.ctx(request)  # a `patient/` token finds its launch patient only
        query = _valid(SearchInput, request.data)
        page = gateway.patient_search(
            **ctx,
            mrn=query.get("mrn") or None,
            name=query.get("name") or None,
            birth_date=query.get("birth_date"),
            national_id=query.get("national_id") or None,
            page=query["page"],
            page_size=query["page_size"],
        )
        return Response(SearchOutput(page).data)


class PatientDetail(ClinicalAPIView):
    required_permission = Perm.CLINICAL_PATIENT_READ
    scope = ("Patient", "r")
    manifest_route = "clinical_api:patient"

    def manifest_contents(self, data: Any) -> tuple[list[str], list[str]]:
        return [data["id"]], list(data["sections"])

    @extend_schema(
        parameters=[PATIENT_ID],
        responses={200: PatientOutput, **ERRORS},
        operation_id="clinical_patient_read",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        view = gateway.patient_read(**self.ctx(request, patient_id), patient_id=patient_id)
        return Response(PatientOutput(view).data)


class ChartDetail(ClinicalAPIView):
    """The chart opens as a Patient read; each other section shows as far as
    the token may read its type."""

    required_permission = Perm.CLINICAL_PATIENT_READ
    scope = ("Patient", "r")
    manifest_route = "clinical_api:chart"

    def manifest_contents(self, data: Any) -> tuple[list[str], list[str]]:
        return [data["patient"]["id"]], list(data["sections"])

    @extend_schema(
        parameters=[PATIENT_ID], responses={200: ChartOutput, **ERRORS}, operation_id="clinical_chart_read"
    )
    def get(self, request: Request, patient_id: str) -> Response:
        sent: list[Response] = []

        def leaving(chart: Chart) -> None:  # in the READ event's transaction (ADR 1631)
            sent.append(self.rendered_manifested(request, chart_data(chart)))

        gateway.chart_read(**self.ctx(request, patient_id), patient_id=patient_id, leaving=leaving)
        return sent[0]


class NoteCreate(ClinicalAPIView):
    required_permission = Perm.CLINICAL_NOTE_WRITE
    # A clinical note is a DocumentReference in SMART; no SafeWard scope grants
    # that type, so no token writes notes (they are never disclosed to tokens either).
    scope = ("DocumentReference", "c")

    @extend_schema(
        parameters=[PATIENT_ID],
        request=NoteInput,
        responses={201: NoteOutput, **ERRORS},
        operation_id="clinical_note_create",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        ctx = self.ctx(request, patient_id)
        data = _valid(NoteInput, request.data)
        note = gateway.note_create(**ctx, patient_id=patient_id, **data)
        return Response(NoteOutput(note).data, status=status.HTTP_201_CREATED)


class ConditionCreate(ClinicalAPIView):
    required_permission = Perm.CLINICAL_CHART_WRITE
    scope = ("Condition", "c")

    @extend_schema(
        parameters=[PATIENT_ID],
        request=ConditionInput,
        responses={201: ConditionOutput, **ERRORS},
        operation_id="clinical_condition_create",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        ctx = self.ctx(request, patient_id)
        data = _valid(ConditionInput, request.data)
        condition = gateway.condition_create(**ctx, patient_id=patient_id, **data)
        return Response(ConditionOutput(condition).data, status=status.HTTP_201_CREATED)


class AllergyCreate(ClinicalAPIView):
    required_permission = Perm.CLINICAL_CHART_WRITE
    scope = ("AllergyIntolerance", "c")

    @extend_schema(
        parameters=[PATIENT_ID],
        request=AllergyInput,
        responses={201: AllergyOutput, **ERRORS},
        operation_id="clinical_allergy_create",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        ctx = self.ctx(request, patient_id)
        data = _valid(AllergyInput, request.data)
        allergy = gateway.allergy_create(**ctx, patient_id=patient_id, **data)
        return Response(AllergyOutput(allergy).data, status=status.HTTP_201_CREATED)


# --- scheduling -------------------------------------------------------------------------------
class ScheduleDay(ClinicalAPIView):
    required_permission = Perm.CLINICAL_APPOINTMENT_READ
    scope = ("Appointment", "s")
    manifest_route = "clinical_api:schedule"

    def manifest_contents(self, data: Any) -> tuple[list[str], list[str]]:
        booked = [slot["appointment"] for slot in data if slot["appointment"]]
        sections = {"appointments"} | {s for a in booked if a["patient"] for s in a["patient"]["sections"]}
        return sorted({a["patient_id"] for a in booked}), sorted(sections)

    @extend_schema(
        parameters=[ScheduleInput],
        responses={200: SlotOutput(many=True), **ERRORS},
        operation_id="clinical_schedule_day",
    )
    def get(self, request: Request) -> Response:
        ctx = self.ctx(request, pinnable=False)  # a clinic's day is many patients' appointments
        query = _valid(ScheduleInput, request.query_params)
        slots = gateway.schedule_day(
            **ctx,
            department_id=query["department_id"],
            day=query["day"],
            clinician_id=query.get("clinician_id"),
        )
        return Response(SlotOutput(slots, many=True).data)


class AppointmentBook(ClinicalAPIView):
    required_permission = Perm.CLINICAL_APPOINTMENT_MANAGE
    scope = ("Appointment", "c")

    @extend_schema(
        request=BookInput,
        responses={201: AppointmentOutput, **ERRORS},
        operation_id="clinical_appointment_book",
    )
    def post(self, request: Request) -> Response:
        data = _valid(BookInput, request.data)
        patient_id = str(data["patient_id"])
        appointment = gateway.appointment_book(
            **self.ctx(request, patient_id),
            patient_id=patient_id,
            slot_id=str(data["slot_id"]),
            reason=data["reason"],
            submission=data["submission"],
        )
        return Response(AppointmentOutput(appointment).data, status=status.HTTP_201_CREATED)


APPOINTMENT_ID = OpenApiParameter("appointment_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class AppointmentCancel(ClinicalAPIView):
    required_permission = Perm.CLINICAL_APPOINTMENT_MANAGE
    scope = ("Appointment", "u")  # the gateway finds the patient (a `patient/` token: its own only)

    @extend_schema(
        parameters=[APPOINTMENT_ID],
        request=None,
        responses={200: AppointmentOutput, **ERRORS},
        operation_id="clinical_appointment_cancel",
    )
    def post(self, request: Request, appointment_id: str) -> Response:
        appointment = gateway.appointment_cancel(**self.ctx(request), appointment_id=appointment_id)
        return Response(AppointmentOutput(appointment).data)


class AppointmentCheckIn(ClinicalAPIView):
    required_permission = Perm.CLINICAL_APPOINTMENT_MANAGE
    scope = ("Appointment", "u")

    @extend_schema(
        parameters=[APPOINTMENT_ID],
        request=None,
        responses={200: AppointmentOutput, **ERRORS},
        operation_id="clinical_appointment_check_in",
    )
    def post(self, request: Request, appointment_id: str) -> Response:
        appointment = gateway.appointment_check_in(**self.ctx(request), appointment_id=appointment_id)
        return Response(AppointmentOutput(appointment).data)


# --- corrections and amendment requests (issue 12) ---------------------------------------------
ALLERGY_STATUSES = ("active", "inactive", "resolved", "entered-in-error")


class AllergyStatusInput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=ALLERGY_STATUSES)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    amendment_request_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


class AmendmentRequestInput(serializers.Serializer[Any]):
    request = serializers.CharField(max_length=2000)
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


class AmendmentDenyInput(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=1000)
    disagreement = serializers.CharField(max_length=2000, required=False, allow_null=True, default=None)
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


class DisagreementInput(serializers.Serializer[Any]):
    statement = serializers.CharField(max_length=2000)
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


ALLERGY_ID = OpenApiParameter("allergy_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
REQUEST_ID = OpenApiParameter("request_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class AllergyStatusUpdate(ClinicalAPIView):
    """Mark an allergy inactive, resolved or entered in error (or active again).
    The earlier status is kept; entered in error is final and needs a reason."""

    required_permission = Perm.CLINICAL_CHART_WRITE
    scope = ("AllergyIntolerance", "u")

    @extend_schema(
        parameters=[PATIENT_ID, ALLERGY_ID],
        request=AllergyStatusInput,
        responses={200: AllergyOutput, **ERRORS},
        operation_id="clinical_allergy_status_update",
    )
    def post(self, request: Request, patient_id: str, allergy_id: str) -> Response:
        ctx = self.ctx(request, patient_id)
        data = _valid(AllergyStatusInput, request.data)
        allergy = gateway.allergy_set_status(
            **ctx,
            patient_id=patient_id,
            allergy_id=allergy_id,
            status=data["status"],
            reason=data["reason"] or None,
            amendment_request_id=data["amendment_request_id"],
            submission=data["submission"],
        )
        return Response(AllergyOutput(allergy).data)


class AmendmentRequestCreate(ClinicalAPIView):
    """Record a patient's request to amend the record (ONC 170.315(d)(4)): a
    patient-facing app may submit it for its launch patient."""

    required_permission = Perm.CLINICAL_PATIENT_REGISTER
    scope = ("Patient", "u")

    @extend_schema(
        parameters=[PATIENT_ID],
        request=AmendmentRequestInput,
        responses={201: AmendmentRequestOutput, **ERRORS},
        operation_id="clinical_amendment_request_create",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        ctx = self.ctx(request, patient_id)
        data = _valid(AmendmentRequestInput, request.data)
        view = gateway.amendment_request_record(**ctx, patient_id=patient_id, **data)
        return Response(AmendmentRequestOutput(view).data, status=status.HTTP_201_CREATED)


class AmendmentRequestDeny(ClinicalAPIView):
    """Deny a pending request with the reason (a clinician who decides
    amendments). No SMART scope grants it: the decision is made in SafeWard."""

    required_permission = Perm.CLINICAL_AMENDMENT_DECIDE
    scope = ("DocumentReference", "u")

    @extend_schema(
        parameters=[PATIENT_ID, REQUEST_ID],
        request=AmendmentDenyInput,
        responses={200: AmendmentRequestOutput, **ERRORS},
        operation_id="clinical_amendment_request_deny",
    )
    def post(self, request: Request, patient_id: str, request_id: str) -> Response:
        ctx = self.ctx(request, patient_id)
        data = _valid(AmendmentDenyInput, request.data)
        view = gateway.amendment_request_deny(**ctx, patient_id=patient_id, request_id=request_id, **data)
        return Response(AmendmentRequestOutput(view).data)


class AmendmentDisagreement(ClinicalAPIView):
    """Attach the patient's statement of disagreement to a denied request."""

    required_permission = Perm.CLINICAL_PATIENT_REGISTER
    scope = ("Patient", "u")

    @extend_schema(
        parameters=[PATIENT_ID, REQUEST_ID],
        request=DisagreementInput,
        responses={200: AmendmentRequestOutput, **ERRORS},
        operation_id="clinical_amendment_disagreement_attach",
    )
    def post(self, request: Request, patient_id: str, request_id: str) -> Response:
        ctx = self.ctx(request, patient_id)
        data = _valid(DisagreementInput, request.data)
        view = gateway.amendment_disagreement_attach(
            **ctx, patient_id=patient_id, request_id=request_id, **data
        )
        return Response(AmendmentRequestOutput(view).data)


# --- pharmacist verification (issue 12, ADR 0584) -------------------------------------------------
VERIFY_OUTCOMES = ("verified", "queried")


class VerificationOrderOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    medication = serializers.CharField()
    rxnorm = serializers.CharField(allow_null=True)
    dosage = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    authored_at = serializers.DateTimeField()
    requester = serializers.CharField(allow_blank=True)
    sensitivity = serializers.CharField(allow_blank=True)
    override_reason = serializers.CharField(allow_null=True)  # ordered despite an allergy warning: why
    verification = serializers.CharField(allow_blank=True)  # pending, verified, queried
    verification_note = serializers.CharField(allow_null=True)  # the query to the prescriber


class VerificationItemOutput(serializers.Serializer[Any]):
    patient = PatientOutput()  # as a search result shows them: demographics only
    order = VerificationOrderOutput()


class VerificationListOutput(serializers.Serializer[Any]):
    items = VerificationItemOutput(many=True)
    withheld = serializers.IntegerField()  # orders not shown: restricted, confidential or sensitive
    capped = serializers.BooleanField()  # more are waiting than shown; the oldest come first


class VerificationListInput(serializers.Serializer[Any]):
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)


class VerifyInput(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=VERIFY_OUTCOMES)
    note = serializers.CharField(max_length=1000, required=False, allow_null=True, default=None)
    submission = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


MEDICATION_ID = OpenApiParameter("medication_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class MedicationOrdersToVerify(ClinicalAPIView):
    """The pharmacist's worklist: active orders awaiting verification, oldest
    first, each with its patient's demographics (one READ event naming them)."""

    required_permission = Perm.CLINICAL_MEDICATION_DISPENSE
    scope = ("MedicationRequest", "s")
    manifest_route = "clinical_api:medications_to_verify"

    def manifest_contents(self, data: Any) -> tuple[list[str], list[str]]:
        patients = [item["patient"] for item in data["items"]]
        sections = {"medications"} | {s for patient in patients for s in patient["sections"]}
        return sorted({patient["id"] for patient in patients}), sorted(sections)

    @extend_schema(
        parameters=[VerificationListInput],
        responses={200: VerificationListOutput, **ERRORS},
        operation_id="clinical_medication_orders_to_verify",
    )
    def get(self, request: Request) -> Response:
        ctx = self.ctx(request, pinnable=False)  # many patients' orders: not one launch patient's
        query = _valid(VerificationListInput, request.query_params)
        worklist = gateway.medication_orders_to_verify(**ctx, limit=query["limit"])
        return Response(VerificationListOutput(worklist).data)


class MedicationVerify(ClinicalAPIView):
    """Verify an order (final), or query it back to the prescriber (`note`
    required: shown with the order in the chart). A queried order may be
    verified later."""

    required_permission = Perm.CLINICAL_MEDICATION_DISPENSE
    scope = ("MedicationRequest", "u")

    @extend_schema(
        parameters=[PATIENT_ID, MEDICATION_ID],
        request=VerifyInput,
        responses={200: VerificationOrderOutput, **ERRORS},
        operation_id="clinical_medication_verify",
    )
    def post(self, request: Request, patient_id: str, medication_id: str) -> Response:
        ctx = self.ctx(request, patient_id)
        data = _valid(VerifyInput, request.data)
        order = gateway.medication_verify(**ctx, patient_id=patient_id, medication_id=medication_id, **data)
        return Response(VerificationOrderOutput(order).data)
