"""Containment from an alert: lock the suspected account, end every session
it has and revoke its OAuth tokens, in one transaction with one audit event
that names the alert (ADR 0711).

The identity services do the work and record their own events. Locking an
account is an account-management permission that a security officer does not
hold; the containment permission (`detection:alert:contain`) is the grant
here, so the identity services are called on the system's behalf
(`actor=None`) after this module has checked the actor, and the containment
event records who did it and why. The session guard refuses a locked account
and an ended session on the account's very next request; django-oauth-toolkit
refuses a revoked token on its next use."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection.models import Alert
from safeward.detection.triage import TriageError, UnknownObject
from safeward.identity import services as identity_services
from safeward.identity.errors import NotPermitted, SeparationOfDuties
from safeward.identity.models import User, UserSession
from safeward.identity.permissions import Perm


@dataclass(frozen=True)
class ContainmentResult:
    username: str
    locked: bool
    sessions_ended: int
    tokens_revoked: int


@dataclass(frozen=True)
class SubjectState:
    """What the suspected account can still do, shown next to the alert."""

    user_id: int
    username: str
    exists: bool
    is_active: bool
    locked: bool
    active_sessions: int
    live_tokens: int

    @property
    def contained(self) -> bool:
        return self.locked and self.active_sessions == 0 and self.live_tokens == 0


def subject_state(*, alert: Alert) -> SubjectState | None:
    if alert.subject_user_id is None:
        return None
    from oauth2_provider.models import get_access_token_model

    user = User.objects.filter(pk=alert.subject_user_id).first()
    if user is None:
        return SubjectState(alert.subject_user_id, alert.subject_username, False, False, False, 0, 0)
    sessions = UserSession.objects.filter(user=user, ended_at__isnull=True).count()
    tokens = get_access_token_model().objects.filter(user=user).count()
    return SubjectState(
        user_id=int(user.pk),
        username=user.username,
        exists=True,
        is_active=user.is_active,
        locked=user.is_locked,
        active_sessions=sessions,
        live_tokens=tokens,
    )


@transaction.atomic
def alert_contain(
    *,
    actor: User,
    alert_id: int,
    lock: bool = True,
    end_sessions: bool = True,
    revoke_tokens: bool = True,
) -> ContainmentResult:
    if not actor.has_perm(Perm.DETECTION_ALERT_CONTAIN):
        raise NotPermitted(f"{Perm.DETECTION_ALERT_CONTAIN} is required")
    if not (lock or end_sessions or revoke_tokens):
        raise TriageError("Choose at least one containment step.")
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise UnknownObject("No such alert.")
    if alert.subject_user_id is None:
        raise TriageError("This alert names no account to contain.")
    subject = User.objects.select_for_update().filter(pk=alert.subject_user_id).first()
    if subject is None:
        raise TriageError("The account this alert names no longer exists.")
    if subject.pk == actor.pk:
        raise SeparationOfDuties("You cannot contain your own account; ask another officer.")
    reason = f"containment from alert {alert.pk} ({alert.rule})"
    locked = False
    sessions_ended = 0
    if lock and not subject.is_locked:
        before = UserSession.objects.filter(user=subject, ended_at__isnull=True).count()
        identity_services.user_lock(actor=None, user=subject, reason=reason)
        locked = True
        sessions_ended = before  # user_lock ends every session as well
    elif end_sessions or lock:
        sessions_ended = identity_services.user_sessions_end_all(actor=None, user=subject, reason=reason)
    tokens_revoked = 0
    if revoke_tokens:
        tokens_revoked = identity_services.user_tokens_revoke(actor=None, user=subject, reason=reason)
    audit_record(
        action=Action.EXECUTE,
        actor=actor,
        resource_type="Alert",
        resource_id=alert.pk,
        purpose=PurposeOfUse.SECURITY,
        detail={
            "change": "contain",
            "subject_user_id": subject.pk,
            "steps": [
                step
                for step, chosen in (("lock", lock), ("sessions", end_sessions), ("oauth", revoke_tokens))
                if chosen
            ],
            "locked": locked,
            "sessions_ended": sessions_ended,
            "oauth_revoked": tokens_revoked,
        },
    )
    return ContainmentResult(subject.username, locked or subject.is_locked, sessions_ended, tokens_revoked)
