"""Reusable decisions about the current session: MFA recency (step-up) and
"may this session reach patient data from here?". The clinical gateway calls
`patient_data_reachable`; views call `step_up_satisfied` through the
`step_up_required` decorator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from safeward import clock
from safeward.identity.models import User, UserSession
from safeward.identity.selectors import user_may_work_remotely


@dataclass(frozen=True)
class ZoneDecision:
    allowed: bool
    reason: str


def mfa_is_fresh(*, user_session: UserSession | None, within: dt.timedelta) -> bool:
    if user_session is None or user_session.mfa_at is None:
        return False
    return clock.now() - user_session.mfa_at <= within


def step_up_satisfied(*, user_session: UserSession | None) -> bool:
    return mfa_is_fresh(
        user_session=user_session, within=dt.timedelta(minutes=settings.SAFEWARD_STEP_UP_MINUTES)
    )


def patient_data_reachable(
    *, user: User, user_session: UserSession | None, zone_clinical: bool
) -> ZoneDecision:
    """Inside a clinical zone every signed-in session may reach patient data
    (the policy still decides what). From anywhere else only roles allowed to
    work remotely may, and only with a second factor passed recently."""
    if user_session is None or user_session.ended_at is not None:
        return ZoneDecision(False, "no_session")
    if zone_clinical:
        return ZoneDecision(True, "clinical_zone")
    if not user_may_work_remotely(user=user):
        return ZoneDecision(False, "remote_access_not_permitted")
    window = dt.timedelta(minutes=settings.SAFEWARD_REMOTE_MFA_WINDOW_MINUTES)
    if not mfa_is_fresh(user_session=user_session, within=window):
        return ZoneDecision(False, "mfa_too_old_for_remote_access")
    return ZoneDecision(True, "remote_with_recent_mfa")


# --- the device a session comes from (issue 14, ADR 1012) ----------------------------------------
# The devices app registers, in its ready(), the one function that tells the posture of
# the device a request comes from (identified by the client certificate a trusted proxy
# forwards). Identity and clinical never import devices: without a provider every
# request is "unidentified", which the policy does not limit.
DevicePostureProvider = Callable[[HttpRequest], str]
UNIDENTIFIED = "unidentified"
_device_posture_provider: list[DevicePostureProvider] = []


def device_posture_provider_register(provider: DevicePostureProvider) -> None:
    """Install the provider (a second registration replaces the first: one source of truth)."""
    _device_posture_provider[:] = [provider]


def device_posture_for(request: HttpRequest) -> str:
    """The posture of the device `request` comes from: one of the values of
    `clinical.policy.DevicePosture`, "unidentified" when nothing identifies it."""
    if not _device_posture_provider:
        return UNIDENTIFIED
    return _device_posture_provider[0](request)


# A bearer request (ADR 1016): the devices app also registers the function that tells the
# posture for an OAuth access token — the device the token was issued to, and the one
# the request itself comes from. Without it a bearer request is judged as any request.
TokenPostureProvider = Callable[[HttpRequest, int], str]
_token_posture_provider: list[TokenPostureProvider] = []


def token_posture_provider_register(provider: TokenPostureProvider) -> None:
    """Install the provider (a second registration replaces the first)."""
    _token_posture_provider[:] = [provider]


def device_posture_for_token(request: HttpRequest, token_id: int) -> str:
    """The posture a bearer request with access token `token_id` is judged by."""
    if not _token_posture_provider:
        return device_posture_for(request)
    return _token_posture_provider[0](request, token_id)
