"""What people do with alerts and access reviews: assign, start triage,
dismiss with a reason, confirm, and decide an unexplained-access review.

Each service takes the acting user, locks the row, refuses a stale form (the
alert changed since the person loaded it) or a transition that no longer
applies, changes the row and records its audit event in one transaction.
Free text the person types (a dismissal reason, a review comment) stays on
the row: audit rows carry codes and ids only, never text that might hold
patient data."""

from __future__ import annotations

from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection.models import AccessReview, Alert
from safeward.identity.errors import NotPermitted
from safeward.identity.models import User
from safeward.identity.permissions import Perm

OPEN_STATUSES = (Alert.Status.NEW, Alert.Status.TRIAGE)
MIN_REASON_CHARS = 10
MAX_REASON_CHARS = 500


class TriageError(Exception):
    """A refusal the person can act on; `status` is the HTTP status a view
    answers with (400 bad input, 404 unknown, 409 stale or no longer valid)."""

    status = 400


class UnknownObject(TriageError):
    status = 404


class StaleAlert(TriageError):
    status = 409


class InvalidTransition(TriageError):
    status = 409


def alert_version(alert: Alert) -> str:
    """The token a form carries to notice that the alert changed meanwhile
    (a triage action by someone else, or a repeat grouped into it)."""
    return f"{alert.updated_at.timestamp():.6f}-{alert.occurrences}"


def _require(actor: User, perm: Perm) -> None:
    if not actor.has_perm(perm):
        raise NotPermitted(f"{perm} is required")


def _locked_alert(alert_id: int, version: str) -> Alert:
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise UnknownObject("No such alert.")
    if version != alert_version(alert):
        raise StaleAlert(
            "This alert changed after you opened it (someone else acted on it, or new events were "
            "grouped into it). Nothing was saved; review it again and repeat your action."
        )
    return alert


def _record(actor: User, alert: Alert, change: str, before: str, **detail: str | int | bool | None) -> None:
    audit_record(
        action=Action.UPDATE,
        actor=actor,
        resource_type="Alert",
        resource_id=alert.pk,
        purpose=PurposeOfUse.SECURITY,
        detail={"change": change, "status_before": before, "status_after": alert.status, **detail},
    )


def _clean_reason(reason: str, *, required: bool) -> str:
    text = " ".join((reason or "").split())
    if required and len(text) < MIN_REASON_CHARS:
        raise TriageError(f"Give a reason of at least {MIN_REASON_CHARS} characters.")
    if len(text) > MAX_REASON_CHARS:
        raise TriageError(f"The reason is limited to {MAX_REASON_CHARS} characters.")
    return text


def triage_candidates() -> list[User]:
    """Active, unlocked accounts that may triage alerts: who an alert can be
    assigned to. Narrowed in the database to holders of a role that grants
    the permission, then checked one by one (permission filters, e.g. the
    workforce state, may still take it away)."""
    from safeward.identity.models import Role, RoleAssignment

    roles = [role.pk for role in Role.objects.all() if Perm.DETECTION_ALERT_TRIAGE.value in role.permissions]
    users = (
        User.objects.filter(
            is_active=True,
            locked_at__isnull=True,
            role_assignments__role__in=roles,
            role_assignments__status=RoleAssignment.Status.ACTIVE,
        )
        .distinct()
        .order_by("username")
    )
    return [user for user in users[:200] if user.has_perm(Perm.DETECTION_ALERT_TRIAGE)]


@transaction.atomic
def alert_assign(*, actor: User, alert_id: int, assignee_id: int, version: str) -> Alert:
    _require(actor, Perm.DETECTION_ALERT_TRIAGE)
    assignee = User.objects.filter(pk=assignee_id).first()
    if assignee is None or not assignee.is_active or assignee.is_locked:
        raise TriageError("That person does not exist or cannot sign in.")
    if not assignee.has_perm(Perm.DETECTION_ALERT_TRIAGE):
        raise TriageError(f"{assignee.username} may not triage alerts.")
    alert = _locked_alert(alert_id, version)
    if alert.status not in OPEN_STATUSES:
        raise InvalidTransition(f"The alert is already {alert.get_status_display().lower()}.")
    before_assignee = alert.assignee_id
    alert.assignee_id = assignee.pk
    alert.updated_at = clock.now()
    alert.save(update_fields=["assignee_id", "updated_at"])
    _record(actor, alert, "assign", alert.status, assignee_before=before_assignee, assignee_after=assignee.pk)
    return alert


