"""`safeward check` additions for alert notifications (deploy only): a
webhook without a secret would send unsigned alerts; a plain-http webhook
would send them in clear."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks

from safeward.incidents.notifications import notify_config


def check_notifications(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    try:
        config = notify_config()
    except Exception as error:  # a damaged sealed secret, for one
        return [
            checks.Error(
                f"Alert notification settings cannot be read ({type(error).__name__}).",
                hint="Check SAFEWARD_ALERT_* (docs/detection-operations.md).",
                id="safeward.E710",
            )
        ]
    if config.webhook_url and not config.webhook_secret:
        messages.append(
            checks.Error(
                "SAFEWARD_ALERT_WEBHOOK_URL is set without SAFEWARD_ALERT_WEBHOOK_SECRET.",
                hint="Set a shared secret (ideally a sealed `sws1.` token) so receivers can verify alerts.",
                id="safeward.E711",
            )
        )
    if config.webhook_url.startswith("http://"):
        messages.append(
            checks.Warning(
                "The alert webhook uses plain http.",
                hint="Use an https URL: alerts name accounts and pseudonymous patient ids.",
                id="safeward.W712",
            )
        )
    return messages


def register() -> None:
    checks.register(check_notifications, "safeward", deploy=True)
