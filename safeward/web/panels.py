"""Panels other apps add to the dashboard (the asset register's lapsed
reviews...). Web depends on no feature app: each registers its panel in
`ready()` and the dashboard renders whatever is registered and shown to the
reader, each panel a template fed by the registering app's selector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safeward.identity.models import User


@dataclass(frozen=True)
class DashboardPanel:
    template: str
    # The panel's context for this reader; None leaves the panel out.
    context: Callable[[User], dict[str, Any] | None]


@dataclass(frozen=True)
class RenderedPanel:
    template: str
    context: dict[str, Any]


_PANELS: list[DashboardPanel] = []


def register_dashboard_panel(panel: DashboardPanel) -> None:
    if panel not in _PANELS:
        _PANELS.append(panel)


def dashboard_panels(*, reader: User) -> list[RenderedPanel]:
    rendered = []
    for panel in _PANELS:
        context = panel.context(reader)
        if context is not None:
            rendered.append(RenderedPanel(template=panel.template, context=context))
    return rendered
