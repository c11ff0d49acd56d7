"""OAuth clients, consents and refresh tokens on devices (ADRs 1018, 1019).

* **A client linked to a device** (`ClientDevice`): a ward kiosk or shared workstation
  app whose client credentials live on one device. A security officer links and unlinks
  it (`security:config:manage`); every bearer token of the client is then judged by that
  device's posture now, beside the token's own binding and the request's device
  (`identity.posture_for_token`, the worse of the three).
* **The consenting browser's device** (`GrantDevice`): when a user approves an app at
  `/o/authorize/`, the device the trusted proxy identified for that browser is kept
  with the authorization code; the token exchanged for the code is bound to it, not to
  whatever the token request presents (`identity.token_device_bind`).
* **Refresh tokens** (`RefreshTokenDevice`): a refresh token keeps the device its access
  token was bound to, so the new access token inherits it. A refresh is refused when
  that device, the client's linked device or the requesting device is lost or stolen,
  and when a bound refresh token is presented from another device; the refused token is
  then revoked with its access token and an incident opened (the app signs in again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from oauth2_provider.models import RefreshToken
from oauth2_provider.settings import oauth2_settings

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.devices.identity import (
    LOST,
    UNIDENTIFIED,
    device_facts,
    posture_of,
    request_fingerprint,
)
from safeward.devices.models import ClientDevice, Device, GrantDevice, RefreshTokenDevice
from safeward.devices.services import DeviceError
from safeward.fhir import selectors as client_selectors
from safeward.identity.models import User
from safeward.identity.permissions import Perm

# Linking decides how every token of a client is judged: security configuration.
LINK_PERMISSION = Perm.SECURITY_CONFIG_MANAGE


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _reason(text: str) -> str:
    reason = " ".join((text or "").split())[:500]
    if not reason:
        raise DeviceError("Say why (e.g. the ward and what the app is for).")
    return reason


def _require(actor: User | None) -> None:
    if actor is not None and not actor.has_perm(LINK_PERMISSION):
        raise DeviceError("Only a security officer links OAuth clients to devices.")


# --- linking a client to a device (ADR 1018) -----------------------------------------------------
def client_link(*, actor: User | None, device_id: int, client_id: str, reason: str) -> ClientDevice:
    """Link the OAuth client `client_id` to a device in service; one device per client."""
    _require(actor)
    reason = _reason(reason)
    registration = client_selectors.registration_by_client_id(client_id=client_id or "")
    if registration is None:
        raise DeviceError("No registered OAuth client has that client id.")
    if registration.revoked_at is not None:
        raise DeviceError("That OAuth client is revoked: nothing to link.")
    with transaction.atomic():
        device = Device.objects.select_for_update().filter(pk=device_id).first()
        if device is None:
            raise DeviceError(f"No device with id {device_id}.")
        if device.lifecycle != Device.Lifecycle.IN_SERVICE:
            raise DeviceError("Only a device in service can hold a client's credentials.")
        existing = ClientDevice.objects.filter(application_id=registration.application_id).first()
        if existing is not None:
            where = (
                "this device" if existing.device_id == device.pk else f"device {existing.device.asset_tag}"
            )
            raise DeviceError(f"The client is already linked to {where}; unlink it first.")
        link = ClientDevice.objects.create(
            application_id=registration.application_id,
            device=device,
            linked_at=clock.now(),
            linked_by=actor,
            reason=reason,
        )
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type="ClientDevice",
            resource_id=link.pk,
            purpose=PurposeOfUse.SECURITY,
            reason=reason,
            detail={"device": device.pk, "application": registration.application_id},
        )
    return link


def client_unlink(*, actor: User | None, client_id: str, reason: str) -> Device:
    """End a client's link; its tokens are judged by their own binding again. Returns the device."""
    _require(actor)
    reason = _reason(reason)
    with transaction.atomic():
        link = (
            ClientDevice.objects.select_for_update()
            .select_related("device")
            .filter(application__client_id=(client_id or "").strip()[:100])
            .first()
        )
        if link is None:
            raise DeviceError("That OAuth client is not linked to a device.")
        device, pk = link.device, link.pk
        link.delete()
        audit_record(
            action=Action.DELETE,
            actor=actor,
            resource_type="ClientDevice",
            resource_id=pk,
            purpose=PurposeOfUse.SECURITY,
            reason=reason,
            detail={"device": device.pk, "application": link.application_id},
        )
    return device


@dataclass(frozen=True)
class ClientLinkRow:
    link: ClientDevice
    registration: Any  # fhir's ClientRegistration, for its page's address; None if unregistered
    posture: str  # the device's posture now, as the client's tokens are judged


