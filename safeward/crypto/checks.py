"""`safeward check` additions for keys (tag "safeward", deploy only)."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core import checks

from safeward.crypto import conf
from safeward.crypto.errors import CryptoError, KeyProviderError
from safeward.crypto.providers import KEK_FILE_NAME


def _database_dirs() -> list[Path]:
    dirs = []
    for database in settings.DATABASES.values():
        if database["ENGINE"] == "django.db.backends.sqlite3" and str(database.get("NAME", "")) not in {
            "",
            ":memory:",
        }:
            dirs.append(Path(str(database["NAME"])).resolve().parent)
    return dirs


def check_key_provider(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    name = conf.key_provider_name()
    if name not in conf.PROVIDERS:
        return [
            checks.Error(
                f"No usable key provider: SAFEWARD_KEY_PROVIDER is {name!r}.",
                hint="Set SAFEWARD_KEY_PROVIDER to file, env or vault (see docs/crypto.md).",
                id="safeward.E100",
            )
        ]
    if name == "file":
        directory = conf.key_dir()
        path = directory / KEK_FILE_NAME
        for target in (directory, path):
            if target.exists() and stat.S_IMODE(target.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO):
                errors.append(
                    checks.Error(
                        f"{target} is open to group or others "
                        f"(mode {stat.S_IMODE(target.stat().st_mode):04o}).",
                        hint=f"chmod {'700' if target == directory else '600'} {target}",
                        id="safeward.E101",
                    )
                )
        resolved = directory.resolve()
        for db_dir in _database_dirs():
            if resolved == db_dir or db_dir in resolved.parents:
                errors.append(
                    checks.Error(
                        f"The KEK folder {directory} is inside the database folder {db_dir}: a backup of the "
                        "database would carry the key that decrypts it.",
                        hint="Point SAFEWARD_KEY_DIR outside the database folder and its backups.",
                        id="safeward.E102",
                    )
                )
    if name == "vault":
        address = conf.vault_addr() or ""
        parsed = urlparse(address)
        if parsed.scheme == "http" and parsed.hostname not in {"127.0.0.1", "localhost", "::1"}:
            errors.append(
                checks.Error(
                    f"Vault is reached over plain HTTP at {parsed.hostname}.",
                    hint="Use an https:// SAFEWARD_VAULT_ADDR (and SAFEWARD_VAULT_CACERT).",
                    id="safeward.E104",
                )
            )
    try:
        from safeward.crypto.providers import provider_from_settings

        provider_from_settings()
    except KeyProviderError as error:
        errors.append(checks.Error(str(error), hint="See docs/crypto.md, Keys.", id="safeward.E100"))
    return errors


def check_keyring(
    app_configs: Sequence[Any] | None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if not databases:
        return []
    from safeward.crypto.keyring import Keyring
    from safeward.crypto.selectors import keyring_status

    try:
        Keyring().refresh()  # a fresh keyring: unwraps every key with the configured provider
    except (CryptoError, KeyProviderError) as error:
        return [
            checks.Error(str(error), hint="Configure the KEK that wrapped this keyring.", id="safeward.E103")
        ]
    except Exception as error:  # e.g. the keyring table is missing
        return [
            checks.Error(
                f"The keyring cannot be read ({type(error).__name__}).",
                hint="Run `safeward migrate`.",
                id="safeward.E103",
            )
        ]
    pending = keyring_status().pending
    if pending:
        return [
            checks.Warning(
                f"{pending} values are still under a non-primary data or blind-index key.",
                hint="Run `safeward keys reencrypt`, then `safeward keys retire` for old versions.",
                id="safeward.W105",
            )
        ]
    return []


def check_file_stores_declare_phi(
    app_configs: Sequence[Any] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Encrypted file stores say what they hold, as encrypted fields do (crypto.E104)."""
    from safeward.crypto.registry import registered_stores
    from safeward.crypto.stores import FileStreamStore

    return [
        checks.Error(
            f"The encrypted file store {store.label!r} declares no PHI categories: the asset register "
            "could not count what it holds.",
            hint="Give its FileStreamStore phi_categories=(PhiCategory.<kind>, ...) (safeward.crypto.phi).",
            id="crypto.E105",
        )
        for store in registered_stores()
        if isinstance(store, FileStreamStore) and store.phi_categories is None
    ]


def register() -> None:
    checks.register(check_file_stores_declare_phi, "safeward")
    checks.register(check_key_provider, "safeward", deploy=True)
    checks.register(check_keyring, "safeward", checks.Tags.database, deploy=True)
