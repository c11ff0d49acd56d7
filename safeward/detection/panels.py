"""Panels other apps add to the alert page.

Incidents shows its actions (open an incident from the alert, add it to an
open one) and the alert's notification deliveries there. Incidents depends
on detection, not the other way round (docs/architecture.md, app graph): it
registers its panels in `ready()`, and the alert page renders whatever is
registered, each panel a template fed by the registering app's selector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from safeward.detection.models import Alert
    from safeward.identity.models import User

# "actions": under the alert's triage forms; "footer": below the evidence.
Slot = Literal["actions", "footer"]


@dataclass(frozen=True)
class AlertPanel:
    slot: Slot
    template: str
    # The panel's context for this reader and alert; None leaves the panel out.
    context: Callable[[User, Alert], dict[str, Any] | None]


@dataclass(frozen=True)
class RenderedPanel:
    template: str
    context: dict[str, Any]


_PANELS: list[AlertPanel] = []


def register_alert_panel(panel: AlertPanel) -> None:
    if panel not in _PANELS:
        _PANELS.append(panel)


def alert_panels(*, actor: User, alert: Alert, slot: Slot) -> list[RenderedPanel]:
    rendered = []
    for panel in _PANELS:
        if panel.slot != slot:
            continue
        context = panel.context(actor, alert)
        if context is not None:
            rendered.append(RenderedPanel(template=panel.template, context=context))
    return rendered