def client_links(*, device_id: int | None = None) -> list[ClientLinkRow]:
    links = ClientDevice.objects.select_related("application", "device", "device__posture", "linked_by")
    if device_id is not None:
        links = links.filter(device_id=device_id)
    rows = list(links)
    registrations = client_selectors.registrations_by_application(
        application_ids=[link.application_id for link in rows]
    )
    now = clock.now()
    return [
        ClientLinkRow(
            link,
            registrations.get(link.application_id),
            posture_of(link.device, getattr(link.device, "posture", None), now=now).posture,
        )
        for link in rows
    ]


def client_panel_context(application_id: int, reader: User) -> dict[str, Any]:
    """The OAuth client page's "Device" section (registered with fhir's client panels)."""
    link = (
        ClientDevice.objects.select_related("device", "device__posture", "linked_by")
        .filter(application_id=application_id)
        .first()
    )
    posture = (
        posture_of(link.device, getattr(link.device, "posture", None), now=clock.now()).posture
        if link is not None
        else ""
    )
    return {
        "link": link,
        "posture": posture,
        "can_open_device": reader.has_perm(Perm.DEVICES_DEVICE_READ),
    }


# --- the consenting browser's device (ADR 1019) -----------------------------------------------------
def consent_record(request: HttpRequest, code: str, application_id: int) -> None:
    """A consent listener (fhir's authorize view): keep the device the browser was identified
    as, keyed by the code. An unidentified browser records nothing."""
    facts = device_facts(request)
    user = request.user
    if facts.posture == UNIDENTIFIED or not isinstance(user, User):
        return
    now = clock.now()
    lifetime = dt.timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS)
    with transaction.atomic():
        GrantDevice.objects.filter(expires_at__lt=now).delete()  # codes never exchanged
        row = GrantDevice.objects.create(
            code_hash=code_hash(code),
            application_id=application_id,
            user=user,
            device_id=facts.device_id,
            fingerprint=request_fingerprint(request),
            recorded_at=now,
            expires_at=now + lifetime,
        )
        audit_record(
            action=Action.CREATE,
            actor=user,
            resource_type="GrantDevice",
            resource_id=row.pk,
            purpose=PurposeOfUse.SECURITY,
            detail={"device": facts.device_id, "posture": facts.posture, "application": application_id},
        )


PURGE_ACTOR = "safeward devices purge-consents"


def consents_purge(*, actor: User | None) -> int:
    """Delete the consenting browsers' devices whose authorization code expired without
    being exchanged (ADR 1020; the scheduler's `devices_consents` job, daily). Until now
    they went only at the next consent, so a quiet server kept them. One audit event
    with the count; nothing deleted, nothing recorded. Returns how many."""
    now = clock.now()
    with transaction.atomic():
        deleted, _ = GrantDevice.objects.filter(expires_at__lt=now).delete()
        if deleted:
            audit_record(
                action=Action.DELETE,
                actor=actor,
                actor_username="" if actor is not None else PURGE_ACTOR,
                resource_type="GrantDevice",
                resource_id="",
                purpose=PurposeOfUse.SECURITY,
                reason="authorization codes expired without exchange",
                detail={"deleted": deleted, "expired_before": now.isoformat()},
            )
    return deleted


# --- refresh (ADR 1019) -----------------------------------------------------------------------------
LOST_REFUSAL = (
    "The device this token was issued to (or its app is installed on) is reported lost or stolen. "
    "Sign in again from another device."
)
OTHER_DEVICE_REFUSAL = "This refresh token was issued to another device. Sign in again from this device."


REVOKED_REFUSAL = (
    "This refresh token was revoked: it was presented from another device or for a lost device. "
    "Sign in again."
)


def _refresh_token(raw: str) -> RefreshToken | None:
    """The live refresh token, else one this gate revoked (so its next use is audited too)."""
    tokens = RefreshToken.objects.filter(
        token_checksum=hashlib.sha256(raw.encode()).hexdigest()
    ).select_related("device_binding__device__posture", "application__device_link__device__posture")
    live = tokens.filter(revoked__isnull=True).first()
    if live is not None:
        return live
    return tokens.filter(device_binding__refused__gt="").first()


