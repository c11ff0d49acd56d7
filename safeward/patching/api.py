"""The vulnerability REST API under /api/v1/vulns/: findings (most urgent
first) and their analysis, inventory uploads, feed uploads (OSV, KEV, EPSS,
VEX) and VEX exports, exceptions (filed on a finding, approved or rejected
by a second person), the deadline table, patch plans. One class per
operation, each declaring its permission and what a bearer token needs;
each write calls the service the page calls.

Refusals: 400 bad input (`errors` an object naming the fields where they are
known, else a list of reasons; the schema says both, `VulnBadInput`), 403 not
this person (the requester deciding their own exception), 404 unknown, 409
stale (decided already, expired, a control failing now, an exception already
in force or waiting)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.patching import selectors, services, vex
from safeward.patching.forms import FEEDS, FORMATS, RESPONSES
from safeward.patching.models import Finding, PatchPlan, RiskException, Severity, Target
from safeward.patching.sbom import MAX_BYTES
from safeward.web.api_errors import ErrorOutput

MAX_LIST = 5000
# The page files one compensating control; the service takes several, each tested live now.
MAX_EXCEPTION_CONTROLS = 10


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class VulnAdvisoryOutput(serializers.Serializer[Any]):
    id = serializers.CharField(source="osv_id")
    aliases = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField()
    cvss_vector = serializers.CharField()
    cvss_score = serializers.DecimalField(max_digits=3, decimal_places=1, allow_null=True)


class VulnFindingOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    target_kind = serializers.ChoiceField(choices=Target.choices)
    target_id = serializers.IntegerField()
    component = serializers.CharField(source="component_name")
    version = serializers.CharField(source="component_version")
    purl = serializers.CharField()
    advisory = VulnAdvisoryOutput()
    vulnerability = serializers.CharField(
        source="vuln_id", help_text="Its lowest CVE id, else its lowest id."
    )
    ids = serializers.ListField(
        child=serializers.CharField(),
        source="vuln_ids",
        help_text="Every id its records carry (GHSA, PYSEC, CVE…).",
    )
    severity = serializers.ChoiceField(choices=Severity.choices)
    kev = serializers.BooleanField()
    state = serializers.ChoiceField(choices=Finding.State.choices)
    justification = serializers.CharField()
    response = serializers.ListField(child=serializers.CharField())
    excepted = serializers.BooleanField()
    detected_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(allow_null=True)
    mitigation_due_at = serializers.DateTimeField(allow_null=True)
    due_reasons = serializers.ListField(child=serializers.CharField())
    resolved_at = serializers.DateTimeField(allow_null=True)


class VulnAnalysisInput(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=Finding.State.choices)
    justification = serializers.ChoiceField(choices=Finding.Justification.choices, required=False, default="")
    response = serializers.ListField(
        child=serializers.ChoiceField(choices=RESPONSES), required=False, default=list, max_length=5
    )
    detail = serializers.CharField(required=False, default="", allow_blank=True, max_length=4000)


class VulnInventoryInput(serializers.Serializer[Any]):
    target_kind = serializers.ChoiceField(choices=Target.choices)
    target_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    format = serializers.ChoiceField(choices=FORMATS, required=False, default="")
    content = serializers.CharField(
        max_length=MAX_BYTES, trim_whitespace=False, help_text="The SBOM or list, as text."
    )


class VulnInventoryOutput(serializers.Serializer[Any]):
    inventory = serializers.IntegerField()
    components = serializers.IntegerField()
    created = serializers.IntegerField()
    reopened = serializers.IntegerField()
    resolved = serializers.IntegerField()


class VulnErrorOutput(serializers.Serializer[Any]):
    detail = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]  # a field named like Serializer.errors


# A 400 is either the API's one shape, `errors` an object naming the fields (the
# input serializer's refusals, and the service's when it knows the fields), or
# the service's list of reasons (a file it cannot read). The two cannot both
# match a body: `errors` is an object in one and a list in the other.
VULN_BAD_INPUT = PolymorphicProxySerializer(
    component_name="VulnBadInput",
    serializers=[ErrorOutput, VulnErrorOutput],
    resource_type_field_name=None,
)


class VulnExceptionOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    finding = serializers.IntegerField(source="finding_id")
    decision = serializers.ChoiceField(choices=RiskException.Decision.choices)
    status = serializers.ChoiceField(choices=RiskException.Status.choices)
    justification = serializers.CharField()
    controls = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    expires_on = serializers.DateField()
    requested_by = serializers.CharField(source="requested_by.username")
    approved_by = serializers.CharField(source="approved_by.username", allow_null=True)
    end_reason = serializers.CharField()


class VulnControlRefInput(serializers.Serializer[Any]):
    control_id = serializers.CharField(
        max_length=64, help_text="A control test id, e.g. devices.compensating_controls."
    )
    resource_id = serializers.CharField(
        max_length=200, help_text="The resource it judges, e.g. compensating-control:3 or device:12."
    )


class VulnExceptionInput(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(choices=RiskException.Decision.choices)
    justification = serializers.CharField(max_length=4000)
    controls = serializers.ListField(
        child=VulnControlRefInput(),
        min_length=1,
        max_length=MAX_EXCEPTION_CONTROLS,
        help_text="Compensating controls: live control tests that must pass now and while it lasts.",
    )
    expires_on = serializers.DateField(
        help_text=f"Mandatory, in the future, at most {services.MAX_EXCEPTION_DAYS} days away."
    )


class VulnPolicyRowOutput(serializers.Serializer[Any]):
    severity = serializers.ChoiceField(choices=Severity.choices)
    dmz = serializers.IntegerField(allow_null=True)
    internal = serializers.IntegerField(allow_null=True)


class VulnPlanOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    target_kind = serializers.ChoiceField(choices=Target.choices)
    target_id = serializers.IntegerField()
    findings = serializers.SerializerMethodField()
    late_findings = serializers.SerializerMethodField(help_text="Open findings due before the window ends.")
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    change_ref = serializers.CharField()
    status = serializers.ChoiceField(choices=PatchPlan.Status.choices)
    owner = serializers.CharField(source="owner.username")
    notes = serializers.CharField()
    verified_at = serializers.DateTimeField(allow_null=True)

    def get_findings(self, plan: PatchPlan) -> list[int]:
        return sorted(f.pk for f in plan.findings.all())

    def get_late_findings(self, plan: PatchPlan) -> list[int]:
        return selectors.plan_late_finding_ids(plan=plan)


class VulnPlanInput(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200)
    target_kind = serializers.ChoiceField(choices=Target.choices)
    target_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    findings = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=services.MAX_PLAN_FINDINGS,
    )
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    change_ref = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)
    notes = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)


class VulnPlanUpdateInput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=[PatchPlan.Status.SCHEDULED, PatchPlan.Status.APPLIED, PatchPlan.Status.CANCELLED]
    )
    change_ref = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)
    window_start = serializers.DateTimeField(required=False, default=None)
    window_end = serializers.DateTimeField(required=False, default=None)
    note = serializers.CharField(max_length=1000, required=False, default="", allow_blank=True)


def _refused(error: services.PatchingError) -> Response:
    """The service's refusal at its own status: a 400 names its fields when
    the service knows them, 403 and 404 say only what was refused (the API's
    one shape), 400 and 409 otherwise list every reason."""
    if error.fields:
        return Response({"detail": str(error), "errors": error.fields}, status=error.status)
    if error.status in {status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND}:
        return Response({"detail": str(error)}, status=error.status)
    return Response({"detail": str(error), "errors": error.errors}, status=error.status)


class FindingList(APIView):
    required_permission = Perm.PATCHING_FINDING_READ
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, description="open, excepted, all, or a VEX state"),
            OpenApiParameter("severity", str, enum=Severity.values),
            OpenApiParameter("kev", bool),
        ],
        responses=VulnFindingOutput(many=True),
        operation_id="vulns_findings_list",
    )
    def get(self, request: Request) -> Response:
        state = str(request.query_params.get("state", "open"))
        severity = str(request.query_params.get("severity", ""))
        if state not in {"open", "excepted", "all", *Finding.State.values}:
            raise ValidationError({"state": ["Unknown state."]})
        if severity and severity not in Severity.values:
            raise ValidationError({"severity": ["Unknown severity."]})
        kev = request.query_params.get("kev")
        found = selectors.findings_list(
            state="" if state == "all" else state,
            severity=severity,
            kev=None if kev is None else str(kev).lower() in {"1", "true"},
        )
        return Response(VulnFindingOutput(found[:MAX_LIST], many=True).data)


class FindingDetail(APIView):
    required_permission = Perm.PATCHING_FINDING_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=VulnFindingOutput, operation_id="vulns_findings_read")
    def get(self, request: Request, finding_id: int) -> Response:
        finding = selectors.finding_get(finding_id=finding_id)
        if finding is None:
            raise Http404
        return Response(VulnFindingOutput(finding).data)


class FindingAnalysis(APIView):
    required_permission = Perm.PATCHING_FINDING_TRIAGE
    token_scopes = {"PUT": "write"}

    @extend_schema(
        request=VulnAnalysisInput,
        responses={200: VulnFindingOutput, 400: VULN_BAD_INPUT},
        operation_id="vulns_findings_analysis",
    )
    def put(self, request: Request, finding_id: int) -> Response:
        if selectors.finding_get(finding_id=finding_id) is None:
            raise Http404
        payload = VulnAnalysisInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            finding = services.finding_triage(actor=_actor(request), finding_id=finding_id, **data)
        except services.PatchingError as error:
            return _refused(error)
        return Response(VulnFindingOutput(selectors.finding_get(finding_id=finding.pk)).data)


class InventoryUpload(APIView):
    required_permission = Perm.PATCHING_INVENTORY_IMPORT
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=VulnInventoryInput,
        responses={201: VulnInventoryOutput, 400: VULN_BAD_INPUT},
        operation_id="vulns_inventories_upload",
    )
    def post(self, request: Request) -> Response:
        payload = VulnInventoryInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            inventory, stats = services.inventory_import(
                actor=_actor(request),
                target_kind=data["target_kind"],
                target_id=data["target_id"],
                raw=data["content"].encode(),
                fmt=data["format"],
            )
        except services.PatchingError as error:
            return _refused(error)
        body = {
            "inventory": inventory.pk,
            "components": inventory.component_count,
            "created": stats.created,
            "reopened": stats.reopened,
            "resolved": stats.resolved,
        }
        return Response(VulnInventoryOutput(body).data, status=status.HTTP_201_CREATED)


class ExceptionList(APIView):
    required_permission = Perm.PATCHING_FINDING_READ
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=RiskException.Status.values)],
        responses=VulnExceptionOutput(many=True),
        operation_id="vulns_exceptions_list",
    )
    def get(self, request: Request) -> Response:
        wanted = str(request.query_params.get("status", ""))
        if wanted and wanted not in RiskException.Status.values:
            raise ValidationError({"status": ["Unknown status."]})
        return Response(
            VulnExceptionOutput(selectors.exceptions_list(status=wanted)[:MAX_LIST], many=True).data
        )


class FindingExceptionCreate(APIView):
    """File an exception on a finding: what the finding page's form does."""

    required_permission = Perm.PATCHING_FINDING_TRIAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=VulnExceptionInput,
        responses={201: VulnExceptionOutput, 400: ErrorOutput, 409: VulnErrorOutput},
        operation_id="vulns_exceptions_file",
        description=(
            "Ask for an exception; a second person approves or rejects it. 400 names the fields"
            " refused (a control that does not judge its resource or fails now, an expiry not in"
            " the future or too far); 409 when the finding has an exception in force or waiting."
        ),
    )
    def post(self, request: Request, finding_id: int) -> Response:
        if selectors.finding_get(finding_id=finding_id) is None:
            raise Http404
        payload = VulnExceptionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            exception = services.exception_request(
                actor=_actor(request),
                finding_id=finding_id,
                decision=data["decision"],
                justification=data["justification"],
                controls=[(ref["control_id"], ref["resource_id"]) for ref in data["controls"]],
                expires_on=data["expires_on"],
            )
        except services.PatchingError as error:
            return _refused(error)
        return Response(
            VulnExceptionOutput(selectors.exception_get(exception_id=exception.pk)).data,
            status=status.HTTP_201_CREATED,
        )


