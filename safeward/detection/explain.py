"""Explained access: is there a reason this user opened this chart?

A chart access (read, export or print with a patient, by a user, permitted)
is explained when, at the time of the access, the user:

| reason code     | holds when                                                       |
|-----------------|------------------------------------------------------------------|
| care_team       | a current care-team membership                                   |
| attending       | attending of an encounter active then (or ended < 14 days)       |
| department      | the patient had an active encounter in the user's department     |
| appointment     | an appointment that day with the user or the user's department  |
| order_result    | the user recorded an order or result for the patient (30 days)  |
| medication      | the user prescribed for the patient (30 days)                    |
| note            | the user wrote a note for the patient (30 days)                  |
| recent_write    | the user registered or updated the patient in the last 24 hours |
| break_glass     | the access was under break-glass (alerted by its own rules)      |

Everything else is unexplained: it goes to the privacy officer's review
queue and feeds the unexplained-access and snooping rules. The facts come
from the clinical gateway in one call per batch (no patient data leaves it)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.clinical.gateway import AccessFacts, AccessQuery, StaffKeys, detection_access_facts
from safeward.detection.models import StaffMatchKey
from safeward.detection.worker import Event

ACCESS_ACTIONS = frozenset({Action.READ.value, Action.EXPORT.value, Action.PRINT.value})
WRITE_ACTIONS = (Action.CREATE.value, Action.UPDATE.value)
RECENT_WRITE_EXPLAINS = dt.timedelta(hours=24)


def is_chart_access(event: Event) -> bool:
    return (
        event.action in ACCESS_ACTIONS
        and bool(event.patient_id)
        and event.actor_id is not None
        and event.outcome == Outcome.SUCCESS.value
    )


def is_break_glass_access(event: Event) -> bool:
    return event.purpose_of_use == PurposeOfUse.EMERGENCY.value or bool(event.detail.get("emergency"))


@dataclass
class Explanation:
    reasons: set[str] = field(default_factory=set)
    facts: AccessFacts = field(default_factory=AccessFacts)

    @property
    def explained(self) -> bool:
        return bool(self.reasons)


def explain(accesses: Sequence[Event], *, compare_explained: bool = False) -> dict[int, Explanation]:
    """An explanation for every chart access in the batch, keyed by event id:
    one gateway call, one query for staff match keys, one for recent writes."""
    if not accesses:
        return {}
    user_ids = sorted({event.actor_id for event in accesses if event.actor_id is not None})
    staff_keys = {
        row.user_id: StaffKeys(
            national_id_index=bytes(row.national_id_index) if row.national_id_index is not None else None,
            address_index=bytes(row.address_index) if row.address_index is not None else None,
            patient_id=row.patient_id,
        )
        for row in StaffMatchKey.objects.filter(user_id__in=user_ids)
    }
    queries = {
        event.id: AccessQuery(user_id=event.actor_id, patient_id=event.patient_id, at=event.occurred_at)
        for event in accesses
        if event.actor_id is not None
    }
    facts = detection_access_facts(
        queries=list(set(queries.values())), staff_keys=staff_keys, compare_explained=compare_explained
    )

    earliest = min(event.occurred_at for event in accesses)
    latest = max(event.occurred_at for event in accesses)
    writes: dict[tuple[int, str], list[dt.datetime]] = defaultdict(list)
    for actor_id, patient_id, moment in AuditEvent.objects.filter(
        actor_id__in=user_ids,
        patient_id__in=sorted({event.patient_id for event in accesses}),
        action__in=WRITE_ACTIONS,
        outcome=Outcome.SUCCESS.value,
        occurred_at__gte=earliest - RECENT_WRITE_EXPLAINS,
        occurred_at__lte=latest,
    ).values_list("actor_id", "patient_id", "occurred_at"):
        if actor_id is not None:
            writes[(actor_id, patient_id)].append(moment)

    result: dict[int, Explanation] = {}
    for event in accesses:
        query = queries.get(event.id)
        found = facts.get(query) if query is not None else None
        explanation = Explanation(facts=found or AccessFacts())
        explanation.reasons |= explanation.facts.relationships
        if any(
            event.occurred_at - RECENT_WRITE_EXPLAINS <= moment <= event.occurred_at
            for moment in writes.get((event.actor_id or 0, event.patient_id), ())
        ):
            explanation.reasons.add("recent_write")
        if is_break_glass_access(event):
            explanation.reasons.add("break_glass")
        result[event.id] = explanation
    return result
