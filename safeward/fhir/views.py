"""HL7 FHIR R4 at /fhir/: CapabilityStatement, SMART configuration, read and
search of Patient, Encounter, Condition, Observation, MedicationRequest,
MedicationAdministration, AllergyIntolerance, Immunization, Procedure and DiagnosticReport, and
Patient create. Every access goes through the
clinical gateway (policy, mask, audit); every resource returned is validated
with `fhir.resources.R4B`; every error is an OperationOutcome.

Authentication: an OAuth2 bearer token (SMART scopes, safeward/clinical/scopes.py)
or a SafeWard browser session (the policy alone)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from oauth2_provider.settings import oauth2_settings
from rest_framework import exceptions, parsers, renderers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from safeward.audit import context as audit_context
from safeward.audit.manifests import ManifestDraft, manifest_response, request_client_id
from safeward.clinical import gateway
from safeward.clinical.api import purpose_for
from safeward.clinical.gateway.fhir_support import chart_item_read
from safeward.clinical.policy import Section
from safeward.clinical.scopes import RESOURCE_SECTIONS, Operation, ScopeOutcome, session_for, token_decision
from safeward.clinical.types import (
    Chart,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatientView,
    PossibleDuplicates,
)
from safeward.fhir import resources
from safeward.fhir.cursor import cursor_issue, cursor_open
from safeward.identity.api import UsableAccount
from safeward.identity.api_permissions import BY_OPERATION, TokenScope
from safeward.identity.decorators import AUTHENTICATED_ONLY
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.json_input import BoundedJSONParser

FHIR_JSON = "application/fhir+json"
PUBLIC = "public"  # declared: open to anonymous callers on purpose (FHIR metadata, SMART discovery)
MAX_COUNT = 50
DEFAULT_COUNT = 20

ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "duplicate",
    415: "not-supported",
    422: "processing",
}


def outcome(status: int, text: str, *, code: str | None = None, expression: str | None = None) -> Response:
    issue: dict[str, Any] = {
        "severity": "error",
        "code": code or ISSUE_CODES.get(status, "exception"),
        "diagnostics": text,
    }
    if expression:
        issue["expression"] = [expression]
    body = resources.validated({"resourceType": "OperationOutcome", "issue": [issue]})
    return Response(body, status=status, content_type=FHIR_JSON)


class FhirRenderer(renderers.JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


class FhirJsonRenderer(renderers.JSONRenderer):
    media_type = "application/json"


class FhirParser(BoundedJSONParser):
    media_type = FHIR_JSON


class FhirView(APIView):
    renderer_classes = [FhirRenderer, FhirJsonRenderer]
    parser_classes = [FhirParser, BoundedJSONParser]
    required_permission: Any = Perm.CLINICAL_PATIENT_READ
    token_scopes: dict[str, str] = dict.fromkeys(("GET", "POST"), BY_OPERATION)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Audit events of a FHIR request say so (detection's FHIR paging rule
        # reads it); the request middleware restores the context afterwards.
        audit_context.bind(dataclasses.replace(audit_context.current(), source="fhir"))
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, NotFound):
            return outcome(404, "No such resource.")
        if isinstance(exc, InvalidInput):
            name, message = next(iter(exc.errors.items()))
            return outcome(400, f"{name}: {message}", expression=name)
        if isinstance(exc, PossibleDuplicates):
            ids = ", ".join(f"Patient/{c.id}" for c in exc.candidates)
            return outcome(409, f"Possible duplicate of {ids}: same name and birth date.", code="duplicate")
        if isinstance(exc, Conflict):
            return outcome(409, str(exc) or "Conflict.")
        if isinstance(exc, Forbidden):
            return outcome(403, "Not permitted.")
        if isinstance(exc, exceptions.ParseError):
            return outcome(400, "The body is not valid JSON.", code="structure")
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response = outcome(401, "Authentication required.")
            response["WWW-Authenticate"] = 'Bearer realm="fhir"'
            return response
        if isinstance(exc, exceptions.PermissionDenied):
            return outcome(403, "Not permitted.")
        if isinstance(exc, exceptions.APIException):
            return outcome(exc.status_code, str(exc.detail) if isinstance(exc.detail, str) else "Refused.")
        raise exc

    # A read or search whose 200 body holds a patient's resources names its
    # route: each response (each page of a search) is an export with its
    # manifest, hashed from the bytes the renderer produced (ADR 0811).
    manifest_route = ""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.accepted_media_type is None:
            response.accepted_renderer = FhirRenderer()
            response.accepted_media_type = FHIR_JSON
            response.renderer_context = self.get_renderer_context()
        if self.manifest_route and isinstance(response, Response) and response.status_code == 200:
            user = request.user
            assert isinstance(user, User)  # a 200 here has passed the permission checks
            patient_ids, sections = pulled(response.data)
            if patient_ids:
                manifest_response(
                    response,
                    actor=user,
                    draft=ManifestDraft(
                        kind="fhir",
                        route=self.manifest_route,
                        purpose=purpose_for(user).value,
                        patient_ids=patient_ids,
                        sections=sections,
                        client_id=request_client_id(request),
                    ),
                )
        return response

    def ctx(self, request: Request, operation: Operation) -> dict[str, Any]:
        """The gateway's keyword arguments for `operation`; a token the scope
        decision refuses raises here (403 / 404), before the gateway is called."""
        user = request.user
        assert isinstance(user, User)
        return {
            "actor": user,
            "session": session_for(request, operation, needs=RESOURCE_SECTIONS[operation.resource_type]),
            "purpose": purpose_for(user),
        }

    def item_read(
        self, request: Request, resource_type: str, item_id: str, permission: str
    ) -> tuple[Chart, Any]:
        """One chart item through the gateway; the token's scopes are applied
        for the item's own patient."""
        return chart_item_read(
            **self.ctx(request, Operation(resource_type, permission)),
            resource_type=resource_type,
            item_id=item_id,
            session_for_patient=lambda pid: session_for(
                request, Operation(resource_type, permission, pid), needs=RESOURCE_SECTIONS[resource_type]
            ),
        )