def _decide(request: Request, exception_id: int, *, approve: bool) -> Response:
    if selectors.exception_get(exception_id=exception_id) is None:
        raise Http404
    try:
        exception = services.exception_decide(
            actor=_actor(request), exception_id=exception_id, approve=approve
        )
    except services.PatchingError as error:
        return _refused(error)
    return Response(VulnExceptionOutput(selectors.exception_get(exception_id=exception.pk)).data)


class ExceptionApprove(APIView):
    required_permission = Perm.PATCHING_EXCEPTION_APPROVE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=None,
        responses={200: VulnExceptionOutput, 409: VulnErrorOutput},
        operation_id="vulns_exceptions_approve",
        description=(
            "Put it in force, as a second person: 403 for the person who asked; 409 when it is"
            " decided already, has expired, or one of its controls does not pass now."
        ),
    )
    def post(self, request: Request, exception_id: int) -> Response:
        return _decide(request, exception_id, approve=True)


class ExceptionReject(APIView):
    required_permission = Perm.PATCHING_EXCEPTION_APPROVE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=None,
        responses={200: VulnExceptionOutput, 409: VulnErrorOutput},
        operation_id="vulns_exceptions_reject",
        description=(
            "Refuse it, as a second person: 403 for the person who asked; 409 when it is decided already."
        ),
    )
    def post(self, request: Request, exception_id: int) -> Response:
        return _decide(request, exception_id, approve=False)


