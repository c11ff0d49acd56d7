"""SafeWard's own deployment checks, run by `safeward check` together with
Django's (`check --deploy --database default --fail-level WARNING`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
_ENCRYPTED_SSLMODES = {"require", "verify-ca", "verify-full"}
# Backends that never deliver: the vendor questionnaire's one-time code is
# e-mailed (ADR 1214), so in production a vendor would wait for it forever.
_UNDELIVERED_MAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
}


def _is_local(host: str) -> bool:
    if host in _LOCAL_HOSTS or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_settings(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if settings.SECRET_KEY == settings.INSECURE_DEVELOPMENT_SECRET_KEY:
        errors.append(
            checks.Error(
                "The development secret key is in use.",
                hint="Set SAFEWARD_SECRET_KEY or SAFEWARD_SECRET_KEY_FILE.",
                id="safeward.E001",
            )
        )
    if not settings.SECURE_SSL_REDIRECT:
        errors.append(
            checks.Error(
                "Plain HTTP is served (SECURE_SSL_REDIRECT is off).",
                hint="Serve HTTPS only; unset SAFEWARD_SSL_REDIRECT.",
                id="safeward.E002",
            )
        )
    if settings.SECURE_HSTS_SECONDS < 31536000:
        errors.append(
            checks.Error(
                "HSTS is shorter than one year.",
                hint="Set SAFEWARD_HSTS_SECONDS to 31536000 or more.",
                id="safeward.E003",
            )
        )
    for alias, database in settings.DATABASES.items():
        if database["ENGINE"] != "django.db.backends.postgresql":
            if settings.PRODUCTION:
                errors.append(
                    checks.Error(
                        f"Database {alias!r} is not PostgreSQL.",
                        id="safeward.E004",
                        hint="Production runs on PostgreSQL; SQLite is for the demo and quick tests.",
                    )
                )
            continue
        options: dict[str, Any] = database.get("OPTIONS") or {}
        sslmode = options.get("sslmode", "prefer")
        if not _is_local(str(database.get("HOST", ""))) and sslmode not in _ENCRYPTED_SSLMODES:
            errors.append(
                checks.Error(
                    f"Database {alias!r} is remote and may be reached unencrypted (sslmode={sslmode}).",
                    hint="Add ?sslmode=verify-full (or require) to SAFEWARD_DATABASE_URL.",
                    id="safeward.E005",
                )
            )
    if settings.SAFEWARD_DEMO:
        errors.append(
            checks.Error(
                "Demo mode is on: published demo credentials can sign in.",
                id="safeward.E006",
                hint="Unset SAFEWARD_DEMO.",
            )
        )
    backend = settings.MAILERS.get("default", {}).get("BACKEND", "")
    if settings.PRODUCTION and backend in _UNDELIVERED_MAIL_BACKENDS:
        errors.append(
            checks.Error(
                f"Production e-mail goes to the {backend.rsplit('.', 2)[-2]} backend, not to its "
                "recipients: vendors would never receive their questionnaire codes.",
                hint="Set SAFEWARD_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend "
                "and SAFEWARD_EMAIL_HOST (docs/operations.md).",
                id="safeward.E007",
            )
        )
    return errors


def check_accounts(
    app_configs: Sequence[Any] | None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if not databases:
        return []
    from django.db import connection

    from safeward.identity.models import Role, User
    from safeward.identity.roles import CATALOG

    # Before the first migrate there is nothing to inspect: say so instead of a traceback.
    if User._meta.db_table not in connection.introspection.table_names():
        return [
            checks.Error(
                "The database has no SafeWard tables yet.",
                hint="Run `safeward migrate` first.",
                id="safeward.E013",
            )
        ]
    errors: list[checks.CheckMessage] = []
    if User.objects.filter(is_superuser=True).exists() or User.objects.filter(is_staff=True).exists():
        errors.append(
            checks.Error(
                "An account has Django's superuser or staff flag.",
                hint="SafeWard grants access through roles only; clear the flags.",
                id="safeward.E010",
            )
        )
    stored = {role.code: role for role in Role.objects.all()}
    for spec in CATALOG:
        role = stored.get(spec.code)
        if role is None:
            errors.append(
                checks.Error(
                    f"Role {spec.code!r} is missing.", id="safeward.E011", hint="Run `safeward migrate`."
                )
            )
        elif (
            set(role.permissions) != {str(p) for p in spec.permissions} or role.privileged != spec.privileged
        ):
            errors.append(
                checks.Error(
                    f"Role {spec.code!r} differs from the catalog in safeward/identity/roles.py.",
                    hint="Someone widened or narrowed it in the database; run `safeward roles sync`.",
                    id="safeward.E012",
                )
            )
    return errors


def register() -> None:
    checks.register(check_settings, "safeward", deploy=True)
    checks.register(check_accounts, "safeward", checks.Tags.database, deploy=True)
