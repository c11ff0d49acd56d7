"""The asset register's dashboard panel: lapsed reviews and assessments, and
assets nobody has reviewed yet (shown to those who read the register)."""

from __future__ import annotations

from typing import Any

from safeward.assets import selectors
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.web.panels import DashboardPanel

MAX_SHOWN = 10


def _lapsed_context(reader: User) -> dict[str, Any] | None:
    if not reader.has_perm(Perm.ASSETS_ASSET_READ):
        return None
    lapses = selectors.assets_lapsed()
    unreviewed = selectors.assets_unreviewed_count()
    if not lapses and not unreviewed:
        return None
    return {"lapses": lapses[:MAX_SHOWN], "lapsed_count": len(lapses), "unreviewed": unreviewed}


LAPSED_PANEL = DashboardPanel(template="assets/_dashboard_lapsed.html", context=_lapsed_context)