def pulled(body: Any) -> tuple[list[str], tuple[str, ...]]:
    """The patients (ids) and chart sections a FHIR body holds: a Patient
    resource's id, every other resource's patient or subject reference."""
    bundled = body.get("resourceType") == "Bundle"
    resources_in = [e["resource"] for e in body.get("entry", [])] if bundled else [body]
    patients: set[str] = set()
    sections: set[str] = set()
    for resource in resources_in:
        kind = resource.get("resourceType")
        if kind not in RESOURCE_SECTIONS:
            continue
        if kind == "Patient":
            patients.add(str(resource["id"]))
            sections.add(Section.DEMOGRAPHICS)
            if "telecom" in resource or "address" in resource:
                sections.add(Section.CONTACT)
            if any(i.get("system") == resources.SSN_SYSTEM for i in resource.get("identifier", [])):
                sections.add(Section.NATIONAL_ID)
        else:
            sections.update(RESOURCE_SECTIONS[kind])
            for field in ("subject", "patient"):
                reference = (resource.get(field) or {}).get("reference", "")
                if reference.startswith("Patient/"):
                    patients.add(reference.removeprefix("Patient/"))
    return sorted(patients), tuple(sorted(str(s) for s in sections))


# --- capability and discovery ----------------------------------------------------------------
SEARCH_PARAMS: dict[str, list[tuple[str, str]]] = {
    "Patient": [("_id", "token"), ("identifier", "token"), ("name", "string"), ("birthdate", "date")],
    "Encounter": [("_id", "token"), ("patient", "reference"), ("date", "date")],
    "Condition": [
        ("_id", "token"),
        ("patient", "reference"),
        ("code", "token"),
        ("onset-date", "date"),
        ("recorded-date", "date"),
    ],
    "Observation": [("_id", "token"), ("patient", "reference"), ("code", "token"), ("date", "date")],
    "MedicationRequest": [
        ("_id", "token"),
        ("patient", "reference"),
        ("code", "token"),
        ("authoredon", "date"),
    ],
    "MedicationAdministration": [("_id", "token"), ("patient", "reference"), ("effective-time", "date")],
    "AllergyIntolerance": [("_id", "token"), ("patient", "reference"), ("date", "date")],
    "Immunization": [("_id", "token"), ("patient", "reference"), ("vaccine-code", "token"), ("date", "date")],
    "Procedure": [("_id", "token"), ("patient", "reference"), ("code", "token"), ("date", "date")],
    "DiagnosticReport": [
        ("_id", "token"),
        ("patient", "reference"),
        ("code", "token"),
        ("category", "token"),
        ("date", "date"),
    ],
}