class VulnFeedInput(serializers.Serializer[Any]):
    feed = serializers.ChoiceField(choices=FEEDS)
    file = serializers.FileField(
        help_text="The feed file, as the import page takes it (uploads over 25 MiB are dropped)."
    )


class VulnFeedOutput(serializers.Serializer[Any]):
    feed = serializers.ChoiceField(choices=FEEDS)
    records = serializers.IntegerField(
        allow_null=True, help_text="OSV records, KEV entries or EPSS scores read; null for VEX."
    )
    created = serializers.IntegerField(allow_null=True, help_text="OSV: new advisories.")
    updated = serializers.IntegerField(allow_null=True, help_text="OSV: advisories changed.")
    unchanged = serializers.IntegerField(allow_null=True, help_text="OSV: advisories already current.")
    new_findings = serializers.IntegerField(allow_null=True, help_text="OSV: findings the new records made.")
    due_dates_moved = serializers.IntegerField(allow_null=True, help_text="KEV, EPSS: due dates recomputed.")
    findings_updated = serializers.IntegerField(allow_null=True, help_text="VEX: analyses applied.")


class FeedImport(APIView):
    """What the feeds page does: one file, all or nothing, with the same services."""

    required_permission = Perm.PATCHING_INVENTORY_IMPORT
    token_scopes = {"POST": "write"}
    parser_classes = [MultiPartParser]  # a file upload only: JSON is refused with 415

    @extend_schema(
        request={"multipart/form-data": VulnFeedInput},
        responses={200: VulnFeedOutput, 400: VULN_BAD_INPUT},
        operation_id="vulns_feeds_import",
    )
    def post(self, request: Request) -> Response:
        payload = VulnFeedInput(data=request.data)
        payload.is_valid(raise_exception=True)
        feed = payload.validated_data["feed"]
        upload = payload.validated_data["file"]
        raw = upload.read()
        actor = _actor(request)
        body: dict[str, Any] = dict.fromkeys(VulnFeedOutput().fields, None)
        body["feed"] = feed
        try:
            if feed == "osv":
                stats = services.osv_import(actor=actor, raw=raw, filename=upload.name or "")
                body.update(
                    records=stats.read,
                    created=stats.created,
                    updated=stats.updated,
                    unchanged=stats.unchanged,
                    new_findings=stats.match.created,
                )
            elif feed == "kev":
                body["records"], body["due_dates_moved"] = services.kev_import(actor=actor, raw=raw)
            elif feed == "epss":
                body["records"], body["due_dates_moved"] = services.epss_import(actor=actor, raw=raw)
            else:
                body["findings_updated"] = services.vex_import(actor=actor, raw=raw)
        except services.PatchingError as error:
            return _refused(error)
        return Response(VulnFeedOutput(body).data)


