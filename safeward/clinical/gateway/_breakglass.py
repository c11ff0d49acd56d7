"""Break-the-glass: emergency access to one patient's record by one person,
with a mandatory reason, a fresh second factor, a time box (default one
hour, ends by itself by the injected clock), every access during it audited
as emergency (purpose ETREAT), and the privacy officer's review.
See docs/decisions/0502-break-glass.md."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NoReturn

from django.db import transaction
from django.db.models import Q

from safeward import clock
from safeward.audit.vocabulary import Action as AuditAction
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import policy
from safeward.clinical.gateway._core import (
    Actor,
    access_context,
    facts_for,
    parse_id,
    plain,
    record,
    record_denied,
    resource_for,
    subject_for,
    user_label,
)
from safeward.clinical.models import BreakGlassGrant, Patient
from safeward.clinical.policy import Action, Effect
from safeward.clinical.types import (
    BreakGlassView,
    Forbidden,
    InvalidInput,
    NotFound,
    SessionContext,
    SystemActor,
)
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.one_door import entry

DEFAULT_MINUTES = 60
MAX_MINUTES = 240
MIN_JUSTIFICATION = 10


def _view(grant: BreakGlassGrant, *, with_justification: bool) -> BreakGlassView:
    return BreakGlassView(
        id=str(grant.pk),
        patient_id=str(grant.patient_id),
        user_id=grant.user_id,
        user=user_label(grant.user),
        reason_kind=grant.reason_kind,
        justification=plain(grant, "justification") if with_justification else None,
        started_at=grant.started_at,
        expires_at=grant.expires_at,
        ended_at=grant.ended_at,
        end_reason=grant.end_reason,
        review=grant.review,
        reviewed_by=user_label(grant.reviewed_by),
        reviewed_at=grant.reviewed_at,
        review_note=plain(grant, "review_note") if with_justification else None,
        accesses=grant.access_count,
    )


def _refuse(actor: Actor, action: AuditAction, purpose: PurposeOfUse) -> NoReturn:
    """Someone without the permission tried: audited (denied), then Forbidden."""
    record_denied(
        action=action,
        actor=actor,
        purpose=purpose,
        resource_type="BreakGlassGrant",
        resource_id="",
        patient=None,
        reason="permission",
    )
    raise Forbidden


@entry
def break_glass_start(
    *,
    actor: Actor,
    session: SessionContext,
    patient_id: str | uuid.UUID,
    reason_kind: str,
    justification: str,
    minutes: int = DEFAULT_MINUTES,
) -> BreakGlassView:
    """Open emergency access for `minutes`. Needs the break-glass permission and
    a second factor passed within the step-up window; refused (NotFound) when
    the policy denies outright (no role, zone, workforce state) or the patient
    does not exist."""
    if isinstance(actor, SystemActor):
        raise Forbidden
    subject = subject_for(actor)
    if not subject.has(Perm.CLINICAL_BREAKGLASS_USE):
        _refuse(actor, AuditAction.BREAK_GLASS, PurposeOfUse.EMERGENCY)
    if not session.step_up_fresh:
        raise Forbidden("step-up authentication required")
    errors = {}
    if reason_kind not in BreakGlassGrant.ReasonKind.values:
        errors["reason_kind"] = "Choose a reason."
    text = (justification or "").strip()
    if len(text) < MIN_JUSTIFICATION:
        errors["justification"] = f"Explain the emergency in at least {MIN_JUSTIFICATION} characters."
    elif len(text) > 1000:
        errors["justification"] = "Too long."
    if not 5 <= minutes <= MAX_MINUTES:
        errors["minutes"] = f"Between 5 and {MAX_MINUTES} minutes."
    if errors:
        raise InvalidInput(errors)
    pid = parse_id(patient_id)
    patient = Patient.objects.filter(pk=pid).first()
    decision = None
    if patient is not None:
        facts = facts_for(actor, [pid])[pid]
        decision = policy.decide(
            subject,
            resource_for(patient, facts),
            Action.READ,
            access_context(session, PurposeOfUse.EMERGENCY),
        )
    if patient is None or decision is None or decision.effect is Effect.DENY:
        record_denied(
            action=AuditAction.BREAK_GLASS,
            actor=actor,
            purpose=PurposeOfUse.EMERGENCY,
            resource_type="BreakGlassGrant",
            resource_id=str(pid),
            patient=patient,
            reason="not_found" if patient is None else (decision.reason if decision else ""),
        )
        raise NotFound
    now = clock.now()
    with transaction.atomic():
        grant = BreakGlassGrant(
            user=actor,
            patient=patient,
            reason_kind=reason_kind,
            started_at=now,
            expires_at=now + dt.timedelta(minutes=minutes),
        )
        grant.justification = text
        grant.save()
        record(
            action=AuditAction.BREAK_GLASS,
            actor=actor,
            purpose=PurposeOfUse.EMERGENCY,
            resource_type="BreakGlassGrant",
            resource_id=str(grant.pk),
            patient=patient,
            reason=reason_kind,
            detail={"event": "start", "minutes": minutes, "break_glass_grant": str(grant.pk)},
        )
        return _view(grant, with_justification=False)


@entry
def break_glass_end(*, actor: User, grant_id: str) -> None:
    """The person ends their own emergency access early."""
    gid = parse_id(grant_id)
    with transaction.atomic():
        grant = BreakGlassGrant.objects.select_for_update().filter(pk=gid, user=actor).first()
        if grant is None:
            raise NotFound
        if grant.ended_at is None and grant.expires_at > clock.now():
            grant.ended_at, grant.end_reason = clock.now(), "ended_by_user"
            grant.save(update_fields=["ended_at", "end_reason"])
            record(
                action=AuditAction.BREAK_GLASS,
                actor=actor,
                purpose=PurposeOfUse.EMERGENCY,
                resource_type="BreakGlassGrant",
                resource_id=str(grant.pk),
                detail={"event": "end", "break_glass_grant": str(grant.pk)},
            )


@entry
def break_glass_end_for_user(*, user: User, reason: str) -> int:
    """Cut every active grant of `user` (termination cut-off registered with
    safeward.workforce.extensions). Runs in the caller's transaction; returns
    how many grants it ended."""
    now = clock.now()
    active = list(
        BreakGlassGrant.objects.select_for_update().filter(
            user=user, expires_at__gt=now, ended_at__isnull=True
        )
    )
    for grant in active:
        grant.ended_at, grant.end_reason = now, "termination"
        grant.save(update_fields=["ended_at", "end_reason"])
        record(
            action=AuditAction.BREAK_GLASS,
            actor=SystemActor("workforce-termination"),
            purpose=PurposeOfUse.SECURITY,
            resource_type="BreakGlassGrant",
            resource_id=str(grant.pk),
            reason=reason[:100],
            detail={"event": "cut", "user": user.pk, "break_glass_grant": str(grant.pk)},
        )
    return len(active)


@entry
def break_glass_review_queue(
    *, actor: User, session: SessionContext, status: str = "pending", limit: int = 100
) -> list[BreakGlassView]:
    """Grants for the privacy officer, oldest first, with their justification
    (decrypted for the reviewer, and for the auditor's read-only review
    history, `audit:review:read`; the read is audited, purpose HCOMPL)."""
    if not subject_for(actor).has(Perm.AUDIT_REVIEW_READ):
        _refuse(actor, AuditAction.READ, PurposeOfUse.AUDIT)
    if status not in BreakGlassGrant.Review.values:
        raise InvalidInput({"status": "Not one of the allowed values."})
    grants = list(
        BreakGlassGrant.objects.filter(review=status)
        .select_related("user", "reviewed_by")
        .order_by("started_at" if status == "pending" else "-reviewed_at")[:limit]
    )
    with transaction.atomic():
        views = [_view(g, with_justification=True) for g in grants]
        record(
            action=AuditAction.READ,
            actor=actor,
            purpose=PurposeOfUse.AUDIT,
            resource_type="BreakGlassGrant",
            fields=["break_glass.justification", "break_glass.review_note"] if grants else (),
            detail={"queue": status, "grants": [v.id for v in views]},
            patient_ids=[v.patient_id for v in views],
        )
    return views


@entry
def break_glass_review(
    *, actor: User, session: SessionContext, grant_id: str, justified: bool, note: str = ""
) -> BreakGlassView:
    """Mark one use justified or not. Nobody reviews their own use."""
    if not subject_for(actor).has(Perm.CLINICAL_BREAKGLASS_REVIEW):
        _refuse(actor, AuditAction.UPDATE, PurposeOfUse.AUDIT)
    text = (note or "").strip()
    if len(text) > 1000:
        raise InvalidInput({"note": "Too long."})
    if not justified and len(text) < 5:
        raise InvalidInput({"note": "Say why the use was not justified."})
    gid = parse_id(grant_id)
    with transaction.atomic():
        grant = (
            BreakGlassGrant.objects.select_for_update()
            .select_related("user")
            .filter(Q(pk=gid) & ~Q(user=actor))
            .first()
        )
        if grant is None:
            raise NotFound
        if grant.review != BreakGlassGrant.Review.PENDING:
            raise InvalidInput({"review": "This use has already been reviewed."})
        grant.review = BreakGlassGrant.Review.JUSTIFIED if justified else BreakGlassGrant.Review.UNJUSTIFIED
        grant.reviewed_by, grant.reviewed_at = actor, clock.now()
        grant.review_note = text or None
        grant.save(update_fields=["review", "reviewed_by", "reviewed_at", "review_note"])
        record(
            action=AuditAction.UPDATE,
            actor=actor,
            purpose=PurposeOfUse.AUDIT,
            resource_type="BreakGlassGrant",
            resource_id=str(grant.pk),
            detail={"event": "review", "justified": justified, "break_glass_grant": str(grant.pk)},
        )
        return _view(grant, with_justification=False)
