"""`safeward check` findings of the assessments app: the control catalogs must load
(ADR 0910), or every framework's table and every control test's mapping is wrong."""

from __future__ import annotations

from typing import Any

from django.core import checks

from safeward.assessments.catalogs import DIRECTORY, CatalogError, load


def check_catalogs(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        load(DIRECTORY)
    except CatalogError as error:
        shown = error.errors[:10]
        more = f" (and {len(error.errors) - len(shown)} more)" if len(error.errors) > len(shown) else ""
        return [
            checks.Error(
                f"The control catalogs do not load: {'; '.join(shown)}{more}.",
                hint="Run `safeward assessments catalog validate` and fix the files it names "
                "(docs/catalogs.md).",
                id="safeward.E910",
            )
        ]
    return []


def register() -> None:
    checks.register(check_catalogs, "safeward")