VEX_KINDS = ("cyclonedx", "openvex")


class VexExport(APIView):
    required_permission = Perm.PATCHING_FINDING_READ
    token_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=VEX_KINDS),
            OpenApiParameter("state", str, description="open, excepted, or a VEX state; all when absent"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="vulns_vex_export",
        description=(
            "The findings' analyses as a CycloneDX VEX or OpenVEX document (packages, no patient data)."
        ),
    )
    def get(self, request: Request, kind: str) -> Response:
        if kind not in VEX_KINDS:
            raise Http404
        state = str(request.query_params.get("state", ""))
        if state and state not in {"open", "excepted", *Finding.State.values}:
            raise ValidationError({"state": ["Unknown state."]})
        found = selectors.findings_list(state=state)
        if kind == "cyclonedx":
            return Response(vex.export_cyclonedx(found))
        return Response(vex.export_openvex(found, author=_actor(request).username))


class PolicyTable(APIView):
    required_permission = Perm.PATCHING_FINDING_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=VulnPolicyRowOutput(many=True), operation_id="vulns_policy_read")
    def get(self, request: Request) -> Response:
        return Response(VulnPolicyRowOutput(selectors.policy_table(), many=True).data)


class PlanList(APIView):
    required_permission = Perm.PATCHING_FINDING_READ
    token_scopes = {"GET": "read", "POST": "write"}

    def get_permissions(self) -> Any:
        # Reading plans needs the read permission; making one, triage.
        if self.request.method == "POST":
            self.required_permission = Perm.PATCHING_FINDING_TRIAGE
        return super().get_permissions()

    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="open, or a plan status")],
        responses=VulnPlanOutput(many=True),
        operation_id="vulns_plans_list",
    )
    def get(self, request: Request) -> Response:
        wanted = str(request.query_params.get("status", "open"))
        if wanted not in {"open", *PatchPlan.Status.values}:
            raise ValidationError({"status": ["Unknown status."]})
        plans = selectors.plans_list(status=wanted)[:MAX_LIST]
        return Response(VulnPlanOutput(plans, many=True).data)

    @extend_schema(
        request=VulnPlanInput,
        responses={201: VulnPlanOutput, 400: VULN_BAD_INPUT},
        operation_id="vulns_plans_create",
    )
    def post(self, request: Request) -> Response:
        payload = VulnPlanInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            plan = services.plan_create(
                actor=_actor(request),
                target_kind=data["target_kind"],
                target_id=data["target_id"],
                finding_ids=data["findings"],
                title=data["title"],
                window_start=data["window_start"],
                window_end=data["window_end"],
                change_ref=data["change_ref"],
                notes=data["notes"],
            )
        except services.PatchingError as error:
            return _refused(error)
        return Response(
            VulnPlanOutput(selectors.plan_get(plan_id=plan.pk)).data, status=status.HTTP_201_CREATED
        )


