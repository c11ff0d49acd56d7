"""Which device a request comes from (ADR 1011).

The TLS-terminating reverse proxy checks the device's client certificate and
forwards its SHA-256 fingerprint in a header (`SAFEWARD_DEVICE_CERT_HEADER`,
default `X-Client-Cert-SHA256`). The header is believed only when the direct peer
is one of `SAFEWARD_DEVICE_PROXIES` (addresses / CIDRs): the same trust model as
network zones and X-Forwarded-For (`identity.network`). From anyone else the header
is ignored, and the attempt is audited (`access_denied`, resource `DeviceIdentity`).

`DeviceIdentityMiddleware` (after the session guard) records which device each
session uses (`DeviceSession`) and ends, at once, a session whose device was
reported lost or stolen. `posture_for_request` is the provider registered with
`identity.access` that gives the clinical policy its `device` input;
`posture_for_token` does the same for a bearer request, through the device the token
was bound to at issue (`token_device_bind`, ADR 1016; the consenting browser's device or
the refresh token's binding, ADR 1019) and the device its client is linked to (ADR 1018).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.dateparse import parse_datetime
from oauth2_provider.models import AccessToken, RefreshToken

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.devices.models import (
    ClientDevice,
    Device,
    DevicePosture,
    DeviceSession,
    GrantDevice,
    RefreshTokenDevice,
    TokenDevice,
)
from safeward.devices.posture import check_in_days, fingerprint_normalise
from safeward.identity.models import User

UNIDENTIFIED = "unidentified"
COMPLIANT = "compliant"
UNMANAGED = "unmanaged"
NON_COMPLIANT = "non_compliant"
LOST = "lost"

_CACHE_ATTR = "_safeward_device"
_BEARER_MEMO_ATTR = "_safeward_bearer_device"
_SEEN_WRITE_INTERVAL = dt.timedelta(seconds=60)
_SEEN_KEY = "safeward_device_seen"
LOST_STATES = frozenset({Device.Lifecycle.LOST, Device.Lifecycle.STOLEN})


@dataclass(frozen=True)
class DeviceFacts:
    posture: str
    device_id: int | None = None
    reason: str = ""
    spoofed: bool = False


NOTHING = DeviceFacts(UNIDENTIFIED)


def _meta_key() -> str:
    header = getattr(settings, "SAFEWARD_DEVICE_CERT_HEADER", "X-Client-Cert-SHA256")
    return "HTTP_" + header.upper().replace("-", "_")


def _peer_is_device_proxy(request: HttpRequest) -> bool:
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "").strip())
    except ValueError:
        return False
    return any(peer in network for network in getattr(settings, "SAFEWARD_DEVICE_PROXIES", ()))


def posture_of(device: Device | None, posture: DevicePosture | None, *, now: dt.datetime) -> DeviceFacts:
    """The policy's view of a device and its current posture."""
    if device is None:
        return DeviceFacts(UNMANAGED, None, "unknown_certificate")
    if posture is None:
        return _facts(device.pk, device.lifecycle, None, now=now)
    values = (posture.compliant, posture.compliance_reasons, posture.last_check_in)
    return _facts(device.pk, device.lifecycle, values, now=now)


def _facts(
    device_id: int,
    lifecycle: str,
    posture: tuple[bool, list[str] | None, dt.datetime | None] | None,
    *,
    now: dt.datetime,
) -> DeviceFacts:
    """`posture_of` from plain values (compliant, reasons, last check-in): the bearer
    lookup reads them as one row, without building models."""
    if lifecycle in LOST_STATES:
        return DeviceFacts(LOST, device_id, lifecycle)
    if lifecycle != Device.Lifecycle.IN_SERVICE:
        return DeviceFacts(UNMANAGED, device_id, f"lifecycle_{lifecycle}")
    if posture is None:
        return DeviceFacts(UNMANAGED, device_id, "no_posture_report")
    compliant, reasons, last_check_in = posture
    if not compliant:
        return DeviceFacts(NON_COMPLIANT, device_id, str((reasons or ["mdm_non_compliant"])[0]))
    if last_check_in is None or now - last_check_in > dt.timedelta(days=check_in_days()):
        return DeviceFacts(NON_COMPLIANT, device_id, "check_in_stale")
    return DeviceFacts(COMPLIANT, device_id)


