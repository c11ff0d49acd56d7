"""allauth reports MFA events only through signals; these receivers turn them
into audit events and keep the session's MFA time for step-up."""

from __future__ import annotations

from typing import Any

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.identity.middleware import SESSION_ID_KEY
from safeward.identity.models import User, UserSession


def _session_id(request: Any) -> str | None:
    session = getattr(request, "session", None)
    return session.get(SESSION_ID_KEY) if session is not None else None


def on_authenticator_used(sender: Any, request: Any, user: User, authenticator: Any, **kwargs: Any) -> None:
    reauthenticated = bool(kwargs.get("reauthenticated"))
    with transaction.atomic():
        if reauthenticated:
            session_id = _session_id(request)
            if session_id:
                UserSession.objects.filter(pk=session_id, user=user).update(mfa_at=clock.now())
        audit_record(
            action=Action.STEP_UP if reauthenticated else Action.MFA_CHALLENGE,
            actor=user,
            detail={"factor": authenticator.type},
        )


def on_authentication_failed(
    sender: Any, request: Any, user: User, authenticator: Any, **kwargs: Any
) -> None:
    with transaction.atomic():
        audit_record(
            action=Action.STEP_UP if kwargs.get("reauthentication") else Action.MFA_CHALLENGE,
            outcome=Outcome.DENIED,
            actor=user,
            detail={"factor": authenticator.type},
        )


def on_authenticator_added(sender: Any, request: Any, user: User, authenticator: Any, **kwargs: Any) -> None:
    """Activating an authenticator app (with a valid code) or registering a
    security key proves the person holds that factor, so the session counts as
    having passed MFA now: the recovery codes shown next need no extra
    prompt, and step-up is fresh."""
    proved = authenticator.type in {Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN}
    with transaction.atomic():
        if proved:
            session_id = _session_id(request)
            if session_id:
                UserSession.objects.filter(pk=session_id, user=user).update(mfa_at=clock.now())
        audit_record(action=Action.MFA_ENROL, actor=user, detail={"factor": authenticator.type})
    if proved and request is not None:
        record_authentication(
            request, user, "mfa", id=authenticator.pk, type=authenticator.type, reauthenticated=True
        )


def on_authenticator_removed(
    sender: Any, request: Any, user: User, authenticator: Any, **kwargs: Any
) -> None:
    with transaction.atomic():
        audit_record(action=Action.MFA_REMOVE, actor=user, detail={"factor": authenticator.type})


def connect() -> None:
    mfa_signals.authenticator_used.connect(on_authenticator_used, dispatch_uid="sw_mfa_used")
    mfa_signals.authentication_failed.connect(on_authentication_failed, dispatch_uid="sw_mfa_failed")
    mfa_signals.authenticator_added.connect(on_authenticator_added, dispatch_uid="sw_mfa_added")
    mfa_signals.authenticator_removed.connect(on_authenticator_removed, dispatch_uid="sw_mfa_removed")
