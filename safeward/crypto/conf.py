"""Settings of the crypto app. Each is read from Django settings first (so
tests can override it) and then from the environment through
`safeward.config.env`, the project's one typed environment reader."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from safeward.config import env

PROVIDERS = ("file", "env", "vault")


def _setting(name: str) -> str | None:
    value = getattr(settings, name, None)
    if value is not None and str(value).strip():
        return str(value).strip()
    return env.optional_str(name)


def key_provider_name() -> str:
    return str(getattr(settings, "SAFEWARD_KEY_PROVIDER", "") or "")


def key_dir() -> Path:
    return Path(settings.SAFEWARD_KEY_DIR)


def kek_env_var() -> str:
    """Name of the variable the `env` provider reads the KEK from."""
    return _setting("SAFEWARD_KEK_ENV_VAR") or "SAFEWARD_KEK"


def keyring_refresh_seconds() -> float:
    """How long a process trusts its cached view of which key is primary.
    A key can retire only after it stopped being primary twice this long ago."""
    raw = _setting("SAFEWARD_KEYRING_REFRESH_SECONDS")
    return float(raw) if raw is not None else 30.0


def vault_addr() -> str | None:
    return _setting("SAFEWARD_VAULT_ADDR")


def vault_token() -> str | None:
    token = _setting("SAFEWARD_VAULT_TOKEN")
    token_file = _setting("SAFEWARD_VAULT_TOKEN_FILE")
    if token is None and token_file is not None:
        token = Path(token_file).read_text(encoding="utf-8").strip()
    return token


def vault_mount() -> str:
    return _setting("SAFEWARD_VAULT_TRANSIT_MOUNT") or "transit"


def vault_key_name() -> str:
    return _setting("SAFEWARD_VAULT_TRANSIT_KEY") or "safeward-kek"


def vault_cacert() -> str | None:
    return _setting("SAFEWARD_VAULT_CACERT")
