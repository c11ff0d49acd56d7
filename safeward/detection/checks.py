"""`safeward check` findings of detection: stored rule configurations that
would be refused on input (database only). A rule runs on regardless, with
the default of each bad value, so the finding is a warning that names the
rule, what is wrong and where to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks


def check_rule_configs(
    app_configs: Sequence[Any] | None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if not databases:
        return []
    from django.db import connection
    from django.urls import reverse

    from safeward.detection.models import DetectionRule
    from safeward.detection.selectors import rule_configs_invalid

    # Before the first migrate: identity's check (safeward.E013) says to migrate.
    if DetectionRule._meta.db_table not in connection.introspection.table_names():
        return []
    messages: list[checks.CheckMessage] = []
    for stored in rule_configs_invalid():
        if not stored.known:
            messages.append(
                checks.Info(
                    f"Detection rule {stored.code!r} is stored but this SafeWard version has no such rule; "
                    "nothing runs it.",
                    hint="Left by another version or added by hand. After a downgrade, upgrade again; "
                    "otherwise it can stay, ignored.",
                    id="safeward.I702",
                )
            )
            continue
        messages.append(
            checks.Warning(
                f"Detection rule {stored.code!r} has a stored configuration that does not validate: "
                f"{' '.join(stored.problems)}",
                hint="Until it is fixed the rule runs with the default for each value named (unknown "
                f"parameters are ignored). Open {reverse('detection:rule_edit', args=[stored.code])} "
                "(Detection, Rules), correct those values and save: saving validates and audits the change.",
                id="safeward.W701",
            )
        )
    return messages


def register() -> None:
    checks.register(check_rule_configs, "safeward", checks.Tags.database)
