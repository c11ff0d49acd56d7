"""Reads of OAuth client registrations other apps need (added for vendors'
control tests, ADR 1210); the registration services are in `clients.py`."""

from __future__ import annotations

from collections.abc import Iterable

from safeward.fhir.models import ClientRegistration


def registrations_credential_checked(*, registration_ids: Iterable[int]) -> dict[int, bool]:
    """Whether each registration is flagged for a registered credential check."""
    return dict(
        ClientRegistration.objects.filter(pk__in=list(registration_ids)).values_list(
            "pk", "credential_checked"
        )
    )
