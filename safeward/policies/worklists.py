"""The policy worklists on the home page: the compliance officer's (reviews
due, revisions waiting for a second person, campaigns lagging) and, for every
document owner, their own overdue reviews (how an overdue review reaches its
owner, next to the `policy_review_overdue` alert). Registered in ready()."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.policies import selectors
from safeward.web.panels import DashboardPanel, register_dashboard_panel
from safeward.web.worklists import Worklist, register_worklist

REVIEW_HORIZON_DAYS = 30


def compliance(request: HttpRequest) -> dict[str, Any]:
    overdue = {document.pk for document in selectors.documents_review_overdue()}
    return {
        "reviews": [
            (document, document.pk in overdue)
            for document in selectors.documents_review_due_within(days=REVIEW_HORIZON_DAYS)
        ],
        "in_review": list(selectors.revisions_in_review()[:10]),
        "lagging": selectors.campaigns_lagging(),
        "horizon": REVIEW_HORIZON_DAYS,
    }


def _owner_context(reader: User) -> dict[str, Any] | None:
    mine = [
        d for d in selectors.documents_review_due_within(days=REVIEW_HORIZON_DAYS) if d.owner_id == reader.pk
    ]
    if not mine:
        return None
    overdue = {document.pk for document in selectors.documents_review_overdue()}
    return {"documents": [(document, document.pk in overdue) for document in mine]}


OWNER_PANEL = DashboardPanel(template="policies/_dashboard_owner.html", context=_owner_context)


def register() -> None:
    register_dashboard_panel(OWNER_PANEL)
    register_worklist(
        Worklist(
            "policies",
            "Policy reviews and acknowledgements",
            Perm.POLICY_DOCUMENT_MANAGE,
            "policies/_worklist.html",
            compliance,
            70,
        )
    )
