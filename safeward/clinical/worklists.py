"""The clinical worklists on the home page (registered with
`safeward.web.worklists` in ClinicalConfig.ready): each reads through the
gateway, which decides, audits and shows each patient as the policy allows."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from safeward.clinical import gateway, lab_catalog
from safeward.clinical.types import Forbidden
from safeward.clinical.views import _actor, _ctx
from safeward.identity.permissions import Perm
from safeward.identity.selectors import user_department_id
from safeward.web.worklists import Worklist, register_worklist

UNREACHABLE: dict[str, Any] = {"unreachable": True}
LAB_ROWS = 10


def physician(request: HttpRequest) -> dict[str, Any]:
    try:
        worklist = gateway.physician_worklist(**_ctx(request))
    except Forbidden:
        return UNREACHABLE
    flags = {
        n.id: lab_catalog.interpret(n.observation.code, n.observation.unit, n.observation.value)
        for n in worklist.results
        if n.observation is not None
    }
    results = [
        (
            n,
            flags.get(n.id),
            lab_catalog.reference_for(n.observation.code, n.observation.unit) if n.observation else "",
        )
        for n in worklist.results
    ]
    return {"worklist": worklist, "results": results}


def ward_census(request: HttpRequest) -> dict[str, Any]:
    """The wards of the person's department with their beds (all wards' occupancy when it has none)."""
    department = user_department_id(user=_actor(request))
    wards = gateway.wards_list(department_id=department) if department is not None else []
    if not wards:
        return {"wards": gateway.wards_list(), "censuses": []}
    try:
        censuses = [gateway.ward_census(**_ctx(request), ward_id=w.id) for w in wards]
    except Forbidden:
        return UNREACHABLE
    return {
        "censuses": censuses,
        "can_discharge": _actor(request).has_perm(Perm.CLINICAL_ENCOUNTER_DISCHARGE),
        "can_move": _actor(request).has_perm(Perm.CLINICAL_APPOINTMENT_MANAGE),
    }


def arrivals(request: HttpRequest) -> dict[str, Any]:
    try:
        return {"rows": gateway.arrivals_today(**_ctx(request))}
    except Forbidden:
        return UNREACHABLE


def laboratory(request: HttpRequest) -> dict[str, Any]:
    try:
        worklist = gateway.lab_worklist(**_ctx(request), limit=LAB_ROWS)
    except Forbidden:
        return UNREACHABLE
    return {"worklist": worklist}


def pharmacy(request: HttpRequest) -> dict[str, Any]:
    try:
        return {"worklist": gateway.medication_orders_to_verify(**_ctx(request), limit=LAB_ROWS)}
    except Forbidden:
        return UNREACHABLE


def break_glass_reviews(request: HttpRequest) -> dict[str, Any]:
    """The oldest emergency accesses waiting for the privacy officer's review."""
    from safeward.clinical.forms import REASON_KINDS
    from safeward.clinical.types import SessionContext

    grants = gateway.break_glass_review_queue(
        actor=_actor(request), session=SessionContext.from_request(request), status="pending", limit=LAB_ROWS
    )
    labels = dict(REASON_KINDS)
    return {"rows": [(g, labels.get(g.reason_kind, g.reason_kind)) for g in grants]}


def register() -> None:
    register_worklist(
        Worklist(
            "physician",
            "My work today",
            Perm.CLINICAL_MEDICATION_PRESCRIBE,
            "clinical/_worklist_physician.html",
            physician,
            order=10,
        )
    )
    register_worklist(
        Worklist(
            "census",
            "Ward census",
            Perm.CLINICAL_CHART_WRITE,
            "clinical/_worklist_census.html",
            ward_census,
            order=20,
            unless=Perm.CLINICAL_MEDICATION_PRESCRIBE,
        )
    )
    register_worklist(
        Worklist(
            "arrivals",
            "Today's arrivals and check-ins",
            Perm.CLINICAL_PATIENT_REGISTER,
            "clinical/_worklist_arrivals.html",
            arrivals,
            order=30,
        )
    )
    register_worklist(
        Worklist(
            "laboratory",
            "Laboratory worklist",
            Perm.CLINICAL_RESULT_WRITE,
            "clinical/_worklist_lab.html",
            laboratory,
            order=40,
        )
    )
    register_worklist(
        Worklist(
            "break-glass",
            "Emergency accesses to review",
            Perm.CLINICAL_BREAKGLASS_REVIEW,
            "clinical/_worklist_break_glass.html",
            break_glass_reviews,
            order=65,
        )
    )
    register_worklist(
        Worklist(
            "pharmacy",
            "Medication orders to verify",
            Perm.CLINICAL_MEDICATION_DISPENSE,
            "clinical/_worklist_pharmacy.html",
            pharmacy,
            order=50,
        )
    )
