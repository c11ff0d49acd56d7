"""The SMART on FHIR pieces that belong to django-oauth-toolkit and to the
launch context: the scope backend (`SmartScopes`, `OAUTH2_PROVIDER
["SCOPES_BACKEND_CLASS"]`) and a token's launch patient (`TokenContext`).

The scope grammar and the one scope decision of every interface live below
the interfaces, in `safeward.clinical.scopes` (ADR 0606, ADR 0562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oauth2_provider.scopes import BaseScopes

from safeward.clinical.scopes import CONTEXTS, PLAIN_SCOPES, RESOURCE_TYPES

if TYPE_CHECKING:
    from oauth2_provider.models import AccessToken


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


def launch_patient(token: AccessToken) -> str | None:
    """The patient of the token's launch context (registered with
    `clinical.scopes.register_launch_patient_lookup` in `ready()`)."""
    from safeward.fhir.models import TokenContext

    context = TokenContext.objects.filter(access_token=token).values_list("patient_id", flat=True).first()
    return str(context) if context else None
