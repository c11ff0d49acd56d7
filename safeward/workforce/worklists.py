"""The HR officer's worklist on the home page (issue 12): onboarding gates
still open, terminations scheduled, training overdue and access-review
campaigns with decisions pending. Registered in WorkforceConfig.ready."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward.identity.permissions import Perm
from safeward.web.worklists import Worklist, register_worklist
from safeward.workforce import selectors
from safeward.workforce.models import Person, ReviewCampaign

ROWS = 10


def hr(request: HttpRequest) -> dict[str, Any]:
    onboarding = list(selectors.people_list(status=Person.Status.ONBOARDING)[:ROWS])
    return {
        "onboarding": [
            (person, [g for g in selectors.onboarding_gates(person=person) if not g.passed])
            for person in onboarding
        ],
        "terminations": list(selectors.terminations_upcoming()[:ROWS]),
        "overdue": list(selectors.training_overdue()[:ROWS]),
        "campaigns": list(selectors.review_campaigns().filter(status=ReviewCampaign.Status.OPEN)[:ROWS]),
    }


def register() -> None:
    register_worklist(
        Worklist(
            "hr",
            "Gates, terminations and reviews",
            Perm.WORKFORCE_PERSON_MANAGE,
            "workforce/_worklist_hr.html",
            hr,
            80,
        )
    )
