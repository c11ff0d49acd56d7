"""Risk register writes (ADR 0940). Each takes `actor`, runs in one
transaction with its audit event, and refuses with `RiskError` and a reason
the person can act on. Links are checked where they live: assets through
the assets app's selectors, control tests against the registry
(`safeward.compliance.discover()`), findings in this app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from safeward import clock
from safeward.assessments.models import Finding, Risk
from safeward.assets.selectors import asset_exists
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.compliance import discover
from safeward.identity.models import User

RESOURCE = "Risk"
FIELDS = (
    "title",
    "threat_source",
    "threat_event",
    "vulnerability",
    "likelihood",
    "impact",
    "treatment",
    "treatment_plan",
    "owner_id",
    "residual_likelihood",
    "residual_impact",
    "review_due",
    "status",
    "asset_ids",
    "control_ids",
)
SCALES = ("likelihood", "impact", "residual_likelihood", "residual_impact")


class RiskError(Exception):
    """A write refused with a reason the person can act on."""


def _checked(values: Mapping[str, Any], finding_ids: list[int]) -> dict[str, Any]:
    missing = [name for name in FIELDS if name not in values and name != "status"]
    if missing:
        raise RiskError(f"Missing {missing[0].removesuffix('_id').replace('_', ' ')}.")
    checked = {name: values[name] for name in FIELDS if name in values}
    checked.setdefault("status", Risk.Status.OPEN)
    for name in ("title", "threat_event", "vulnerability", "treatment_plan"):
        checked[name] = str(checked[name]).strip()
        if not checked[name]:
            raise RiskError(f"The {name.replace('_', ' ')} is required.")
    if len(checked["title"]) > 200:
        raise RiskError("The title is at most 200 characters.")
    if checked["threat_source"] not in Risk.ThreatSource.values:
        raise RiskError("Unknown threat source.")
    if checked["treatment"] not in Risk.Treatment.values:
        raise RiskError("Unknown treatment.")
    if checked["status"] not in Risk.Status.values:
        raise RiskError("Unknown status.")
    for name in SCALES:
        if not isinstance(checked[name], int) or not 1 <= checked[name] <= 5:
            raise RiskError(f"The {name.replace('_', ' ')} is 1 to 5.")
    if (
        checked["residual_likelihood"] > checked["likelihood"]
        or checked["residual_impact"] > checked["impact"]
    ):
        raise RiskError("The residual likelihood and impact cannot be higher than the inherent ones.")
    if not isinstance(checked["review_due"], dt.date):
        raise RiskError("The review date is required.")
    if not User.objects.filter(pk=checked["owner_id"], is_active=True).exists():
        raise RiskError("The owner must be an active account.")
    checked["asset_ids"] = sorted(set(checked["asset_ids"]))
    for asset_id in checked["asset_ids"]:
        if not asset_exists(asset_id=asset_id):
            raise RiskError(f"No asset with id {asset_id}.")
    checked["control_ids"] = sorted(set(checked["control_ids"]))
    known = discover()
    for control_id in checked["control_ids"]:
        if control_id not in known:
            raise RiskError(f"No control test {control_id!r}.")
    found = set(Finding.objects.filter(pk__in=finding_ids).values_list("pk", flat=True))
    for finding_id in finding_ids:
        if finding_id not in found:
            raise RiskError(f"No finding with id {finding_id}.")
    return checked


def risk_create(*, actor: User | None, values: Mapping[str, Any], finding_ids: Iterable[int] = ()) -> Risk:
    """`values` are the cleaned fields of RiskForm (`RiskForm.risk_values()`)."""
    wanted = sorted(set(finding_ids))
    checked = _checked(values, wanted)
    now = clock.now()
    with transaction.atomic():
        risk = Risk.objects.create(**checked, created_by=actor, created_at=now, updated_at=now)
        risk.findings.set(wanted)
        audit_record(
            action=Action.CREATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=str(risk.pk),
            purpose=PurposeOfUse.OPERATIONS,
            fields=sorted(name.removesuffix("_id") for name in checked),
            detail={
                "inherent": risk.inherent_score,
                "residual": risk.residual_score,
                "treatment": risk.treatment,
                "assets": checked["asset_ids"],
                "controls": checked["control_ids"],
                "findings": wanted,
            },
        )
    return risk


def risk_update(
    *, actor: User | None, risk_id: int, values: Mapping[str, Any], finding_ids: Iterable[int] = ()
) -> Risk:
    wanted = sorted(set(finding_ids))
    checked = _checked(values, wanted)
    with transaction.atomic():
        risk = Risk.objects.select_for_update().filter(pk=risk_id).first()
        if risk is None:
            raise RiskError("No such risk.")
        changed = sorted(name for name, value in checked.items() if getattr(risk, name) != value)
        for name in changed:
            setattr(risk, name, checked[name])
        before = sorted(risk.findings.values_list("pk", flat=True))
        if before != wanted:
            changed.append("findings")
            risk.findings.set(wanted)
        risk.updated_at = clock.now()
        risk.save()
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=str(risk.pk),
            purpose=PurposeOfUse.OPERATIONS,
            fields=[name.removesuffix("_id") for name in changed],
            detail={"inherent": risk.inherent_score, "residual": risk.residual_score, "status": risk.status},
        )
    return risk


def risk_review(*, actor: User | None, risk_id: int, next_review_due: dt.date | None) -> Risk:
    """The owner or the officer looked at the risk today; the next review is due on `next_review_due`."""
    today = clock.now().date()
    if next_review_due is None or next_review_due <= today:
        raise RiskError("The next review date must be after today.")
    if next_review_due > today + dt.timedelta(days=3 * 366):
        raise RiskError("Review a risk at least every three years.")
    with transaction.atomic():
        risk = Risk.objects.select_for_update().filter(pk=risk_id).first()
        if risk is None:
            raise RiskError("No such risk.")
        if risk.status == Risk.Status.CLOSED:
            raise RiskError("The risk is closed; reopen it to review it.")
        risk.last_reviewed_on = today
        risk.review_due = next_review_due
        risk.updated_at = clock.now()
        risk.save(update_fields=["last_reviewed_on", "review_due", "updated_at"])
        audit_record(
            action=Action.UPDATE,
            actor=actor,
            resource_type=RESOURCE,
            resource_id=str(risk.pk),
            purpose=PurposeOfUse.OPERATIONS,
            fields=["last_reviewed_on", "review_due"],
            detail={"reviewed_on": today.isoformat(), "next_review_due": next_review_due.isoformat()},
        )
    return risk