def device_facts(request: HttpRequest) -> DeviceFacts:
    """The device `request` comes from; computed once per request."""
    cached = getattr(request, _CACHE_ATTR, None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    facts = _compute(request)
    setattr(request, _CACHE_ATTR, facts)
    return facts


def _compute(request: HttpRequest) -> DeviceFacts:
    raw = request.META.get(_meta_key(), "")
    if not raw:
        return NOTHING
    if not _peer_is_device_proxy(request):
        return DeviceFacts(UNIDENTIFIED, None, "untrusted_peer", spoofed=True)
    fingerprint = fingerprint_normalise(raw)
    if not fingerprint:
        return DeviceFacts(UNMANAGED, None, "malformed_fingerprint")
    with connection.cursor() as cursor:
        cursor.execute(_fingerprint_statement(), [fingerprint])
        row = cursor.fetchone()
    if row is None:
        return DeviceFacts(UNMANAGED, None, "unknown_certificate")
    device_id, lifecycle, posture_id, compliant, reasons, last_check_in = row
    posture = None if posture_id is None else (bool(compliant), _reasons(reasons), _moment(last_check_in))
    return _facts(device_id, lifecycle, posture, now=clock.now())


@functools.cache
def _fingerprint_statement() -> str:
    """The device with this certificate fingerprint and its posture, as one row of plain
    values: on every request from a device, and building the ORM query cost more than
    running it (ADR 1021 measured the same for bearer tokens). The fingerprint is unique."""
    device, posture = Device._meta.db_table, DevicePosture._meta.db_table
    return (
        "SELECT d.id, d.lifecycle, p.id, p.compliant, p.compliance_reasons, p.last_check_in"  # noqa: S608 - names from model metadata; the fingerprint is a parameter
        f" FROM {device} d LEFT JOIN {posture} p ON p.device_id = d.id"
        " WHERE d.certificate_fingerprint = %s"
    )


def _reasons(value: object) -> list[str] | None:
    """The JSON column as raw SQL returns it (text on both engines: Django loads jsonb as text)."""
    if value is None or isinstance(value, list):
        return value
    decoded = json.loads(str(value))
    return decoded if isinstance(decoded, list) else None


def posture_for_request(request: HttpRequest) -> str:
    """The provider registered with `identity.access.device_posture_provider_register`."""
    return device_facts(request).posture


def _audit_spoof(request: HttpRequest) -> None:
    user = request.user if isinstance(request.user, User) else None
    with transaction.atomic():
        audit_record(
            action=Action.ACCESS_DENIED,
            outcome=Outcome.DENIED,
            actor=user,
            resource_type="DeviceIdentity",
            purpose=PurposeOfUse.SECURITY,
            reason="device certificate header from a peer that is not a trusted proxy",
            detail={"reason": "untrusted_peer", "peer": request.META.get("REMOTE_ADDR", "")[:64]},
        )


def _record_session(facts: DeviceFacts, request: HttpRequest) -> None:
    user_session = getattr(request, "safeward_session", None)
    if user_session is None or facts.device_id is None:
        return
    now = clock.now()
    # The session remembers when it last touched its device row: no query on most requests.
    session = getattr(request, "session", None)
    memo = session.get(_SEEN_KEY) if session is not None else None
    if (
        memo
        and memo[0] == facts.device_id
        and now.timestamp() - memo[1] < _SEEN_WRITE_INTERVAL.total_seconds()
    ):
        return
    if session is not None:
        session[_SEEN_KEY] = [facts.device_id, now.timestamp()]
    updated = DeviceSession.objects.filter(
        device_id=facts.device_id, session_id=user_session.pk, last_seen_at__lt=now - _SEEN_WRITE_INTERVAL
    ).update(last_seen_at=now)
    if updated:
        return
    if DeviceSession.objects.filter(device_id=facts.device_id, session_id=user_session.pk).exists():
        return
    try:
        with transaction.atomic():
            DeviceSession.objects.create(
                device_id=facts.device_id,
                session_id=user_session.pk,
                user_id=user_session.user_id,
                first_seen_at=now,
                last_seen_at=now,
            )
            audit_record(
                action=Action.UPDATE,
                actor=user_session.user,
                resource_type="DeviceSession",
                resource_id=str(user_session.pk),
                purpose=PurposeOfUse.SECURITY,
                detail={"device": facts.device_id, "posture": facts.posture},
            )
    except IntegrityError:  # the same session's parallel request recorded it first
        return


Handler = Callable[[HttpRequest], HttpResponse]


class DeviceIdentityMiddleware:
    """After the session guard: identify the device, audit a spoofed header,
    record the session's device, end a session on a lost or stolen device."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        facts = device_facts(request)
        if facts.spoofed:
            _audit_spoof(request)
        elif facts.device_id is not None:
            _record_session(facts, request)
            user_session = getattr(request, "safeward_session", None)
            if facts.posture == LOST and user_session is not None:
                from safeward.identity import services as identity_services
                from safeward.identity.middleware import session_ended_response

                identity_services.session_expire(user_session=user_session, reason="device_lost")
                logout(request)
                return session_ended_response(request, "device_lost")
        return self.get_response(request)


# --- bearer tokens (ADR 1016) -----------------------------------------------------------------------
# Worst first: a bearer request is judged by the worse of the device its token was issued
# to and the device the request itself comes from.
_SEVERITY = {UNIDENTIFIED: 0, COMPLIANT: 1, UNMANAGED: 2, NON_COMPLIANT: 3, LOST: 4}


def request_fingerprint(request: HttpRequest) -> str:
    """The certificate fingerprint the request carries, normalised ("" when none)."""
    return fingerprint_normalise(request.META.get(_meta_key(), ""))


def _binding_source(request: HttpRequest, token: AccessToken) -> tuple[str, int | None, str] | None:
    """Where a new token's device comes from (ADRs 1019, 1020), as (source, device id,
    fingerprint): the consenting browser's device for a code, the refresh token's own
    binding for a refresh, otherwise the token request's device, and for a backend
    service's client credentials without one, its client's linked device. None: nothing
    identified."""
    form = request.POST
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code" and form.get("code"):
        consent = GrantDevice.objects.filter(
            code_hash=hashlib.sha256(form["code"].encode()).hexdigest(),
            application_id=token.application_id,
            user_id=token.user_id,
        ).first()
        if consent is not None:
            consent.delete()  # one code, one exchange
            return "consent", consent.device_id, consent.fingerprint
    if grant_type == "refresh_token" and token.source_refresh_token_id is not None:
        inherited = RefreshTokenDevice.objects.filter(refresh_token_id=token.source_refresh_token_id).first()
        if inherited is not None:
            # A gate refused a refresh from another device before DOT issued this token.
            return "refresh", inherited.device_id, inherited.fingerprint
    facts = device_facts(request)
    if facts.posture == UNIDENTIFIED:
        if grant_type == "client_credentials":
            # A backend service asks from its server, with no certificate: the device its
            # client is linked to (ADR 1020), so unlinking later does not free the token.
            link = ClientDevice.objects.filter(application_id=token.application_id).first()
            if link is not None:
                return "link", link.device_id, ""
        return None
    return "request", facts.device_id, request_fingerprint(request)


def token_device_bind(*, request: HttpRequest, token: AccessToken) -> TokenDevice | None:
    """At token issue (DOT's `app_authorized`, the token endpoint's request): remember the
    device the token is for (`_binding_source`), on the access token and on its refresh
    token, so that a refresh never loses it. Nothing identified binds nothing."""
    source = _binding_source(request, token)
    if source is None:
        return None
    how, device_id, fingerprint = source
    device = (
        Device.objects.select_related("posture").filter(pk=device_id).first()
        if device_id is not None
        else None
    )
    now = clock.now()
    with transaction.atomic():
        binding = TokenDevice.objects.create(
            access_token=token, device=device, fingerprint=fingerprint, bound_at=now
        )
        refresh = RefreshToken.objects.filter(access_token=token).first()
        if refresh is not None:
            RefreshTokenDevice.objects.create(
                refresh_token=refresh, device=device, fingerprint=fingerprint, bound_at=now
            )
        facts = posture_of(device, getattr(device, "posture", None) if device else None, now=now)
        audit_record(
            action=Action.CREATE,
            actor=token.user,
            resource_type="TokenDevice",
            resource_id=binding.pk,
            purpose=PurposeOfUse.SECURITY,
            detail={
                "device": device.pk if device else None,
                "posture": facts.posture,
                "source": how,
                "application": token.application_id,
                "with_refresh": refresh is not None,
            },
        )
    return binding


def posture_for_token(request: HttpRequest, token_id: int) -> str:
    """The provider registered with `identity.access.token_posture_provider_register`:
    one read per bearer request (the binding, its device and the device's posture), no write.
    A FHIR search asks once per patient: the answer is kept on the request."""
    cached = getattr(request, _BEARER_MEMO_ATTR, None)
    if cached is not None and cached[0] == token_id:
        return str(cached[1])
    posture = _token_posture(request, token_id)
    setattr(request, _BEARER_MEMO_ATTR, (token_id, posture))
    return posture


def _token_posture(request: HttpRequest, token_id: int) -> str:
    own = device_facts(request).posture
    with connection.cursor() as cursor:
        cursor.execute(_token_statement(), [token_id])
        row = cursor.fetchone()
    if row is None:
        return own
    now = clock.now()
    judged = [own]
    binding_id, bound, linked = row[0], row[1:6], row[6:11]
    if binding_id is not None:
        judged.append(_judged(bound, now=now))  # a binding without device: unmanaged
    if linked[0] is not None:
        judged.append(_judged(linked, now=now))
    return max(judged, key=_SEVERITY.__getitem__)


@functools.cache
def _token_statement() -> str:
    """The token's binding and its client's linked device (ADR 1018), each with its
    posture, as one row of plain values. Written once as SQL: building and compiling the
    ORM query cost more than running it, on every bearer request (ADR 1021). Each join is
    on a unique key (the binding and the link are one-to-one with token and client), so
    there is at most one row. The posture's reasons are not read: only the verdict counts."""
    token = AccessToken._meta.db_table
    binding, link = TokenDevice._meta.db_table, ClientDevice._meta.db_table
    device, posture = Device._meta.db_table, DevicePosture._meta.db_table
    return (
        "SELECT b.id,"  # noqa: S608 - names from model metadata; the token id is a parameter
        " b.device_id, bd.lifecycle, bp.id, bp.compliant, bp.last_check_in,"
        " l.device_id, ld.lifecycle, lp.id, lp.compliant, lp.last_check_in"
        f" FROM {token} t"
        f" LEFT JOIN {binding} b ON b.access_token_id = t.id"
        f" LEFT JOIN {device} bd ON bd.id = b.device_id"
        f" LEFT JOIN {posture} bp ON bp.device_id = bd.id"
        f" LEFT JOIN {link} l ON l.application_id = t.application_id"
        f" LEFT JOIN {device} ld ON ld.id = l.device_id"
        f" LEFT JOIN {posture} lp ON lp.device_id = ld.id"
        " WHERE t.id = %s"
    )


def _judged(columns: tuple[Any, ...], *, now: dt.datetime) -> str:
    device_id, lifecycle, posture_id, compliant, last_check_in = columns
    if device_id is None:
        return UNMANAGED
    posture = None if posture_id is None else (bool(compliant), None, _moment(last_check_in))
    return _facts(device_id, lifecycle, posture, now=now).posture


def _moment(value: object) -> dt.datetime | None:
    """A timestamp column as the driver returns it to raw SQL (SQLite: text, in UTC)."""
    if value is None or isinstance(value, dt.datetime):
        moment = value
    else:
        moment = parse_datetime(str(value))
        if moment is None:
            raise ValueError("unreadable check-in time")
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
