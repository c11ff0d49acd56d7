"""Extension points of the OAuth endpoints and the client page (ADR 0562's way: fhir
depends on none of the apps that register here, in their `ready()`).

* `ClientPanel` — a section of the OAuth client page: a template fed by the
  registering app's selector (the devices app shows the device a client is linked to).
* consent listeners — told when a signed-in user approved an app in the browser and an
  authorization code was issued (the devices app records the browser's device, ADR 1019).
* refresh gates — asked before a refresh token is exchanged; an answer refuses the
  refresh with `invalid_grant` and that description (ADR 1019). None registered: allowed.
* client-credentials gates — asked before a backend service (client credentials) is
  issued a token, once its assertion is verified; an answer refuses the token with
  `invalid_grant` (ADR 1020: a client linked to a device, asked from a lost or another
  device). None registered: allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from safeward.identity.models import User


@dataclass(frozen=True)
class ClientPanel:
    template: str
    # The panel's context for this client (the DOT application id) and reader.
    context: Callable[[int, User], dict[str, Any]]


@dataclass(frozen=True)
class RenderedClientPanel:
    template: str
    context: dict[str, Any]


ConsentListener = Callable[[HttpRequest, str, int], None]  # request, code, application id
RefreshGate = Callable[[HttpRequest, str], str | None]  # request, raw refresh token -> refusal
ClientCredentialsGate = Callable[[HttpRequest, int], str | None]  # request, application id -> refusal

_PANELS: list[ClientPanel] = []
_CONSENT: list[ConsentListener] = []
_REFRESH: list[RefreshGate] = []
_CLIENT_CREDENTIALS: list[ClientCredentialsGate] = []


def register_client_panel(panel: ClientPanel) -> None:
    if panel not in _PANELS:
        _PANELS.append(panel)


def client_panels(*, application_id: int, reader: User) -> list[RenderedClientPanel]:
    return [RenderedClientPanel(p.template, p.context(application_id, reader)) for p in _PANELS]


def register_consent_listener(listener: ConsentListener) -> None:
    if listener not in _CONSENT:
        _CONSENT.append(listener)


def consent_given(request: HttpRequest, *, code: str, application_id: int) -> None:
    for listener in _CONSENT:
        listener(request, code, application_id)


def register_refresh_gate(gate: RefreshGate) -> None:
    if gate not in _REFRESH:
        _REFRESH.append(gate)


def refresh_refusal(request: HttpRequest, raw_refresh_token: str) -> str | None:
    for gate in _REFRESH:
        refusal = gate(request, raw_refresh_token)
        if refusal is not None:
            return refusal
    return None


def register_client_credentials_gate(gate: ClientCredentialsGate) -> None:
    if gate not in _CLIENT_CREDENTIALS:
        _CLIENT_CREDENTIALS.append(gate)


def client_credentials_refusal(request: HttpRequest, application_id: int) -> str | None:
    for gate in _CLIENT_CREDENTIALS:
        refusal = gate(request, application_id)
        if refusal is not None:
            return refusal
    return None