SEARCH_DOCUMENTATION = (
    "POST [base]/{type}/_search with the parameters in an application/x-www-form-urlencoded "
    "body (preferred: criteria stay out of URLs and logs), or GET [base]/{type}?... "
    "Bundle links page with an opaque, short-lived _cursor, never the criteria."
)


class Metadata(FhirView):
    required_permission = PUBLIC
    permission_classes = [AllowAny]
    authentication_classes = ()

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        base = request.build_absolute_uri(reverse("fhir:metadata")).rsplit("/metadata", 1)[0]
        rest_resources = []
        for resource_type, params in SEARCH_PARAMS.items():
            interactions = [
                {"code": "read"},
                {
                    "code": "search-type",
                    "documentation": SEARCH_DOCUMENTATION.format(type=resource_type),
                },
            ]
            if resource_type == "Patient":
                interactions.append({"code": "create"})
            rest_resources.append(
                {
                    "type": resource_type,
                    "interaction": interactions,
                    "searchParam": [{"name": n, "type": t} for n, t in [*params, ("_count", "number")]],
                }
            )
        body = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-28",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": [FHIR_JSON, "json"],
            "software": {"name": "SafeWard", "version": "0.1.0"},
            "implementation": {"description": "SafeWard FHIR R4 API", "url": base},
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "cors": False,
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ],
                        "description": "OAuth2, SMART on FHIR v2 scopes (.well-known/smart-configuration)",
                    },
                    "resource": [
                        *rest_resources,
                        {
                            "type": "Practitioner",
                            "interaction": [
                                {"code": "read", "documentation": "Your own account only (SMART fhirUser)."}
                            ],
                        },
                    ],
                }
            ],
        }
        return Response(resources.validated(body), content_type=FHIR_JSON)


class SmartConfiguration(FhirView):
    required_permission = PUBLIC
    permission_classes = [AllowAny]
    authentication_classes = ()
    renderer_classes = [renderers.JSONRenderer]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        def url(name: str) -> str:
            return request.build_absolute_uri(reverse(name))

        oidc = bool(oauth2_settings.OIDC_ENABLED)
        capabilities = [
            "launch-ehr",
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "client-confidential-asymmetric",
            "context-ehr-patient",
            "context-standalone-patient",
            "permission-v2",
            "permission-patient",
            "permission-user",
        ]
        scopes = ["launch", "launch/patient", "patient/*.rs", "user/*.rs", "system/*.rs"]
        body: dict[str, Any] = {
            "authorization_endpoint": url("oauth:authorize"),
            "token_endpoint": url("oauth:token"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": capabilities,
        }
        if oidc:
            # SMART's `issuer` is the OpenID Connect issuer (its discovery document is
            # issuer + /.well-known/openid-configuration) and `jwks_uri` verifies id_tokens.
            body["issuer"] = oauth2_settings.oidc_issuer(request._request)
            body["jwks_uri"] = url("oauth:jwks-info")
            body["userinfo_endpoint"] = url("oauth:user-info")
            scopes += ["openid", "fhirUser"]
            capabilities.append("sso-openid-connect")
        return Response(body)


# --- search helpers -------------------------------------------------------------------------------
_DATE = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4})(?:-(\d{2})(?:-(\d{2})(T[0-9:.+\-Z]+)?)?)?$")


