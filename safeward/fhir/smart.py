"""SMART on FHIR v2 scopes, and what a bearer token may reach.

A scope such as `patient/Observation.rs`, `user/*.rs` or `system/Patient.c`
names a context (patient, user, system), a resource type and permissions
(c r u d s; SMART v1's `read` / `write` / `*` are understood too). Scopes map to
policy sections (`clinical.policy.Section`); the gateway intersects them with
the user's own decision (`SessionContext.section_limit`), so a token never
exceeds its user's rights. `patient/` scopes disclose only the patient of the
token's launch context (`fhir.TokenContext`).

Grants are narrowed at issuance too: `scopes_within_rights` drops every
resource scope the user's permissions could never satisfy, so the token
response tells an app what it really got.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from oauth2_provider.scopes import BaseScopes

from safeward import clock
from safeward.clinical.policy import SECTION_PERMISSIONS, WRITE_PERMISSIONS, Section
from safeward.clinical.types import SessionContext
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
    "AllergyIntolerance": frozenset({Section.ALLERGIES}),
    "Appointment": frozenset({Section.APPOINTMENTS}),
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
    # django-oauth-toolkit's defaults, used by the non-FHIR REST API (/api/v1/me/).
    "read": "Read your account",
    "write": "Change your account",
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


@dataclass(frozen=True)
class TokenAccess:
    """What a token's scopes may disclose; always further narrowed by policy."""

    user_read: frozenset[Section]  # user/ and system/ scopes, any patient the user may see
    patient_read: frozenset[Section]  # patient/ scopes, only `patient_id`
    patient_id: str | None
    may_create_patient: bool
    may_search: frozenset[str]  # resource types with an `s` permission

    def read_limit(self, patient_id: str | None) -> frozenset[Section]:
        limit = set(self.user_read)
        if patient_id is not None and self.patient_id is not None and str(patient_id) == self.patient_id:
            limit |= self.patient_read
        return frozenset(limit)

    @property
    def pinned(self) -> bool:
        """Only `patient/` scopes: the token reaches one patient and nobody else."""
        return not self.user_read


def token_access(scope_text: str, patient_id: str | None) -> TokenAccess:
    scopes = parse_scopes(scope_text)
    wide = [s for s in scopes if s.context in ("user", "system")]
    narrow = [s for s in scopes if s.context == "patient"] if patient_id else []
    searchable = {t for s in [*wide, *narrow] if "s" in s.permissions for t in s.resource_types}
    return TokenAccess(
        user_read=_sections_for(wide, "r") | _sections_for(wide, "s"),
        patient_read=_sections_for(narrow, "r") | _sections_for(narrow, "s"),
        patient_id=patient_id,
        may_create_patient=any("c" in s.permissions and "Patient" in s.resource_types for s in wide),
        may_search=frozenset(searchable),
    )


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


class SmartScopes(BaseScopes):  # type: ignore[misc]  # DOT ships no type hints
    """django-oauth-toolkit's scope backend: every well-formed SMART v2
    scope over the resource types SafeWard serves, plus launch and identity
    scopes. What a token then discloses is decided per request."""

    _all: dict[str, str] | None = None

    def get_all_scopes(self) -> dict[str, str]:
        if SmartScopes._all is None:
            table = dict(PLAIN_SCOPES)
            for context in CONTEXTS:
                for resource in ("*", *RESOURCE_TYPES):
                    for perms in ("rs", "r", "s", "cruds", "c", "cu", "read", "write", "*"):
                        table[f"{context}/{resource}.{perms}"] = f"{context} access to {resource} ({perms})"
            SmartScopes._all = table
        return SmartScopes._all

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        # A registered client asks for at most the scopes it was registered with (ADR 0606).
        from safeward.fhir.clients import client_allowed_scopes

        allowed = client_allowed_scopes(application_id=application.pk) if application is not None else None
        every = self.get_all_scopes()
        return list(every) if allowed is None else [s for s in allowed if s in every]

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return []


# --- a bearer token as a SessionContext -------------------------------------------------------
def token_patient(token: AccessToken) -> str | None:
    from safeward.fhir.models import TokenContext

    context = TokenContext.objects.filter(access_token=token).values_list("patient_id", flat=True).first()
    return str(context) if context else None


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


def session_for(
    request: Any, *, patient_id: str | uuid.UUID | None = None, needs: frozenset[Section] | None = None
) -> SessionContext:
    """The gateway session for an API request. A browser session is used as
    it is; a bearer token becomes a session whose section limit is its scopes
    (for this patient) ∩ `needs` (what the endpoint discloses)."""
    token = bearer_token(request)
    user = request.user
    if token is None:
        base = SessionContext.from_request(request)
        if needs is None:
            return base
        return SessionContext(
            session_id=base.session_id,
            reachable=base.reachable,
            reachable_reason=base.reachable_reason,
            step_up_fresh=base.step_up_fresh,
            section_limit=needs,
        )
    assert isinstance(user, User)
    access = token_access(token.scope, token_patient(token))
    limit = access.read_limit(str(patient_id) if patient_id is not None else None)
    if needs is not None:
        limit = limit & needs
    reachable, reason = token_reachable(request=request, user=user, token=token)
    return SessionContext(
        session_id=None,
        reachable=reachable,
        reachable_reason=reason,
        step_up_fresh=False,
        section_limit=limit,
    )


def access_for(request: Any) -> TokenAccess | None:
    """The token's scope access, or None for a browser session (no scopes: policy alone)."""
    token = bearer_token(request)
    if token is None:
        return None
    return token_access(token.scope, token_patient(token))
