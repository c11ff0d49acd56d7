"""`safeward check` findings of the FHIR/SMART app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


def check_oidc_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.OAUTH2_PROVIDER.get("OIDC_RSA_PRIVATE_KEY"):
        return []
    return [
        checks.Warning(
            "No OpenID Connect signing key: SMART apps asking for `openid fhirUser` get no id_token.",
            hint="Set SAFEWARD_OIDC_KEY_FILE to an RSA private key (PEM, 2048 bits or more); "
            "see docs/fhir.md.",
            id="safeward.W540",
        )
    ]


def register() -> None:
    checks.register(check_oidc_key, "safeward", deploy=True)