def _date_range(value: str) -> tuple[str, dt.datetime, dt.datetime]:
    """A FHIR date search value → (prefix, start, end) in UTC; InvalidInput otherwise."""
    match = _DATE.match(value)
    if match is None:
        raise InvalidInput({"date": "Not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)."})
    prefix, year, month, day, time = match.groups()
    prefix = prefix or "eq"
    if prefix not in ("eq", "gt", "lt", "ge", "le"):
        raise InvalidInput({"date": "Only the eq, gt, ge, lt and le prefixes are supported."})
    try:
        if time:
            start = dt.datetime.fromisoformat(f"{year}-{month}-{day}{time}".replace("Z", "+00:00"))
            if start.tzinfo is None:
                start = start.replace(tzinfo=dt.UTC)
            return prefix, start, start + dt.timedelta(seconds=1)
        y = int(year)
        if day:
            start = dt.datetime(y, int(month), int(day), tzinfo=dt.UTC)
            return prefix, start, start + dt.timedelta(days=1)
        if month:
            m = int(month)
            start = dt.datetime(y, m, 1, tzinfo=dt.UTC)
            end = dt.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=dt.UTC)
            return prefix, start, end
        return prefix, dt.datetime(y, 1, 1, tzinfo=dt.UTC), dt.datetime(y + 1, 1, 1, tzinfo=dt.UTC)
    except ValueError:
        raise InvalidInput({"date": "Not a valid date."}) from None


def _date_matches(
    value: dt.datetime | dt.date | None, criterion: tuple[str, dt.datetime, dt.datetime]
) -> bool:
    if value is None:
        return False
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    prefix, start, end = criterion
    return {
        "eq": start <= value < end,
        "gt": value >= end,
        "ge": value >= start,
        "lt": value < start,
        "le": value < end,
    }[prefix]


def _token(value: str) -> tuple[str | None, str]:
    if "|" in value:
        system, code = value.split("|", 1)
        return system or None, code
    return None, value


def _patient_reference(value: str) -> str:
    reference = value.removeprefix("Patient/")
    try:
        return str(uuid.UUID(reference))
    except ValueError:
        raise InvalidInput({"patient": "Expected a reference Patient/<id>."}) from None


MAX_PARAMS = 30
MAX_VALUE_CHARS = 256


def search_params(source: Any) -> dict[str, str]:
    """The search parameters of a query string or a form body (one value per
    name: the last, as before); bounded, so a cursor can always carry them."""
    if len(source) > MAX_PARAMS:
        raise InvalidInput({"_query": f"At most {MAX_PARAMS} search parameters."})
    params = {str(k)[:64]: str(v) for k, v in source.items()}
    for name, value in params.items():
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidInput({name[:40]: f"At most {MAX_VALUE_CHARS} characters."})
    return params


def _count(params: Any) -> int:
    raw = params.get("_count")
    if raw is None:
        return DEFAULT_COUNT
    if not raw.isdigit() or len(raw) > 4:
        raise InvalidInput({"_count": "Expected a whole number."})
    return min(int(raw), MAX_COUNT)


MAX_PAGE = 1000


def bundle(
    request: Request,
    resource_type: str,
    items: list[dict[str, Any]],
    *,
    params: dict[str, str],
    page: int,
    total: int | None,
    next_page: int | None,
) -> dict[str, Any]:
    """A searchset. Its links never echo the criteria: `self` and `next` are
    `GET [type]?_cursor=<sealed token>` (safeward/fhir/cursor.py)."""
    base = request.build_absolute_uri(reverse("fhir:search", args=[resource_type]))

    def link(relation: str, number: int) -> dict[str, str]:
        cursor = cursor_issue(request=request, resource_type=resource_type, params=params, page=number)
        return {"relation": relation, "url": f"{base}?{urlencode({'_cursor': cursor})}"}

    links = [link("self", page)]
    if next_page is not None and next_page <= MAX_PAGE:
        links.append(link("next", next_page))
    body: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {
                "fullUrl": request.build_absolute_uri(reverse("fhir:read", args=[resource_type, item["id"]])),
                "resource": item,
                "search": {"mode": "match"},
            }
            for item in items
        ],
    }
    if total is not None:
        body["total"] = total
    return resources.validated(body)


# Per resource type: the Chart attributes, the converter and the date each `date`-like parameter compares.
def _chart_date(item: Any, name: str) -> Any:
    return getattr(item, name)


