"""Incidents' panels on detection's alert page (registered in `ready()`, see
`safeward.detection.panels`): opening or joining an incident, and the
alert's notification deliveries."""

from __future__ import annotations

from typing import Any

from safeward.detection.models import Alert
from safeward.detection.panels import AlertPanel
from safeward.detection.triage import alert_version
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.incidents.selectors import deliveries_for, incidents_not_closed
from safeward.web.panels import DashboardPanel


def _incident_actions(actor: User, alert: Alert) -> dict[str, Any] | None:
    if alert.incident_id is not None or alert.status == Alert.Status.DISMISSED:
        return None
    if not actor.has_perm(Perm.INCIDENT_RECORD_MANAGE):
        return None
    return {"alert": alert, "version": alert_version(alert), "open_incidents": incidents_not_closed()}


def _deliveries(actor: User, alert: Alert) -> dict[str, Any] | None:
    deliveries = deliveries_for(alert_id=int(alert.pk))
    return {"deliveries": deliveries} if deliveries else None


ALERT_PANELS = (
    AlertPanel(slot="actions", template="incidents/_alert_actions.html", context=_incident_actions),
    AlertPanel(slot="footer", template="incidents/_alert_deliveries.html", context=_deliveries),
)


def _deadlines(reader: User) -> dict[str, Any] | None:
    """Breach notices due within 14 days or overdue, on the home page of those who read cases."""
    if not reader.has_perm(Perm.INCIDENT_RECORD_READ):
        return None
    from safeward import clock
    from safeward.incidents.case_services import breach_deadlines, deadline_done
    from safeward.incidents.selectors import open_breaches

    now = clock.now()
    rows = []
    for breach in open_breaches():
        for deadline in breach_deadlines(breach):
            state = deadline.state(now, deadline_done(breach, deadline.code))
            if state in ("near", "overdue"):
                rows.append((breach.incident, deadline, state))
    if not rows:
        return None
    return {"rows": sorted(rows, key=lambda row: row[1].due)[:20]}


DEADLINES_PANEL = DashboardPanel(template="incidents/_dashboard_deadlines.html", context=_deadlines)
