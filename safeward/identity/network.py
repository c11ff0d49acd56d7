"""Client addresses and network zones.

The client address is the direct peer unless that peer is a configured trusted
proxy; only then is X-Forwarded-For read, right to left, skipping trusted
proxies. A forged header from anyone else is ignored."""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Zones change rarely; every process keeps them for a few seconds and the zone
# services clear this copy when they change them.
_ZONE_CACHE_SECONDS = 10.0


def _parse(address: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def _is_trusted_proxy(address: IPAddress) -> bool:
    return any(address in network for network in settings.SAFEWARD_TRUSTED_PROXIES)


def client_address(request: HttpRequest) -> IPAddress | None:
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    if peer is None or not _is_trusted_proxy(peer):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop for hop in (_parse(part) for part in forwarded.split(",")) if hop is not None]
    for hop in reversed(hops):
        if not _is_trusted_proxy(hop):
            return hop
    return peer


@dataclass(frozen=True)
class Zone:
    name: str
    clinical: bool
    networks: tuple[IPNetwork, ...]


OUTSIDE = Zone(name="outside", clinical=False, networks=())


class _ZoneTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zones: tuple[Zone, ...] = ()
        self._loaded_at = float("-inf")

    def zones(self) -> tuple[Zone, ...]:
        with self._lock:
            if time.monotonic() - self._loaded_at > _ZONE_CACHE_SECONDS:
                from safeward.identity.models import NetworkZone

                self._zones = tuple(
                    Zone(zone.name, zone.clinical, tuple(zone.networks()))
                    for zone in NetworkZone.objects.all()
                )
                self._loaded_at = time.monotonic()
            return self._zones

    def clear(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")


zone_table = _ZoneTable()


def zone_for(address: IPAddress | None) -> Zone:
    """The most specific configured zone that holds the address, else OUTSIDE."""
    if address is None:
        return OUTSIDE
    best: tuple[int, Zone] | None = None
    for zone in zone_table.zones():
        for network in zone.networks:
            fits = address.version == network.version and address in network
            if fits and (best is None or network.prefixlen > best[0]):
                best = (network.prefixlen, zone)
    return best[1] if best else OUTSIDE