CHART_TYPES: dict[str, tuple[tuple[str, ...], Callable[[Any, str], dict[str, Any]], dict[str, str]]] = {
    "Encounter": (("encounters",), resources.encounter_resource, {"date": "started_at"}),
    "Condition": (
        ("problems",),
        resources.condition_resource,
        {"onset-date": "onset", "recorded-date": "recorded_at"},
    ),
    "Observation": (("results", "orders"), resources.observation_resource, {"date": "effective_at"}),
    "MedicationRequest": (("medications",), resources.medication_resource, {"authoredon": "authored_at"}),
    "MedicationAdministration": (
        ("administrations",),
        resources.administration_resource,
        {"effective-time": "administered_at"},
    ),
    "AllergyIntolerance": (("allergies",), resources.allergy_resource, {"date": "recorded_at"}),
    "Immunization": (("immunizations",), resources.immunization_resource, {"date": "occurred_at"}),
    "Procedure": (("procedures",), resources.procedure_resource, {"date": "performed_at"}),
    "DiagnosticReport": (("reports",), resources.report_resource, {"date": "effective_at"}),
}
# Per resource type: the token search parameter naming its code, the code system and the view's attribute.
CODE_SEARCH: dict[str, tuple[str, str, str]] = {
    "Observation": ("code", resources.LOINC, "code"),
    "MedicationRequest": ("code", resources.RXNORM, "rxnorm"),
    "Immunization": ("vaccine-code", resources.CVX, "vaccine_code"),
    "Procedure": ("code", resources.SNOMED, "code"),
    "DiagnosticReport": ("code", resources.LOINC, "code"),
}
COMMON = {"_count", "_format"}


def _code_matches(resource_type: str, item: Any, system: str | None, code: str) -> bool:
    if resource_type == "Condition":
        item_system = resources.CONDITION_SYSTEMS.get(item.code_system)
        return item.code == code and (system is None or system == item_system)
    _, item_system, attribute = CODE_SEARCH[resource_type]
    return bool(getattr(item, attribute) == code and (system is None or system == item_system))


def _code_param(resource_type: str, params: dict[str, str]) -> str | None:
    """The value of this type's code parameter; a code or category parameter
    this type does not have is refused (400), not ignored."""
    tokens = {name for name, kind in SEARCH_PARAMS[resource_type] if kind == "token"}
    for name in ("code", "vaccine-code", "category"):
        if name in params and name not in tokens:
            raise InvalidInput({name: "Not a search parameter of this resource type."})
    own = next((name for name in ("code", "vaccine-code") if name in tokens), None)
    return params.get(own) if own else None


def _check_params(request: Request, resource_type: str, params: dict[str, str]) -> None:
    known = {name for name, _ in SEARCH_PARAMS[resource_type]} | COMMON
    if resource_type != "Patient":
        known.add("subject")
    unknown = sorted(set(params) - known)
    strict = "handling=strict" in request.headers.get("Prefer", "")
    if unknown and strict:
        raise InvalidInput({unknown[0][:40]: "Unknown search parameter."})


def _pinned_patient(request: Request, resource_type: str) -> str | None:
    """A token must carry a search scope for this type (403 insufficient
    scope); the patient it is pinned to when only `patient/` scopes grant the
    search. What it may see of a given patient is the gateway's."""
    decision = token_decision(request, Operation(resource_type, "s"))
    if decision is None:
        return None
    if decision.outcome is ScopeOutcome.FORBIDDEN:
        raise Forbidden
    return decision.patient_limit


