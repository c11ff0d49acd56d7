"""The authorization matrix x token scope (issue 11, item 1; ADR 0607).

Every route a bearer token can be presented to (everything under /api/,
/fhir/ and /o/, taken from the URLconf) x a set of credentials: a browser
session (no token: the policy alone), `openid` only, `user/*.rs`,
`user/*.cruds`, a `patient/*.cruds` token bound to patient A used on A and
on B, `system/*.rs`, and the non-SMART `openid fhirUser read write`. The
user behind every credential may do everything the routes offer (physician,
registration clerk and HR officer, on both patients' care team), so the
scopes are the only thing that varies. Expected outcomes are written out,
not computed: a new route, or a new method on a route, fails
`test_every_token_route_is_classified` until it has a row here.

Outcomes are status codes, except for searches, where "hit" / "miss" says
whether the target patient was found (a 200 that confirms nothing)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.urls import URLPattern, URLResolver, get_resolver

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from tests.clinical.conftest import WARD, appointment_to_today, new_patient, relate
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db

KINDS = ("browser", "openid", "user_rs", "user_cruds", "patient_own", "patient_other", "system_rs", "account")
SCOPES = {
    "openid": "openid",
    "user_rs": "user/*.rs",
    "user_cruds": "user/*.cruds",
    "patient_own": "launch/patient patient/*.cruds",
    "patient_other": "launch/patient patient/*.cruds",
    "system_rs": "system/*.rs",
    "account": "openid fhirUser read write",
}
TOKEN_PREFIXES = ("api/", "fhir/", "o/")


@dataclass
class Case:
    kind: str
    client: Client
    headers: dict[str, Any]  # WSGI environ entries (the Authorization header)
    user: Any
    patient: str  # the patient the request is about: A, or B for "patient_other"
    mrn: str
    world: World

    def get(self, path: str, data: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, data or {}, **self.headers)

    def post(self, path: str, data: Any = None, content_type: str = "application/json") -> Any:
        return self.client.post(
            path, data if data is not None else {}, content_type=content_type, **self.headers
        )

    def put(self, path: str, data: Any = None) -> Any:
        return self.client.put(
            path, data if data is not None else {}, content_type="application/json", **self.headers
        )


@dataclass
class World:
    clerk: Any
    department_id: int
    days: itertools.count[int]

    def free_slot(self) -> tuple[str, dt.date]:
        """A bookable slot on a day nobody else used (every request gets its own)."""
        day = clock.now().date() + dt.timedelta(days=next(self.days))
        gateway.slots_create(
            actor=self.clerk,
            session=WARD,
            department_id=self.department_id,
            day=day,
            start=dt.time(9),
            end=dt.time(10),
            minutes=30,
        )
        slots = gateway.schedule_day(
            actor=self.clerk,
            session=WARD,
            purpose=PurposeOfUse.OPERATIONS,
            department_id=self.department_id,
            day=day,
        )
        return slots[0].id, day

    def appointment(self, patient: str) -> str:
        slot, _ = self.free_slot()
        booked = gateway.appointment_book(
            actor=self.clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, patient_id=patient, slot_id=slot
        )
        return booked.id


def status(response: Any) -> int:
    return int(response.status_code)


def found(response: Any, ids: Callable[[Any], list[str]], patient: str) -> int | str:
    if response.status_code != 200:
        return int(response.status_code)
    return "hit" if patient in ids(response.json()) else "miss"


def _rest_results(body: Any) -> list[str]:
    return [r["id"] for r in body["results"]]


def _bundle_ids(body: Any) -> list[str]:
    return [e["resource"]["id"] for e in body.get("entry", [])]


REST = "/api/v1/clinical"
RANDOM_ORDER = "00000000-0000-4000-8000-00000000cafe"
FHIR_PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Matrix", "given": ["Token"]}],
    "gender": "female",
    "birthDate": "1990-01-01",
}


def _fhir_patient() -> dict[str, Any]:
    """A new name each time: the same name and birth date again is a possible duplicate (409)."""
    return {**FHIR_PATIENT, "name": [{"family": "Matrix", "given": [f"Token{next(FHIR_NAMES)}"]}]}


FHIR_NAMES = itertools.count()


def _register(c: Case) -> int:
    data = {"given_name": "Token", "family_name": "Matrix", "birth_date": "1990-01-01", "sex": "female"}
    return status(c.post(f"{REST}/patients/", {**data, "confirm_not_duplicate": True}))


def _schedule(c: Case) -> int:
    _, day = c.world.free_slot()
    return status(
        c.get(f"{REST}/schedule/", {"department_id": c.world.department_id, "day": day.isoformat()})
    )


def _book(c: Case) -> int:
    slot, _ = c.world.free_slot()
    return status(c.post(f"{REST}/appointments/", {"patient_id": c.patient, "slot_id": slot}))


def _change(action: str) -> Callable[[Case], int]:
    def run(c: Case) -> int:
        appointment = c.world.appointment(c.patient)
        appointment_to_today(appointment)  # a check-in happens on the appointment's day
        return status(c.post(f"{REST}/appointments/{appointment}/{action}/"))

    return run


def _allergy_status(c: Case) -> int:
    from safeward.clinical.types import SessionContext
    from tests.clinical.conftest import IMPORTER

    allergy = gateway.allergy_create(
        actor=IMPORTER,
        session=SessionContext.system(),
        purpose=PurposeOfUse.TREATMENT,
        patient_id=c.patient,
        substance="Latex",
    )
    return status(
        c.post(f"{REST}/patients/{c.patient}/allergies/{allergy.id}/status/", {"status": "inactive"})
    )


def _amendment_request(c: Case, *, denied: bool) -> str:
    ops, treat = PurposeOfUse.OPERATIONS, PurposeOfUse.TREATMENT
    request = gateway.amendment_request_record(
        actor=c.user, session=WARD, purpose=ops, patient_id=c.patient, request="Matrix"
    ).id
    if denied:
        gateway.amendment_request_deny(
            actor=c.user,
            session=WARD,
            purpose=treat,
            patient_id=c.patient,
            request_id=request,
            reason="Correct",
        )
    return request


def _amendment(action: str, body: dict[str, str], *, denied: bool) -> Callable[[Case], int]:
    def request(c: Case) -> int:
        rid = _amendment_request(c, denied=denied)
        return status(c.post(f"{REST}/patients/{c.patient}/amendment-requests/{rid}/{action}/", body))

    return request


Rule = tuple[Callable[[Case], Any], tuple[Any, ...]]
B, F, N = 200, 403, 404  # for the eye: allowed read, forbidden, not found

# (route name, method) -> (request, outcome per KINDS:
#  browser, openid, user_rs, user_cruds, patient_own, patient_other, system_rs, account)
RULES: dict[tuple[str, str], Rule] = {
    # --- the clinical REST API -------------------------------------------------------------
    ("clinical_api:patients", "POST"): (_register, (201, F, F, 201, F, F, F, F)),
    ("clinical_api:patient_search", "POST"): (
        lambda c: found(c.post(f"{REST}/patients/search/", {"mrn": c.mrn}), _rest_results, c.patient),
        ("hit", F, "hit", "hit", "hit", "miss", "hit", F),
    ),
    ("clinical_api:patient", "GET"): (
        lambda c: status(c.get(f"{REST}/patients/{c.patient}/")),
        (B, F, B, B, B, N, B, F),
    ),
    ("clinical_api:chart", "GET"): (
        lambda c: status(c.get(f"{REST}/patients/{c.patient}/chart/")),
        (B, F, B, B, B, N, B, F),
    ),
    ("clinical_api:note_create", "POST"): (  # no scope grants notes: browser only
        lambda c: status(c.post(f"{REST}/patients/{c.patient}/notes/", {"title": "T", "text": "Matrix"})),
        (201, F, F, F, F, F, F, F),
    ),
    ("clinical_api:condition_create", "POST"): (
        lambda c: status(
            c.post(f"{REST}/patients/{c.patient}/conditions/", {"code": "I10", "display": "HTN"})
        ),
        (201, F, F, 201, 201, N, F, F),
    ),
    ("clinical_api:allergy_create", "POST"): (
        lambda c: status(c.post(f"{REST}/patients/{c.patient}/allergies/", {"substance": "Latex"})),
        (201, F, F, 201, 201, N, F, F),
    ),
    ("clinical_api:allergy_status", "POST"): (_allergy_status, (B, F, F, B, B, N, F, F)),
    ("clinical_api:amendment_request_create", "POST"): (
        lambda c: status(c.post(f"{REST}/patients/{c.patient}/amendment-requests/", {"request": "Matrix"})),
        (201, F, F, 201, 201, N, F, F),
    ),
    ("clinical_api:amendment_request_deny", "POST"): (  # no scope grants the decision: browser only
        _amendment("deny", {"reason": "Correct as recorded"}, denied=False),
        (B, F, F, F, F, F, F, F),
    ),
    ("clinical_api:amendment_disagreement", "POST"): (
        _amendment("disagreement", {"statement": "I disagree"}, denied=True),
        (B, F, F, B, B, N, F, F),
    ),
    ("clinical_api:schedule", "GET"): (_schedule, (B, F, B, B, F, F, B, F)),
    ("clinical_api:appointment_book", "POST"): (_book, (201, F, F, 201, 201, N, F, F)),
    ("clinical_api:appointment_cancel", "POST"): (_change("cancel"), (B, F, F, B, B, N, F, F)),
    ("clinical_api:appointment_check_in", "POST"): (_change("check-in"), (B, F, F, B, B, N, F, F)),
    # Pharmacist verification: none of this user's roles (tests/api/test_pharmacy_api.py
    # puts a pharmacist's tokens to the MedicationRequest scopes).
    ("clinical_api:medications_to_verify", "GET"): (
        lambda c: status(c.get(f"{REST}/medication-orders/to-verify/")),
        (F,) * 8,
    ),
    ("clinical_api:medication_verify", "POST"): (
        lambda c: status(
            c.post(f"{REST}/patients/{c.patient}/medications/{RANDOM_ORDER}/verify/", {"outcome": "verified"})
        ),
        (F,) * 8,  # the permission is checked first: no patient is looked up
    ),
    # --- FHIR ------------------------------------------------------------------------------
    ("fhir:metadata", "GET"): (lambda c: status(c.get("/fhir/metadata")), (B,) * 8),
    ("fhir:smart_configuration", "GET"): (
        lambda c: status(c.get("/fhir/.well-known/smart-configuration")),
        (B,) * 8,
    ),
    ("fhir:search", "GET"): (
        lambda c: status(c.get("/fhir/Observation", {"patient": f"Patient/{c.patient}"})),
        (B, F, B, B, B, N, B, F),
    ),
    ("fhir:search", "POST"): (
        lambda c: status(c.post("/fhir/Patient", _fhir_patient(), content_type="application/fhir+json")),
        (201, F, F, 201, F, F, F, F),
    ),
    ("fhir:search_post", "POST"): (
        lambda c: found(
            c.post(
                "/fhir/Patient/_search",
                f"identifier={c.mrn}",
                content_type="application/x-www-form-urlencoded",
            ),
            _bundle_ids,
            c.patient,
        ),
        ("hit", F, "hit", "hit", "hit", "miss", "hit", F),
    ),
    ("fhir:read", "GET"): (
        lambda c: status(c.get(f"/fhir/Patient/{c.patient}")),
        (B, F, B, B, B, N, B, F),
    ),
    ("fhir:practitioner", "GET"): (
        lambda c: status(c.get(f"/fhir/Practitioner/{c.user.pk}")),
        (B, F, F, F, F, F, F, B),
    ),
    # --- OAuth / SMART ---------------------------------------------------------------------
    # Browser pages: a token is no sign-in there, so it is sent to the login page.
    ("oauth:authorize", "GET"): (
        lambda c: status(c.get("/o/authorize/")),
        (400, 302, 302, 302, 302, 302, 302, 302),
    ),
    ("oauth:authorize", "POST"): (
        lambda c: status(c.post("/o/authorize/", "allow=Authorize", "application/x-www-form-urlencoded")),
        (400, 302, 302, 302, 302, 302, 302, 302),  # browser: no client_id, a 400 (not a 500)
    ),
    ("oauth:authorize", "PUT"): (
        lambda c: status(c.client.put("/o/authorize/", **c.headers)),
        (400, 302, 302, 302, 302, 302, 302, 302),  # browser: no client_id, a 400 (not a 500)
    ),
    ("oauth:patient_picker", "GET"): (
        lambda c: status(c.get("/o/authorize/patient/")),
        (400, 302, 302, 302, 302, 302, 302, 302),
    ),
    ("oauth:token", "POST"): (  # the client authenticates in the body; none here
        lambda c: status(
            c.post("/o/token/", "grant_type=authorization_code", "application/x-www-form-urlencoded")
        ),
        (400,) * 8,
    ),
    ("oauth:launch", "POST"): (
        lambda c: status(c.post("/o/launch/", {"patient_id": c.patient})),
        (201, F, 201, 201, 201, N, 201, F),
    ),
    ("oauth:oidc-connect-discovery-info", "GET"): (
        lambda c: status(c.get("/o/.well-known/openid-configuration")),
        (B,) * 8,
    ),
    ("oauth:jwks-info", "GET"): (lambda c: status(c.get("/o/.well-known/jwks.json")), (B,) * 8),
    ("oauth:user-info", "GET"): (  # DOT's own check: a token with `openid` (401 otherwise)
        lambda c: status(c.get("/o/userinfo/")),
        (401, B, 401, 401, 401, 401, 401, B),
    ),
    ("oauth:user-info", "POST"): (
        lambda c: status(c.post("/o/userinfo/")),
        (401, B, 401, 401, 401, 401, 401, B),
    ),
    # --- the REST API outside the chart: DOT's `read` / `write` ----------------------------
    ("api_me", "GET"): (lambda c: status(c.get("/api/v1/me/")), (B, F, F, F, F, F, F, B)),
    ("api_schema", "GET"): (lambda c: status(c.get("/api/schema/")), (B, F, F, F, F, F, F, B)),
    ("workforce_api:api_people", "GET"): (
        lambda c: status(c.get("/api/v1/workforce/people/")),
        (B, F, F, F, F, F, F, B),
    ),
    ("workforce_api:api_person", "GET"): (
        lambda c: status(c.get("/api/v1/workforce/people/NOBODY-1/")),
        (N, F, F, F, F, F, F, N),
    ),
    ("workforce_api:api_person_terminate", "POST"): (
        lambda c: status(c.post("/api/v1/workforce/people/NOBODY-1/terminate/", {"reason": "matrix"})),
        (N, F, F, F, F, F, F, N),
    ),
    ("workforce_api:api_changes", "POST"): (  # an empty batch: 400 once the token may write
        lambda c: status(c.post("/api/v1/workforce/changes/", {"changes": []})),
        (400, F, F, F, F, F, F, 400),
    ),
    # --- PHI discovery: only the security and privacy officers (none of this user's roles)
    ("discovery_api:findings", "GET"): (lambda c: status(c.get("/api/v1/discovery/findings/")), (F,) * 8),
    ("discovery_api:finding", "GET"): (lambda c: status(c.get("/api/v1/discovery/findings/1/")), (F,) * 8),
    ("discovery_api:finding_triage", "POST"): (
        lambda c: status(c.post("/api/v1/discovery/findings/1/triage/", {"action": "confirm"})),
        (F,) * 8,
    ),
    ("discovery_api:share_scan", "POST"): (
        lambda c: status(c.post("/api/v1/discovery/shares/1/scan/")),
        (F,) * 8,
    ),
    # The asset register: none of the three roles keeps it (tests/assets/test_api.py has the keepers).
    ("assets_api:api_assets", "GET"): (lambda c: status(c.get("/api/v1/assets/")), (F,) * 8),
    ("assets_api:api_assets", "POST"): (lambda c: status(c.post("/api/v1/assets/", {})), (F,) * 8),
    ("assets_api:api_asset", "GET"): (lambda c: status(c.get("/api/v1/assets/999999/")), (F,) * 8),
    ("assets_api:api_asset", "PUT"): (lambda c: status(c.put("/api/v1/assets/999999/", {})), (F,) * 8),
    ("assets_api:api_assets_import", "POST"): (
        lambda c: status(c.post("/api/v1/assets/import/", {"csv": ""})),
        (F,) * 8,
    ),
    # Compliance: none of the three roles reads or runs the control tests
    # (tests/assessments/test_api.py has the compliance officer).
    ("compliance_api:runs", "GET"): (lambda c: status(c.get("/api/v1/compliance/runs/")), (F,) * 8),
    ("compliance_api:runs", "POST"): (lambda c: status(c.post("/api/v1/compliance/runs/", {})), (F,) * 8),
    ("compliance_api:run", "GET"): (lambda c: status(c.get("/api/v1/compliance/runs/999999/")), (F,) * 8),
    ("compliance_api:result", "GET"): (
        lambda c: status(c.get("/api/v1/compliance/runs/999999/controls/identity.mfa/")),
        (F,) * 8,
    ),
    ("compliance_api:framework", "GET"): (
        lambda c: status(c.get("/api/v1/compliance/frameworks/hicp/")),
        (F,) * 8,
    ),
    ("compliance_api:exceptions", "GET"): (
        lambda c: status(c.get("/api/v1/compliance/exceptions/")),
        (F,) * 8,
    ),
    ("compliance_api:exceptions", "POST"): (
        lambda c: status(c.post("/api/v1/compliance/exceptions/", {})),
        (F,) * 8,
    ),
    ("compliance_api:exception_approve", "POST"): (
        lambda c: status(c.post("/api/v1/compliance/exceptions/999999/approve/")),
        (F,) * 8,
    ),
    ("compliance_api:exception_revoke", "POST"): (
        lambda c: status(c.post("/api/v1/compliance/exceptions/999999/revoke/", {"reason": "x"})),
        (F,) * 8,
    ),
    # Assessment campaigns and the risk register: none of the three roles reads them
    # (tests/assessments/test_campaigns_web.py and test_risks_web.py have the officers).
    ("campaigns_api:campaigns", "GET"): (lambda c: status(c.get("/api/v1/assessments/campaigns/")), (F,) * 8),
    ("campaigns_api:campaigns", "POST"): (
        lambda c: status(c.post("/api/v1/assessments/campaigns/", {})),
        (F,) * 8,
    ),
    ("campaigns_api:campaign", "GET"): (
        lambda c: status(c.get("/api/v1/assessments/campaigns/1/")),
        (F,) * 8,
    ),
    ("campaigns_api:campaign_submit", "POST"): (
        lambda c: status(c.post("/api/v1/assessments/campaigns/1/submit/")),
        (F,) * 8,
    ),
    ("campaigns_api:campaign_sign_off", "POST"): (
        lambda c: status(c.post("/api/v1/assessments/campaigns/1/sign-off/")),
        (F,) * 8,
    ),
    ("campaigns_api:campaign_compare", "GET"): (
        lambda c: status(c.get("/api/v1/assessments/campaigns/1/compare/")),
        (F,) * 8,
    ),
    ("campaigns_api:question_answer", "POST"): (
        lambda c: status(c.post("/api/v1/assessments/questions/1/answer/", {"maturity": 1})),
        (F,) * 8,
    ),
    ("campaigns_api:question_findings", "POST"): (
        lambda c: status(c.post("/api/v1/assessments/questions/1/findings/", {})),
        (F,) * 8,
    ),
    ("campaigns_api:question_evidence", "GET"): (
        lambda c: status(c.get("/api/v1/assessments/questions/1/evidence/")),
        (F,) * 8,
    ),
    ("campaigns_api:question_evidence", "POST"): (
        lambda c: status(
            c.post("/api/v1/assessments/questions/1/evidence/", {}, content_type=MULTIPART_CONTENT)
        ),
        (F,) * 8,
    ),
    ("campaigns_api:findings", "GET"): (lambda c: status(c.get("/api/v1/assessments/findings/")), (F,) * 8),
    ("campaigns_api:finding", "GET"): (lambda c: status(c.get("/api/v1/assessments/findings/1/")), (F,) * 8),
    ("campaigns_api:finding", "PUT"): (
        lambda c: status(c.put("/api/v1/assessments/findings/1/", {})),
        (F,) * 8,
    ),
    ("campaigns_api:maturity", "GET"): (
        lambda c: status(c.get("/api/v1/assessments/maturity/hicp/")),
        (F,) * 8,
    ),
    ("risks_api:risks", "GET"): (lambda c: status(c.get("/api/v1/risks/")), (F,) * 8),
    ("risks_api:risks", "POST"): (lambda c: status(c.post("/api/v1/risks/", {})), (F,) * 8),
    ("risks_api:heat_map", "GET"): (lambda c: status(c.get("/api/v1/risks/heat-map/")), (F,) * 8),
    ("risks_api:risk", "GET"): (lambda c: status(c.get("/api/v1/risks/1/")), (F,) * 8),
    ("risks_api:risk", "PUT"): (lambda c: status(c.put("/api/v1/risks/1/", {})), (F,) * 8),
    ("risks_api:risk_review", "POST"): (
        lambda c: status(c.post("/api/v1/risks/1/review/", {"next_review_due": "2030-01-01"})),
        (F,) * 8,
    ),
    # The policy library: every account reads the published documents (`read`);
    # who acknowledged is for the library's keepers (tests/policies/test_api.py).
    ("policies_api:documents", "GET"): (
        lambda c: status(c.get("/api/v1/policies/documents/")),
        (B, F, F, F, F, F, F, B),
    ),
    ("policies_api:document", "GET"): (
        lambda c: status(c.get("/api/v1/policies/documents/no-such-policy/")),
        (N, F, F, F, F, F, F, N),
    ),
    ("policies_api:acknowledgements", "GET"): (
        lambda c: status(c.get("/api/v1/policies/acknowledgements/")),
        (F,) * 8,
    ),
    # The vendor register: the privacy, security and compliance officers and the auditor
    # (tests/security/test_vendors_matrix.py); none of the users behind these credentials.
    ("vendors_api:list", "GET"): (lambda c: status(c.get("/api/v1/vendors/")), (F,) * 8),
    ("vendors_api:vendor", "GET"): (lambda c: status(c.get("/api/v1/vendors/1/")), (F,) * 8),
    ("vendors_api:suspend", "POST"): (
        lambda c: status(c.post("/api/v1/vendors/1/suspend/", {"reason": "x"})),
        (F,) * 8,
    ),
    ("vendors_api:agreement_terminate", "POST"): (
        lambda c: status(c.post("/api/v1/vendors/agreements/1/terminate/", {"reason": "x"})),
        (F,) * 8,
    ),
    ("vendors_api:agreement_renew", "POST"): (
        lambda c: status(c.post("/api/v1/vendors/agreements/1/renew/", {"end_date": "2030-01-01"})),
        (F,) * 8,
    ),
    ("vendors_api:questionnaires", "GET"): (
        lambda c: status(c.get("/api/v1/vendors/questionnaires/")),
        (F,) * 8,
    ),
    ("vendors_api:questionnaire_send", "POST"): (
        lambda c: status(
            c.post(
                "/api/v1/vendors/1/questionnaires/", {"contact_name": "x", "contact_email": "x@example.org"}
            )
        ),
        (F,) * 8,
    ),
    ("vendors_api:questionnaire_sign_off", "POST"): (
        lambda c: status(c.post("/api/v1/vendors/questionnaires/1/sign-off/", {"note": "x"})),
        (F,) * 8,
    ),
    # Vulnerabilities (issue 17): the matrix user holds no patching permission.
    ("vulns_api:findings", "GET"): (lambda c: status(c.get("/api/v1/vulns/findings/")), (F,) * 8),
    ("vulns_api:finding", "GET"): (lambda c: status(c.get("/api/v1/vulns/findings/1/")), (F,) * 8),
    ("vulns_api:finding_analysis", "PUT"): (
        lambda c: status(c.put("/api/v1/vulns/findings/1/analysis/", {"state": "in_triage"})),
        (F,) * 8,
    ),
    ("vulns_api:inventories", "POST"): (lambda c: status(c.post("/api/v1/vulns/inventories/", {})), (F,) * 8),
    ("vulns_api:exceptions", "GET"): (lambda c: status(c.get("/api/v1/vulns/exceptions/")), (F,) * 8),
    ("vulns_api:exception_approve", "POST"): (
        lambda c: status(c.post("/api/v1/vulns/exceptions/1/approve/", {})),
        (F,) * 8,
    ),
    ("vulns_api:exception_reject", "POST"): (
        lambda c: status(c.post("/api/v1/vulns/exceptions/1/reject/", {})),
        (F,) * 8,
    ),
    ("vulns_api:finding_exceptions", "POST"): (
        lambda c: status(
            c.post(
                "/api/v1/vulns/findings/1/exceptions/",
                {"decision": "accept", "justification": "x", "controls": [], "expires_on": "2030-01-01"},
            )
        ),
        (F,) * 8,
    ),
    ("vulns_api:feeds", "POST"): (
        lambda c: status(c.post("/api/v1/vulns/feeds/", {"feed": "kev"}, content_type=MULTIPART_CONTENT)),
        (F,) * 8,
    ),
    ("vulns_api:vex_export", "GET"): (lambda c: status(c.get("/api/v1/vulns/vex/openvex/")), (F,) * 8),
    ("vulns_api:policy", "GET"): (lambda c: status(c.get("/api/v1/vulns/policy/")), (F,) * 8),
    ("vulns_api:plans", "GET"): (lambda c: status(c.get("/api/v1/vulns/plans/")), (F,) * 8),
    ("vulns_api:plans", "POST"): (lambda c: status(c.post("/api/v1/vulns/plans/", {})), (F,) * 8),
    ("vulns_api:plan", "GET"): (lambda c: status(c.get("/api/v1/vulns/plans/1/")), (F,) * 8),
    ("vulns_api:plan_update", "POST"): (
        lambda c: status(c.post("/api/v1/vulns/plans/1/update/", {"status": "cancelled"})),
        (F,) * 8,
    ),
    # Incident cases: the security, privacy, compliance officers and the auditor read.
    ("incidents_api:incidents", "GET"): (lambda c: status(c.get("/api/v1/incidents/")), (F,) * 8),
    ("incidents_api:incident", "GET"): (lambda c: status(c.get("/api/v1/incidents/1/")), (F,) * 8),
    # Devices and networks: none of the three roles reads or keeps them
    # (tests/security/test_devices_matrix.py and tests/devices/test_api.py have the keepers).
    ("devices_api:devices", "GET"): (lambda c: status(c.get("/api/v1/devices/")), (F,) * 8),
    ("devices_api:devices", "POST"): (
        lambda c: status(c.post("/api/v1/devices/", {}, content_type="application/json")),
        (F,) * 8,
    ),
    ("devices_api:device", "GET"): (lambda c: status(c.get("/api/v1/devices/999999/")), (F,) * 8),
    ("devices_api:inventory_import", "POST"): (
        lambda c: status(c.post("/api/v1/devices/import/", {"csv": ""}, content_type="application/json")),
        (F,) * 8,
    ),
    ("devices_api:segments", "GET"): (lambda c: status(c.get("/api/v1/devices/segments/")), (F,) * 8),
    ("devices_api:flows", "GET"): (lambda c: status(c.get("/api/v1/devices/flows/")), (F,) * 8),
    ("devices_api:flows", "POST"): (
        lambda c: status(c.post("/api/v1/devices/flows/", {}, content_type="application/json")),
        (F,) * 8,
    ),
    ("devices_api:flow_export_import", "POST"): (
        lambda c: status(
            c.post("/api/v1/devices/flows/observed/import/", {"csv": ""}, content_type="application/json")
        ),
        (F,) * 8,
    ),
    ("devices_api:flows_import", "POST"): (
        lambda c: status(
            c.post("/api/v1/devices/flows/import/", {"csv": ""}, content_type="application/json")
        ),
        (F,) * 8,
    ),
    ("devices_api:controls", "GET"): (lambda c: status(c.get("/api/v1/devices/controls/")), (F,) * 8),
    ("devices_api:mds2", "GET"): (lambda c: status(c.get("/api/v1/devices/mds2/")), (F,) * 8),
    # A file upload: multipart only (JSON is refused with 415 before anything else).
    ("devices_api:mds2_import", "POST"): (
        lambda c: status(c.post("/api/v1/devices/mds2/import/", {}, content_type=MULTIPART_CONTENT)),
        (F,) * 8,
    ),
    # Device posture (issue 14): for the device managers and readers, none of whom is here.
    ("posture_api:imports", "POST"): (
        lambda c: status(c.post("/api/v1/devices/posture/imports/", {"content": "x"})),
        (F,) * 8,
    ),
    ("posture_api:device", "GET"): (
        lambda c: status(c.get("/api/v1/devices/posture/devices/1/")),
        (F,) * 8,
    ),
    ("posture_api:report_lost", "POST"): (
        lambda c: status(c.post("/api/v1/devices/posture/devices/1/report-lost/", {})),
        (F,) * 8,
    ),
    ("posture_api:wipes", "GET"): (lambda c: status(c.get("/api/v1/devices/posture/wipes/")), (F,) * 8),
    ("posture_api:wipe_confirm", "POST"): (
        lambda c: status(c.post("/api/v1/devices/posture/wipes/1/confirm/", {})),
        (F,) * 8,
    ),
    # OAuth clients on a device (ADR 1018): readers list, security officers link.
    ("posture_api:client_links", "GET"): (
        lambda c: status(c.get("/api/v1/devices/posture/client-links/")),
        (F,) * 8,
    ),
    ("posture_api:client_link", "POST"): (
        lambda c: status(c.post("/api/v1/devices/posture/client-links/link/", {})),
        (F,) * 8,
    ),
    ("posture_api:client_unlink", "POST"): (
        lambda c: status(c.post("/api/v1/devices/posture/client-links/unlink/", {})),
        (F,) * 8,
    ),
    # Physical security (issue 15): the matrix's user holds no facility permission.
    ("facilities_api:areas", "GET"): (lambda c: status(c.get("/api/v1/facilities/areas/")), (F,) * 8),
    ("facilities_api:events", "GET"): (
        lambda c: status(c.get("/api/v1/facilities/events/?area=1")),
        (F,) * 8,
    ),
    ("facilities_api:events_import", "POST"): (
        lambda c: status(c.post("/api/v1/facilities/events/import/", {})),
        (F,) * 8,
    ),
    ("facilities_api:visitors", "GET"): (lambda c: status(c.get("/api/v1/facilities/visitors/")), (F,) * 8),
    ("facilities_api:visitor_sign_in", "POST"): (
        lambda c: status(c.post("/api/v1/facilities/visitors/sign-in/", {})),
        (F,) * 8,
    ),
    # The desk's inpatient lookup: a signed-in session only, no token scope reaches it (ADR 1113).
    ("facilities_api:visitor_patient_lookup", "POST"): (
        lambda c: status(c.post("/api/v1/facilities/visitors/patient-lookup/", {})),
        (F,) * 8,
    ),
    ("facilities_api:custody", "GET"): (lambda c: status(c.get("/api/v1/facilities/custody/")), (F,) * 8),
    ("facilities_api:certificates", "GET"): (
        lambda c: status(c.get("/api/v1/facilities/certificates/")),
        (F,) * 8,
    ),
    ("facilities_api:certificate_record", "POST"): (
        lambda c: status(c.post("/api/v1/facilities/certificates/new/", {})),
        (F,) * 8,
    ),
    ("facilities_api:certificate_validate", "POST"): (
        lambda c: status(c.post("/api/v1/facilities/certificates/1/validate/", {})),
        (F,) * 8,
    ),
    ("facilities_api:certificate_dispose", "POST"): (
        lambda c: status(c.post("/api/v1/facilities/certificates/1/dispose/", {})),
        (F,) * 8,
    ),
    ("facilities_api:disposals_bulk", "POST"): (
        lambda c: status(c.post("/api/v1/facilities/disposals/bulk/", {})),
        (F,) * 8,
    ),
    # Continuity state is for IT, security, compliance and audit (tests/security/test_continuity_matrix.py).
    ("continuity_api:status", "GET"): (lambda c: status(c.get("/api/v1/continuity/status/")), (F,) * 8),
    ("continuity_api:backups", "GET"): (lambda c: status(c.get("/api/v1/continuity/backups/")), (F,) * 8),
    ("continuity_api:bia", "GET"): (lambda c: status(c.get("/api/v1/continuity/bia/")), (F,) * 8),
    ("continuity_api:schedule", "GET"): (lambda c: status(c.get("/api/v1/continuity/schedule/")), (F,) * 8),
    ("continuity_api:schedule", "POST"): (
        lambda c: status(c.post("/api/v1/continuity/schedule/", {"job": "deadlines"})),
        (F,) * 8,
    ),
}

_ALIASES = {"oauth2_provider": "oauth"}  # /o/ is mounted twice (DOT reverses its own namespace)
_METHODS = ("get", "post", "put", "patch", "delete")


def token_routes() -> dict[str, Any]:
    """route name -> view callback, for every route under /api/, /fhir/ and /o/."""
    routes: dict[str, Any] = {}

    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route, p.namespace or namespace)
            elif isinstance(p, URLPattern) and route.lstrip("^").startswith(TOKEN_PREFIXES):
                space = _ALIASES.get(namespace or "", namespace)
                routes[f"{space}:{p.name}" if space else str(p.name)] = p.callback

    walk(get_resolver().url_patterns, "", None)
    return routes


def test_every_token_route_is_classified():
    """Each route, and each HTTP method its view implements, has a row."""
    classified = {(name, method) for name, method in RULES}
    wanted: set[tuple[str, str]] = set()
    for name, callback in token_routes().items():
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        methods = [m.upper() for m in _METHODS if view_class is not None and hasattr(view_class, m)]
        wanted |= (
            {(name, m) for m in methods} or {(name, m) for n, m in classified if n == name} or {(name, "?")}
        )
    assert wanted == classified, "add a row to RULES for every route and method under /api/, /fhir/, /o/"


def test_matrix(client):
    user = UserFactory(roles=["physician", "registration_clerk", "hr_officer"], totp_secret=True)
    mine = new_patient(given="Ada", family="Quist", mrn="MATRIX-A")
    other = new_patient(given="Bea", family="Quist", mrn="MATRIX-B")
    relate(user, mine, "care_team")
    relate(user, other, "care_team")
    from safeward.identity.models import Department

    clinic = Department.objects.create(code="matrix-scopes", name="Matrix clinic")
    world = World(clerk=user, department_id=clinic.pk, days=itertools.count(1))
    sign_in(client, user)
    cases = []
    for kind in KINDS:
        target, mrn = (other, "MATRIX-B") if kind == "patient_other" else (mine, "MATRIX-A")
        if kind == "browser":
            cases.append(Case(kind, client, {}, user, target, mrn, world))
        else:
            raw = token(user, SCOPES[kind], patient_id=mine if kind.startswith("patient") else None)
            cases.append(Case(kind, Client(), bearer(raw), user, target, mrn, world))
    mismatches = []
    for (name, method), (request, expected) in RULES.items():
        for case, want in zip(cases, expected, strict=True):
            got = request(case)
            if got != want:
                mismatches.append(f"{name} {method} as {case.kind}: got {got}, expected {want}")
    assert not mismatches, "\n".join(mismatches)


def test_a_new_view_refuses_every_token_until_it_declares_its_scopes(client):
    """Deny by default for tokens: an API view with no `token_scopes` (here
    /api/v1/me/ with its declaration removed) answers 403 to any token."""
    from safeward.identity.api import MeView

    user = UserFactory(roles=["physician"], totp_secret=True)
    raw = token(user, "openid fhirUser read write user/*.cruds")
    assert client.get("/api/v1/me/", **bearer(raw)).status_code == 200
    declared = MeView.token_scopes
    MeView.token_scopes = {}
    try:
        assert client.get("/api/v1/me/", **bearer(raw)).status_code == 403
    finally:
        MeView.token_scopes = declared


# --- the chart item types of issue 12 x scopes ------------------------------------------------
# The same user and patients; the token kinds add narrow scopes: one type for
# the launch patient, and read-without-search on another type.
ITEM_KINDS = (
    "browser",
    "openid",
    "user_rs",
    "patient_own",
    "patient_other",
    "immunization_patient",
    "procedure_user_read",
    "system_rs",
)
ITEM_SCOPES = {
    **SCOPES,
    "immunization_patient": "launch/patient patient/Immunization.rs",
    "procedure_user_read": "user/Procedure.r",
}
H = "hit"
# (resource type, interaction) -> outcome per ITEM_KINDS
ITEM_RULES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("Immunization", "search"): (H, F, H, H, N, H, F, H),
    ("Immunization", "read"): (B, F, B, B, N, B, F, B),
    ("Procedure", "search"): (H, F, H, H, N, F, F, H),
    ("Procedure", "read"): (B, F, B, B, N, F, B, B),
    ("DiagnosticReport", "search"): (H, F, H, H, N, F, F, H),
    ("DiagnosticReport", "read"): (B, F, B, B, N, F, F, B),
}
ITEM_ATTRIBUTES = {"Immunization": "immunizations", "Procedure": "procedures", "DiagnosticReport": "reports"}


def test_chart_item_types_by_scope(client):
    from tests.clinical.chart_items import patient_with_items

    user = UserFactory(roles=["physician"], totp_secret=True)
    mine = patient_with_items(1, family="Quist", mrn="ITEMS-A")
    other = patient_with_items(1, family="Quist", mrn="ITEMS-B")
    relate(user, mine, "care_team")
    relate(user, other, "care_team")
    charts = {
        pid: gateway.chart_read(actor=user, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=pid)
        for pid in (mine, other)
    }
    sign_in(client, user)
    mismatches = []
    for kind, column in zip(ITEM_KINDS, zip(*ITEM_RULES.values(), strict=True), strict=True):
        target = other if kind == "patient_other" else mine
        if kind == "browser":
            requester, headers = client, {}
        else:
            raw = token(user, ITEM_SCOPES[kind], patient_id=mine if "patient" in kind else None)
            requester, headers = Client(), bearer(raw)
        for (resource_type, interaction), want in zip(ITEM_RULES, column, strict=True):
            item = getattr(charts[target], ITEM_ATTRIBUTES[resource_type])[0].id
            if interaction == "read":
                got: Any = requester.get(f"/fhir/{resource_type}/{item}", **headers).status_code
            else:
                response = requester.get(
                    f"/fhir/{resource_type}", {"patient": f"Patient/{target}"}, **headers
                )
                got = found(response, _bundle_ids, item)
            if got != want:
                mismatches.append(f"{resource_type} {interaction} as {kind}: got {got}, expected {want}")
    assert not mismatches, "\n".join(mismatches)


# --- MedicationAdministration x scopes (ADR 1420) --------------------------------------------------
# Doses given are read with the medications section: a MedicationAdministration
# scope reaches them, in the patient or user context as scoped.
DOSE_KINDS = (
    "browser",
    "openid",
    "user_rs",
    "patient_own",
    "patient_other",
    "dose_patient_read",
    "dose_user_read",
    "request_user_rs",
    "immunization_patient",
    "system_rs",
)
DOSE_SCOPES = {
    **ITEM_SCOPES,
    "dose_patient_read": "launch/patient patient/MedicationAdministration.read",
    "dose_user_read": "user/MedicationAdministration.read",
    "request_user_rs": "user/MedicationRequest.rs",
}
DOSE_RULES: dict[str, tuple[Any, ...]] = {
    "search": (H, F, H, H, N, H, H, F, F, H),
    "read": (B, F, B, B, N, B, B, F, F, B),
}


def test_medication_administrations_by_scope(client):
    from tests.clinical.chart_items import paper_dose

    user = UserFactory(roles=["physician"], totp_secret=True)
    mine, other = new_patient(family="Dosewell", mrn="DOSE-A"), new_patient(family="Dosewell", mrn="DOSE-B")
    relate(user, mine, "care_team")
    relate(user, other, "care_team")
    doses = {pid: paper_dose(user, pid) for pid in (mine, other)}
    sign_in(client, user)
    mismatches = []
    for kind, column in zip(DOSE_KINDS, zip(*DOSE_RULES.values(), strict=True), strict=True):
        target = other if kind == "patient_other" else mine
        if kind == "browser":
            requester, headers = client, {}
        else:
            raw = token(user, DOSE_SCOPES[kind], patient_id=mine if "patient" in kind else None)
            requester, headers = Client(), bearer(raw)
        for interaction, want in zip(DOSE_RULES, column, strict=True):
            if interaction == "read":
                got: Any = requester.get(
                    f"/fhir/MedicationAdministration/{doses[target]}", **headers
                ).status_code
            else:
                response = requester.get(
                    "/fhir/MedicationAdministration", {"patient": f"Patient/{target}"}, **headers
                )
                got = found(response, _bundle_ids, doses[target])
            if got != want:
                mismatches.append(
                    f"MedicationAdministration {interaction} as {kind}: got {got}, expected {want}"
                )
    assert not mismatches, "\n".join(mismatches)