@transaction.atomic
def alert_triage_start(*, actor: User, alert_id: int, version: str) -> Alert:
    """New -> in triage; the alert is assigned to the actor unless it already
    has an assignee."""
    _require(actor, Perm.DETECTION_ALERT_TRIAGE)
    alert = _locked_alert(alert_id, version)
    if alert.status != Alert.Status.NEW:
        raise InvalidTransition(f"The alert is {alert.get_status_display().lower()}, not new.")
    before = alert.status
    alert.status = Alert.Status.TRIAGE
    if alert.assignee_id is None:
        alert.assignee_id = actor.pk
    alert.updated_at = clock.now()
    alert.triaged_at = alert.triaged_at or alert.updated_at
    alert.save(update_fields=["status", "assignee_id", "updated_at", "triaged_at"])
    _record(actor, alert, "triage_start", before, assignee_after=alert.assignee_id)
    return alert


def _resolve(*, actor: User, alert_id: int, version: str, status: str, reason: str, required: bool) -> Alert:
    _require(actor, Perm.DETECTION_ALERT_TRIAGE)
    text = _clean_reason(reason, required=required)
    alert = _locked_alert(alert_id, version)
    if alert.status not in OPEN_STATUSES:
        raise InvalidTransition(f"The alert is already {alert.get_status_display().lower()}.")
    before = alert.status
    now = clock.now()
    alert.status = status
    alert.resolution_reason = text
    alert.resolved_at = now
    alert.resolved_by_id = actor.pk
    alert.updated_at = now
    alert.triaged_at = alert.triaged_at or now
    if alert.assignee_id is None:
        alert.assignee_id = actor.pk
    alert.save(
        update_fields=[
            "status",
            "triaged_at",
            "resolution_reason",
            "resolved_at",
            "resolved_by_id",
            "assignee_id",
            "updated_at",
        ]
    )
    _record(actor, alert, status, before, reason_given=bool(text))
    return alert


@transaction.atomic
def alert_dismiss(*, actor: User, alert_id: int, version: str, reason: str) -> Alert:
    """A false positive or an explained access: the reason is mandatory."""
    return _resolve(
        actor=actor,
        alert_id=alert_id,
        version=version,
        status=Alert.Status.DISMISSED,
        reason=reason,
        required=True,
    )


@transaction.atomic
def alert_confirm(*, actor: User, alert_id: int, version: str, reason: str = "") -> Alert:
    """A true positive. Containment and an incident usually follow."""
    return _resolve(
        actor=actor,
        alert_id=alert_id,
        version=version,
        status=Alert.Status.CONFIRMED,
        reason=reason,
        required=False,
    )


@transaction.atomic
def access_review_decide(*, actor: User, review_id: int, decision: str, comment: str) -> AccessReview:
    """Mark an unexplained access appropriate or inappropriate, with a
    mandatory comment. A decided review cannot be decided again."""
    _require(actor, Perm.DETECTION_ACCESS_REVIEW)
    if decision not in (AccessReview.Status.APPROPRIATE, AccessReview.Status.INAPPROPRIATE):
        raise TriageError("Choose appropriate or inappropriate.")
    text = _clean_reason(comment, required=True)
    review = AccessReview.objects.select_for_update().filter(pk=review_id).first()
    if review is None:
        raise UnknownObject("No such access review.")
    if review.status != AccessReview.Status.OPEN:
        raise InvalidTransition(f"This access was already reviewed ({review.get_status_display().lower()}).")
    if review.user_id == actor.pk:
        raise NotPermitted("You cannot review your own access.")
    review.status = decision
    review.comment = text
    review.reviewed_by_id = actor.pk
    review.reviewed_at = clock.now()
    review.save(update_fields=["status", "comment", "reviewed_by_id", "reviewed_at"])
    audit_record(
        action=Action.UPDATE,
        actor=actor,
        resource_type="AccessReview",
        resource_id=review.pk,
        purpose=PurposeOfUse.AUDIT,
        detail={"decision": decision, "event_id": review.event_id, "user_id": review.user_id},
    )
    return review
