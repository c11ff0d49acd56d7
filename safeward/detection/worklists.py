"""The security and privacy officers' worklists on the home page (issue 12),
registered with `safeward.web.worklists` in DetectionConfig.ready."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward.detection import selectors
from safeward.identity.permissions import Perm
from safeward.web.worklists import Worklist, register_worklist

ROWS = 10


def open_alerts(request: HttpRequest) -> dict[str, Any]:
    queue = selectors.alert_queue()
    return {"alerts": list(queue[:ROWS]), "total": queue.count()}


def access_reviews(request: HttpRequest) -> dict[str, Any]:
    reviews = selectors.access_reviews_open()
    return {"reviews": list(reviews[:ROWS]), "total": reviews.count()}


def register() -> None:
    register_worklist(
        Worklist(
            "alerts",
            "Open alerts",
            Perm.DETECTION_ALERT_CONTAIN,
            "detection/_worklist_alerts.html",
            open_alerts,
            60,
        )
    )
    register_worklist(
        Worklist(
            "access-reviews",
            "Accesses to review",
            Perm.DETECTION_ACCESS_REVIEW,
            "detection/_worklist_reviews.html",
            access_reviews,
            70,
        )
    )