class SearchView(FhirView):
    """The search both GET [type]?... and POST [type]/_search run."""

    manifest_route = "fhir:search"

    def search(self, request: Request, resource_type: str, raw: dict[str, str]) -> Response:
        """GET [type]?... and POST [type]/_search: the same parameters, the same
        results. `_cursor` (from a Bundle link) stands for a whole earlier search."""
        pinned = _pinned_patient(request, resource_type)
        raw.pop("_format", None)
        if "_cursor" in raw:
            if len(raw) > 1:
                raise InvalidInput({"_cursor": "A _cursor stands for the whole search: send it alone."})
            params, page = cursor_open(request=request, resource_type=resource_type, value=raw["_cursor"])
        else:
            params, page = raw, 1
        _check_params(request, resource_type, params)
        count = _count(params)
        if resource_type == "Patient":
            items, more = self._patients(request, params, count, page, pinned)
        else:
            items, more = self._chart_items(request, resource_type, params, count, page, pinned)
        return Response(
            bundle(
                request,
                resource_type,
                items,
                params=params,
                page=page,
                total=None if more else (page - 1) * count + len(items),
                next_page=page + 1 if more else None,
            ),
            content_type=FHIR_JSON,
        )

    def _patients(
        self, request: Request, params: dict[str, str], count: int, page: int, pinned: str | None
    ) -> tuple[list[dict[str, Any]], bool]:
        if "_id" in params or pinned:
            wanted = params.get("_id") or pinned
            if pinned and wanted != pinned:
                return [], False
            try:
                view = gateway.patient_read(
                    **self.ctx(request, Operation("Patient", "s", str(wanted))), patient_id=str(wanted)
                )
            except NotFound:
                return [], False
            views = [view] if view.sections and self._patient_matches(view, params) else []
            return [resources.patient_resource(v) for v in views][:count], False
        mrn = national_id = None
        if identifier := params.get("identifier"):
            system, value = _token(identifier)
            if system in (None, resources.MRN_SYSTEM):
                mrn = value
            elif system == resources.SSN_SYSTEM:
                national_id = value
            else:
                return [], False
        birth = None
        if birthdate := params.get("birthdate"):
            prefix, start, end = _date_range(birthdate)
            if prefix != "eq" or end - start != dt.timedelta(days=1):
                raise InvalidInput({"birthdate": "Search by a full date of birth (YYYY-MM-DD)."})
            birth = start.date()
        if count == 0:
            count = 1
        result = gateway.patient_search(
            **self.ctx(request, Operation("Patient", "s")),
            mrn=mrn,
            name=params.get("name") or None,
            birth_date=birth,
            national_id=national_id,
            page=page,
            page_size=count,
        )
        return [resources.patient_resource(v) for v in result.results], result.has_next

    @staticmethod
    def _patient_matches(view: PatientView, params: Any) -> bool:
        if identifier := params.get("identifier"):
            _, value = _token(identifier)
            if value not in (view.mrn, view.national_id):
                return False
        if name := params.get("name"):
            names = [n.casefold() for n in (view.given_name or "", view.family_name or "") for n in n.split()]
            if not all(any(n.startswith(w) for n in names) for w in name.casefold().split()):
                return False
        if birthdate := params.get("birthdate"):
            return _date_matches(view.birth_date, _date_range(birthdate))
        return True

    def _chart_items(
        self,
        request: Request,
        resource_type: str,
        params: dict[str, str],
        count: int,
        page: int,
        pinned: str | None,
    ) -> tuple[list[dict[str, Any]], bool]:
        attributes, convert, dates = CHART_TYPES[resource_type]
        reference = params.get("patient") or params.get("subject")
        if "_id" in params:
            try:
                chart, item = self.item_read(request, resource_type, params["_id"], "s")
            except NotFound:
                return [], False
            patient_id = chart.patient.id
            if reference and _patient_reference(reference) != patient_id:
                return [], False
            items = [item]
        elif reference:
            patient_id = _patient_reference(reference)
            chart = gateway.chart_read(
                **self.ctx(request, Operation(resource_type, "s", patient_id)), patient_id=patient_id
            )
            items = [i for a in attributes for i in (getattr(chart, a) or [])]
        else:
            if pinned:
                patient_id = pinned
                chart = gateway.chart_read(
                    **self.ctx(request, Operation(resource_type, "s", patient_id)), patient_id=patient_id
                )
                items = [i for a in attributes for i in (getattr(chart, a) or [])]
            else:
                raise InvalidInput({"patient": "Search by patient (patient=Patient/<id>) or by _id."})
        if code := _code_param(resource_type, params):
            system, value = _token(code)
            items = [i for i in items if _code_matches(resource_type, i, system, value)]
        if category := params.get("category"):
            system, value = _token(category)
            if system not in (None, resources.V2_0074):
                items = []
            items = [i for i in items if i.category == value]
        for name, attribute in dates.items():
            if name in params:
                criterion = _date_range(params[name])
                items = [i for i in items if _date_matches(getattr(i, attribute), criterion)]
        start = (page - 1) * count
        shown = items[start : start + count]
        return [convert(i, patient_id) for i in shown], len(items) > start + count


