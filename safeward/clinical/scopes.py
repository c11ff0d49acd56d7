"""SMART on FHIR v2 scopes, and what a bearer token may reach.

A scope such as `patient/Observation.rs`, `user/*.rs` or `system/Patient.c`
names a context (patient, user, system), a resource type and permissions
(c r u d s; SMART v1's `read` / `write` / `*` are understood too). Scopes map to
policy sections (`clinical.policy.Section`).

`scope_decide` is the one scope decision of every interface (FHIR, the REST
API, /o/launch/), for reads and writes (ADR 0606): each interface names its
operation (resource type, permission, patient) and a token without the scope
is refused (403); a `patient/` scope reaches only the patient of the token's
launch context (kept by fhir, `TokenContext`), anyone else is not found (404). What is
allowed becomes the gateway session's section limit and patient limit, which
the gateway intersects with the user's own decision, so a token never exceeds
its user's rights.

Grants are narrowed at issuance too: `scopes_within_rights` drops every
resource scope the user's permissions could never satisfy, so the token
response tells an app what it really got.

It lives in clinical, below the interfaces that use it (the REST API here,
FHIR and /o/launch/ in fhir), so neither imports the other (ADR 0562);
fhir keeps what is django-oauth-toolkit's (`fhir.smart.SmartScopes`) and the
launch context.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings

from safeward import clock
from safeward.clinical.policy import SECTION_PERMISSIONS, WRITE_PERMISSIONS, Section
from safeward.clinical.types import Forbidden, NotFound, SessionContext
from safeward.identity.access import device_posture_for_token
from safeward.identity.models import User

if TYPE_CHECKING:
    from django.http import HttpRequest
    from oauth2_provider.models import AccessToken

# FHIR resource type -> the policy sections a read of it discloses.
RESOURCE_SECTIONS: dict[str, frozenset[Section]] = {
    "Patient": frozenset({Section.DEMOGRAPHICS, Section.CONTACT, Section.NATIONAL_ID}),
    "Encounter": frozenset({Section.ENCOUNTERS}),
    "Condition": frozenset({Section.PROBLEMS}),
    "Observation": frozenset({Section.RESULTS, Section.ORDERS}),
    "MedicationRequest": frozenset({Section.MEDICATIONS}),
    # Doses given are read with the orders they were given against (ADR 1420).
    "MedicationAdministration": frozenset({Section.MEDICATIONS}),
    "AllergyIntolerance": frozenset({Section.ALLERGIES}),
    "Appointment": frozenset({Section.APPOINTMENTS}),
    "Immunization": frozenset({Section.IMMUNIZATIONS}),
    "Procedure": frozenset({Section.PROCEDURES}),
    "DiagnosticReport": frozenset({Section.REPORTS}),
}
RESOURCE_TYPES = tuple(RESOURCE_SECTIONS)
CONTEXTS = ("patient", "user", "system")
# Launch and identity scopes; they grant no data by themselves.
PLAIN_SCOPES = {
    "launch": "Launch from the EHR with a context",
    "launch/patient": "Ask for a patient context",
    "openid": "OpenID Connect sign-in",
    "fhirUser": "Who the signed-in user is",
    "offline_access": "Stay connected (refresh token)",
    "online_access": "Refresh token while the user is signed in",
    # django-oauth-toolkit's defaults, for the REST API outside the chart
    # (/api/v1/me/, /api/schema/, the workforce API; ADR 0606).
    "read": "Read your account and what it may read outside the chart",
    "write": "Change what your account may change outside the chart",
}
_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]{1,40})\.(\*|read|write|c?r?u?d?s?)$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True)
class Scope:
    context: str  # patient | user | system
    resource: str  # a FHIR resource type or *
    permissions: frozenset[str]  # of c r u d s

    @property
    def resource_types(self) -> tuple[str, ...]:
        return RESOURCE_TYPES if self.resource == "*" else (self.resource,)


def parse_scope(text: str) -> Scope | None:
    match = _SCOPE.match(text)
    if match is None or not match.group(3):
        return None
    context, resource, perms = match.groups()
    if resource != "*" and resource not in RESOURCE_SECTIONS:
        return None
    return Scope(context, resource, frozenset(_V1.get(perms, perms)))


def parse_scopes(text: str) -> list[Scope]:
    return [scope for scope in (parse_scope(word) for word in text.split()) if scope is not None]


def _sections_for(scopes: Iterable[Scope], permission: str) -> frozenset[Section]:
    found: set[Section] = set()
    for scope in scopes:
        if permission in scope.permissions:
            for resource_type in scope.resource_types:
                found |= RESOURCE_SECTIONS[resource_type]
    return frozenset(found)


# --- the scope decision (ADR 0606) ------------------------------------------------------------
class ScopeOutcome(StrEnum):
    ALLOW = "allow"
    FORBIDDEN = "forbidden"  # no scope for this kind of operation: 403
    NOT_FOUND = "not_found"  # another patient than the token's launch patient: 404, as if missing


@dataclass(frozen=True)
class Operation:
    """One operation of an interface, as SMART names it: a resource type, a
    permission (c r u d s) and the patient it touches when that is known
    before the call. `patient_id` None: a search, a listing or a create, or a
    patient the gateway finds (an appointment's); `pinnable` says whether such
    an answer can be narrowed to one patient (a search can, a clinic's day or
    a new patient cannot). A type no scope grants (e.g. DocumentReference for
    notes) is refused to every token."""

    resource_type: str
    permission: str
    patient_id: str | None = None
    pinnable: bool = True


@dataclass(frozen=True)
class ScopeDecision:
    """`sections`: what the token may disclose of the operation's patient
    (the session's section limit); `patient_limit`: only `patient/` scopes
    grant the operation, so the gateway must treat every other patient as
    not found."""

    outcome: ScopeOutcome
    reason: str
    sections: frozenset[Section] = frozenset()
    patient_limit: str | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome is ScopeOutcome.ALLOW


def scope_decide(*, scopes: str, launch_patient: str | None, operation: Operation) -> ScopeDecision:
    """The one scope decision of every interface (FHIR, REST, /o/launch/), for
    reads and writes: may a token with `scopes`, launched for
    `launch_patient`, perform `operation`? Pure; the policy still decides
    what the token's user may do (a token never exceeds its user)."""
    parsed = parse_scopes(scopes)
    granting = [
        s
        for s in parsed
        if operation.resource_type in s.resource_types and operation.permission in s.permissions
    ]
    wide = [s for s in granting if s.context != "patient"]
    narrow = [s for s in granting if s.context == "patient"] if launch_patient else []
    if not wide and not narrow:
        return ScopeDecision(ScopeOutcome.FORBIDDEN, "insufficient_scope")
    pinned = None
    if not wide:
        # Only patient/ scopes grant it: they reach the launch patient and nobody else.
        if operation.patient_id is None and not operation.pinnable:
            return ScopeDecision(ScopeOutcome.FORBIDDEN, "patient_scope_spans_patients")
        if operation.patient_id is not None and str(operation.patient_id) != launch_patient:
            return ScopeDecision(ScopeOutcome.NOT_FOUND, "outside_launch_patient")
        pinned = launch_patient
    disclosing = "s" if operation.permission == "s" else "r"
    sections = _sections_for([s for s in parsed if s.context != "patient"], disclosing)
    at_launch_patient = pinned is not None or (
        operation.patient_id is not None and str(operation.patient_id) == launch_patient
    )
    if at_launch_patient:
        sections |= _sections_for([s for s in parsed if s.context == "patient"], disclosing)
    reason = "patient_scope" if pinned else "user_scope"
    return ScopeDecision(ScopeOutcome.ALLOW, reason, sections, pinned)


def scopes_within_rights(requested: Iterable[str], permissions: Iterable[str]) -> list[str]:
    """The requested scopes a user with `permissions` could use at all: a
    resource scope survives only if one of its sections is readable (or, for
    `c`, writable) under some permission the user holds. Unknown words go."""
    held = set(permissions)
    kept: list[str] = []
    for word in requested:
        if word in PLAIN_SCOPES:
            kept.append(word)
            continue
        scope = parse_scope(word)
        if scope is None:
            continue
        readable = any(
            {str(p) for p in SECTION_PERMISSIONS[section]} & held
            for resource_type in scope.resource_types
            for section in RESOURCE_SECTIONS[resource_type]
        )
        writable = "c" not in scope.permissions or any(
            {str(p) for p in WRITE_PERMISSIONS.get(section, frozenset())} & held
            for resource_type in scope.resource_types
            for section in RESOURCE_SECTIONS[resource_type]
        )
        if readable and writable:
            kept.append(word)
    return kept


# --- a bearer token as a SessionContext -------------------------------------------------------
# Where a token's launch patient is kept (fhir's `TokenContext`) is the SMART
# interface's business: fhir registers the lookup in its `ready()`, so this
# module imports nothing of fhir. Without one no token has a launch patient,
# and `patient/` scopes grant nothing (closed, not open).
_LAUNCH_PATIENT_LOOKUPS: list[Callable[[AccessToken], str | None]] = []


def register_launch_patient_lookup(lookup: Callable[[AccessToken], str | None]) -> None:
    _LAUNCH_PATIENT_LOOKUPS[:] = [lookup]


def token_patient(token: AccessToken) -> str | None:
    """The patient of the token's launch context, if any."""
    return _LAUNCH_PATIENT_LOOKUPS[0](token) if _LAUNCH_PATIENT_LOOKUPS else None


def token_reachable(*, request: HttpRequest, user: User, token: AccessToken) -> tuple[bool, str]:
    """May this token reach patient data from where the request comes from?
    Inside a clinical zone yes (the policy still decides what); elsewhere only
    for a role allowed to work remotely, within the remote MFA window counted
    from when the token was issued (issuance required a fresh sign-in)."""
    import datetime as dt

    from safeward.identity.selectors import user_may_work_remotely

    zone = getattr(request, "safeward_zone", None)
    if zone is not None and zone.clinical:
        return True, "clinical_zone"
    if not user_may_work_remotely(user=user):
        return False, "remote_access_not_permitted"
    window = dt.timedelta(minutes=settings.SAFEWARD_REMOTE_MFA_WINDOW_MINUTES)
    if clock.now() - token.created > window:
        return False, "mfa_too_old_for_remote_access"
    return True, "remote_with_recent_mfa"


def bearer_token(request: Any) -> AccessToken | None:
    """The DOT access token that authenticated this DRF request, if any."""
    from oauth2_provider.models import AccessToken

    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, AccessToken) else None


def token_decision(request: Any, operation: Operation) -> ScopeDecision | None:
    """The scope decision for this request's bearer token; None for a browser
    session (no scopes: the policy alone)."""
    token = bearer_token(request)
    if token is None:
        return None
    return scope_decide(scopes=token.scope, launch_patient=token_patient(token), operation=operation)


def session_for(
    request: Any, operation: Operation, *, needs: frozenset[Section] | None = None
) -> SessionContext:
    """The gateway session for an API request performing `operation`. A
    browser session is used as it is (narrowed to `needs`, what the endpoint
    discloses). A bearer token is first put to the scope decision: refused
    is `Forbidden` (403) or `NotFound` (404, as for a missing record);
    allowed becomes a session whose section limit is what its scopes
    disclose ∩ `needs`, and whose patient limit is its launch patient when
    only `patient/` scopes grant the operation."""
    decision = token_decision(request, operation)
    if decision is None:
        base = SessionContext.from_request(request)
        return base if needs is None else dataclasses.replace(base, section_limit=needs)
    if decision.outcome is ScopeOutcome.FORBIDDEN:
        raise Forbidden
    if decision.outcome is ScopeOutcome.NOT_FOUND:
        raise NotFound
    token = bearer_token(request)
    assert token is not None
    assert isinstance(request.user, User)
    reachable, reason = token_reachable(request=request, user=request.user, token=token)
    zone = getattr(request, "safeward_zone", None)
    return SessionContext(
        session_id=None,
        reachable=reachable,
        reachable_reason=reason,
        step_up_fresh=False,
        section_limit=decision.sections if needs is None else decision.sections & needs,
        patient_limit=decision.patient_limit,
        # The device the token was issued to, and the one this request comes from (ADR 1016).
        device_posture=device_posture_for_token(request, token.pk),
        zone_clinical=bool(zone is not None and zone.clinical),
    )
