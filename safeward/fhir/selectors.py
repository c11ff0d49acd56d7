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


def registrations_by_application(*, application_ids: Iterable[int]) -> dict[int, ClientRegistration]:
    """The registration of each DOT application (the devices app links kiosk clients, ADR 1018)."""
    rows = ClientRegistration.objects.select_related("application").filter(
        application_id__in=list(application_ids)
    )
    return {row.application_id: row for row in rows}


def registration_by_client_id(*, client_id: str) -> ClientRegistration | None:
    return (
        ClientRegistration.objects.select_related("application")
        .filter(application__client_id=client_id.strip()[:100])
        .first()
    )