class ResourceSearch(SearchView):
    """GET /fhir/<type>?...: search. POST /fhir/Patient: create."""

    def get_permissions(self) -> Any:
        # Patient create needs the register permission; search needs read.
        if self.request.method == "POST":
            self.required_permission = Perm.CLINICAL_PATIENT_REGISTER
        return super().get_permissions()

    @extend_schema(exclude=True)
    def get(self, request: Request, resource_type: str) -> Response:
        if resource_type not in SEARCH_PARAMS:
            return outcome(404, "Unknown or unsupported resource type.", code="not-supported")
        return self.search(request, resource_type, search_params(request.query_params))

    @extend_schema(exclude=True)
    def post(self, request: Request, resource_type: str) -> Response:
        if resource_type != "Patient":
            if resource_type in SEARCH_PARAMS:
                return outcome(405, "Only Patient can be created here.", code="not-supported")
            return outcome(404, "Unknown or unsupported resource type.", code="not-supported")
        # A new patient is nobody's launch patient: only user/ and system/ scopes create one.
        ctx = self.ctx(request, Operation("Patient", "c", pinnable=False))
        data = resources.patient_input(request.data)
        created = gateway.patient_register(**ctx, data=data)
        response = Response(resources.patient_resource(created), status=201, content_type=FHIR_JSON)
        response["Location"] = request.build_absolute_uri(reverse("fhir:read", args=["Patient", created.id]))
        return response


class ResourceSearchPost(SearchView):
    """POST /fhir/<type>/_search: search with the parameters in an
    application/x-www-form-urlencoded body (FHIR R4 3.1.0.8.1). Same
    parameters and results as GET; preferred, since criteria in a body stay
    out of URLs. Parameters in the URL are refused: they would be logged."""

    parser_classes = [parsers.FormParser]
    required_permission = Perm.CLINICAL_PATIENT_READ
    manifest_route = "fhir:search_post"

    @extend_schema(exclude=True)
    def post(self, request: Request, resource_type: str) -> Response:
        if resource_type not in SEARCH_PARAMS:
            return outcome(404, "Unknown or unsupported resource type.", code="not-supported")
        in_url = sorted(set(request.query_params) - {"_format"})
        if in_url:
            raise InvalidInput({in_url[0][:40]: "Search parameters go in the form body, not the URL."})
        media_type = request.content_type.split(";")[0].strip()
        empty = not request.META.get("CONTENT_LENGTH") or request.META["CONTENT_LENGTH"] == "0"
        if media_type != "application/x-www-form-urlencoded" and not (empty and not media_type):
            return outcome(415, "Send the parameters as application/x-www-form-urlencoded.")
        return self.search(request, resource_type, search_params(request.data))


class PractitionerRead(FhirView):
    """GET /fhir/Practitioner/<id>: the resource an id_token's `fhirUser`
    names (ADR 0541). Workforce data, not PHI; each account reads only its
    own (anyone else's is not found), a token only with the `fhirUser` scope."""

    required_permission = AUTHENTICATED_ONLY
    permission_classes = [UsableAccount, TokenScope]
    token_scopes = {"GET": "fhirUser"}

    @extend_schema(exclude=True)
    def get(self, request: Request, practitioner_id: str) -> Response:
        user = request.user
        assert isinstance(user, User)
        if practitioner_id != str(user.pk):
            raise NotFound
        body: dict[str, Any] = {"resourceType": "Practitioner", "id": str(user.pk), "active": user.is_active}
        if user.first_name or user.last_name:
            body["name"] = [
                {
                    "use": "official",
                    **({"family": user.last_name} if user.last_name else {}),
                    **({"given": [user.first_name]} if user.first_name else {}),
                }
            ]
        return Response(resources.validated(body), content_type=FHIR_JSON)


class ResourceRead(FhirView):
    manifest_route = "fhir:read"

    @extend_schema(exclude=True)
    def get(self, request: Request, resource_type: str, resource_id: str) -> Response:
        if resource_type not in SEARCH_PARAMS:
            return outcome(404, "Unknown or unsupported resource type.", code="not-supported")
        if resource_type == "Patient":
            view = gateway.patient_read(
                **self.ctx(request, Operation("Patient", "r", resource_id)), patient_id=resource_id
            )
            if Section.DEMOGRAPHICS not in view.sections:
                raise NotFound
            return Response(resources.patient_resource(view), content_type=FHIR_JSON)
        chart, item = self.item_read(request, resource_type, resource_id, "r")
        convert = CHART_TYPES[resource_type][1]
        return Response(convert(item, chart.patient.id), content_type=FHIR_JSON)
