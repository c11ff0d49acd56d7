"""One typed reader for the environment. Every setting SafeWard takes from the
environment passes through here, so a missing or malformed value fails loudly
with the variable's name and what it should look like, and never falls back to
something random."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Env:
    source: Mapping[str, str]

    def _raw(self, name: str) -> str | None:
        value = self.source.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def string(self, name: str, default: str | None = None) -> str:
        value = self._raw(name)
        if value is None:
            if default is None:
                raise ImproperlyConfigured(f"{name} must be set.")
            return default
        return value

    def optional_str(self, name: str) -> str | None:
        return self._raw(name)

    def boolean(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
        if number < minimum or (maximum is not None and number > maximum):
            bounds = f"at least {minimum}" + (f" and at most {maximum}" if maximum else "")
            raise ImproperlyConfigured(f"{name} must be {bounds}, not {number}.")
        return number

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        if value not in choices:
            raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
        return value

    def items(self, name: str, default: tuple[str, ...] = ()) -> list[str]:
        value = self._raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def networks(
        self, name: str, default: tuple[str, ...] = ()
    ) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        networks = []
        for item in self.items(name, default):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ImproperlyConfigured(
                    f"{name} must be a comma-separated list of CIDR ranges; {item!r} is not one."
                ) from None
        return networks

    def path(self, name: str, default: Path) -> Path:
        value = self._raw(name)
        return Path(value) if value is not None else default


def database_from_url(url: str) -> dict[str, Any]:
    """Django DATABASES entry from a URL: postgres://user:pass@host:port/name?sslmode=...
    or sqlite:///absolute/path."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if not path or path == "/":
            raise ImproperlyConfigured("A sqlite database URL needs a file path: sqlite:///path/db.sqlite3")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if parsed.scheme in {"postgres", "postgresql"}:
        name = unquote(parsed.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("A PostgreSQL database URL needs a database name after the host.")
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(
        f"Unsupported database URL scheme {parsed.scheme!r}: use postgres:// or sqlite:///."
    )


env = Env(os.environ)
