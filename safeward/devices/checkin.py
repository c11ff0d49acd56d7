"""Where the "device checked in within 24 h" live test learns when a device
last checked in. The devices app holds no posture of its own: the posture
work (MDM and agent imports) registers a provider in its AppConfig.ready():

    from safeward.devices.checkin import register_checkin_provider
    register_checkin_provider(posture_selectors.last_checkins)

A provider takes device ids and returns {device id: last check-in} for the
devices it knows. With no provider registered, or a device no provider knows,
the test fails with the reason "unknown" (a control nobody can verify is not
a control)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

CheckinProvider = Callable[[Sequence[int]], Mapping[int, dt.datetime]]

_PROVIDERS: list[CheckinProvider] = []


def register_checkin_provider(provider: CheckinProvider) -> None:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def unregister_checkin_provider(provider: CheckinProvider) -> None:
    if provider in _PROVIDERS:
        _PROVIDERS.remove(provider)


def has_provider() -> bool:
    return bool(_PROVIDERS)


def last_checkins(device_ids: Sequence[int]) -> dict[int, dt.datetime]:
    """The latest check-in any provider reports, per device it knows."""
    found: dict[int, dt.datetime] = {}
    for provider in _PROVIDERS:
        for device_id, when in provider(device_ids).items():
            if device_id not in found or when > found[device_id]:
                found[device_id] = when
    return found