class PlanDetail(APIView):
    required_permission = Perm.PATCHING_FINDING_READ
    token_scopes = {"GET": "read"}

    @extend_schema(responses=VulnPlanOutput, operation_id="vulns_plans_read")
    def get(self, request: Request, plan_id: int) -> Response:
        plan = selectors.plan_get(plan_id=plan_id)
        if plan is None:
            raise Http404
        return Response(VulnPlanOutput(plan).data)


class PlanUpdate(APIView):
    required_permission = Perm.PATCHING_FINDING_TRIAGE
    token_scopes = {"POST": "write"}

    @extend_schema(
        request=VulnPlanUpdateInput,
        responses={200: VulnPlanOutput, 400: VULN_BAD_INPUT},
        operation_id="vulns_plans_update",
    )
    def post(self, request: Request, plan_id: int) -> Response:
        if selectors.plan_get(plan_id=plan_id) is None:
            raise Http404
        payload = VulnPlanUpdateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            plan = services.plan_update(actor=_actor(request), plan_id=plan_id, **payload.validated_data)
        except services.PatchingError as error:
            return _refused(error)
        return Response(VulnPlanOutput(selectors.plan_get(plan_id=plan.pk)).data)


urlpatterns = [
    path("findings/", FindingList.as_view(), name="findings"),
    path("findings/<int:finding_id>/", FindingDetail.as_view(), name="finding"),
    path("findings/<int:finding_id>/analysis/", FindingAnalysis.as_view(), name="finding_analysis"),
    path("inventories/", InventoryUpload.as_view(), name="inventories"),
    path("exceptions/", ExceptionList.as_view(), name="exceptions"),
    path(
        "findings/<int:finding_id>/exceptions/", FindingExceptionCreate.as_view(), name="finding_exceptions"
    ),
    path("exceptions/<int:exception_id>/approve/", ExceptionApprove.as_view(), name="exception_approve"),
    path("exceptions/<int:exception_id>/reject/", ExceptionReject.as_view(), name="exception_reject"),
    path("feeds/", FeedImport.as_view(), name="feeds"),
    path("vex/<slug:kind>/", VexExport.as_view(), name="vex_export"),
    path("policy/", PolicyTable.as_view(), name="policy"),
    path("plans/", PlanList.as_view(), name="plans"),
    path("plans/<int:plan_id>/", PlanDetail.as_view(), name="plan"),
    path("plans/<int:plan_id>/update/", PlanUpdate.as_view(), name="plan_update"),
]