def refresh_refusal(request: HttpRequest, raw_refresh_token: str) -> str | None:
    """A refresh gate (fhir's token endpoint): None lets DOT exchange the refresh token.

    A refusal revokes the refresh token and its access token, audits it and opens a
    high-severity incident, in one transaction: a copied token is as likely to be the
    original as the copy, so neither holder keeps it (the app signs in again)."""
    if not raw_refresh_token:
        return None
    refresh = _refresh_token(raw_refresh_token)
    if refresh is None:
        return None  # unknown or already used: DOT answers (and its reuse protection acts)
    binding = getattr(refresh, "device_binding", None)
    link = getattr(refresh.application, "device_link", None)
    own = device_facts(request)
    detail = {
        "bound_device": binding.device_id if binding else None,
        "linked_device": link.device_id if link else None,
        "request_device": own.device_id,
        "application": refresh.application_id,
    }
    if refresh.revoked is not None:  # revoked by this gate earlier (`_refresh_token`)
        _refusal_audit(refresh, "refresh_token_revoked", detail)
        return REVOKED_REFUSAL
    now = clock.now()
    lost = own.posture == LOST or any(
        posture_of(d, getattr(d, "posture", None), now=now).posture == LOST
        for d in (binding.device if binding else None, link.device if link else None)
        if d is not None
    )
    if lost:
        refusal, reason = LOST_REFUSAL, "device_lost"
    elif (
        binding is not None
        and own.posture != UNIDENTIFIED
        and request_fingerprint(request) != binding.fingerprint
    ):
        refusal, reason = OTHER_DEVICE_REFUSAL, "refresh_from_another_device"
    else:
        return None
    _refuse_and_revoke(refresh, binding, reason, detail)
    return refusal


# --- backend services' client credentials (ADR 1020) -------------------------------------------------
LINKED_LOST_REFUSAL = (
    "The device this client is installed on (or the device asking) is reported lost or stolen: "
    "no token is issued."
)
LINKED_ELSEWHERE_REFUSAL = (
    "This client is linked to another device: its credentials were presented from a device "
    "it is not installed on."
)


def client_credentials_refusal(request: HttpRequest, application_id: int) -> str | None:
    """A client-credentials gate (fhir's token endpoint, after the client's assertion is
    verified): None lets the token be issued (and bound, `identity.token_device_bind`).

    Refused, audited: the requesting device or the client's linked device is lost or
    stolen; or a linked client's credentials come with another device's certificate (its
    key was copied off the device). From no certificate (the client's server) it passes."""
    own = device_facts(request)
    link = (
        ClientDevice.objects.filter(application_id=application_id)
        .select_related("device__posture", "application__user")
        .first()
    )
    if own.posture == UNIDENTIFIED and link is None:
        return None  # nothing to judge: the common backend service
    now = clock.now()
    linked = link.device if link is not None else None
    if own.posture == LOST or (
        linked is not None and posture_of(linked, getattr(linked, "posture", None), now=now).posture == LOST
    ):
        refusal, reason = LINKED_LOST_REFUSAL, "device_lost"
    elif linked is not None and own.posture != UNIDENTIFIED and own.device_id != linked.pk:
        refusal, reason = LINKED_ELSEWHERE_REFUSAL, "client_on_another_device"
    else:
        return None
    with transaction.atomic():
        audit_record(
            action=Action.ACCESS_DENIED,
            outcome=Outcome.DENIED,
            actor=link.application.user if link is not None else None,
            actor_username="" if link is not None else f"oauth-client:{application_id}",
            resource_type="OAuthToken",
            resource_id=str(application_id),
            purpose=PurposeOfUse.SECURITY,
            reason=reason,
            detail={
                "grant": "client_credentials",
                "application": application_id,
                "linked_device": linked.pk if linked is not None else None,
                "request_device": own.device_id,
            },
        )
    return refusal


def _refusal_audit(refresh: RefreshToken, reason: str, detail: dict[str, Any]) -> None:
    audit_record(
        action=Action.ACCESS_DENIED,
        outcome=Outcome.DENIED,
        actor=refresh.user,
        resource_type="RefreshToken",
        resource_id=refresh.pk,
        purpose=PurposeOfUse.SECURITY,
        reason=reason,
        detail=detail,
    )


def _refuse_and_revoke(
    refresh: RefreshToken, binding: RefreshTokenDevice | None, reason: str, detail: dict[str, Any]
) -> None:
    # The incident is the security officer's queue, as for a device reported lost (ADR 1013).
    from safeward.incidents.services import incident_open_for

    what = (
        "presented from another device"
        if reason == "refresh_from_another_device"
        else "used for a lost device"
    )
    with transaction.atomic():
        refresh.revoke()  # DOT's: the refresh token and its access token
        if binding is not None:
            RefreshTokenDevice.objects.filter(pk=binding.pk).update(refused=reason)
        incident = incident_open_for(
            actor=None,
            title=f"OAuth refresh token {refresh.pk} {what}",
            severity="high",
            summary=(
                f"A refresh token of OAuth client {refresh.application_id} was {what} and revoked "
                f"with its access token (bound device {detail['bound_device']}, linked device "
                f"{detail['linked_device']}, requesting device {detail['request_device']}). "
                "Assess whether the token was copied; its holder has to sign in again."
            ),
            source="devices.refresh_gate",
        )
        # One event: the refusal, naming the revocation and the incident.
        _refusal_audit(refresh, reason, {**detail, "revoked": True, "incident": incident.pk})
