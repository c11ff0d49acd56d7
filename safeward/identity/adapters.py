"""SafeWard's hooks into django-allauth: no self-signup, SafeWard's own login
throttle, the trusted client address, and a SafeWard session record at login."""

from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.core import context as allauth_context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.identity import services, throttle
from safeward.identity.middleware import SESSION_ID_KEY
from safeward.identity.models import User
from safeward.identity.selectors import user_has_second_factor


def client_address(request: HttpRequest) -> str:
    return getattr(request, "safeward_client_ip", None) or "unknown"


def admit_or_refuse(
    *, username: str, address: str, user: User | None = None, stage: str = ""
) -> throttle.ThrottleDecision:
    """Admit the attempt (counted as a failure until released, ADR 0203), or
    raise the throttle's answer (and audit it) when the account, the address or
    the pair has failed too often; `stage` names a step after the password (the
    second factor at sign-in or at step-up)."""
    decision = throttle.admit(username=username, address=address)
    if decision.allowed:
        return decision
    detail = {"counter": decision.reason, **({"stage": stage} if stage else {})}
    with transaction.atomic():
        audit_record(
            action=Action.LOGIN_THROTTLED,
            outcome=Outcome.DENIED,
            actor=user,
            actor_username=username[:150],
            detail=detail,
        )
    raise ValidationError(
        "Too many failed sign-in attempts. Wait a few minutes and try again, "
        "or ask the service desk to help you."
    )


class AccountAdapter(DefaultAccountAdapter):
    # The attempt pre_authenticate admitted; allauth makes an adapter per call, as for its own limit.
    _admitted = throttle.ThrottleDecision(False)

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts come from administrators and the workforce record, never self-service.
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        return client_address(request)

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        username = str(credentials.get("username", ""))
        self._admitted = admit_or_refuse(username=username, address=client_address(request))

    def authenticate(self, request: HttpRequest, **credentials: Any) -> Any:
        user = super().authenticate(request, **credentials)
        if user is not None and (not user.is_active or user.is_locked):
            # allauth would answer "account inactive" (or, for a locked account,
            # go on to the second-factor step), which confirms that the account
            # exists and that the password was right. A disabled, terminated or
            # locked account gets exactly the answer of a wrong password.
            stage = "locked" if user.is_active else "inactive"
            self._audit_failure(str(credentials.get("username", "")), stage=stage)
            return None
        if user is not None:
            throttle.release(decision=self._admitted)  # the password was right: no failure
        return user

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> Any:
        response = super().pre_login(request, user, **kwargs)
        if response is None and isinstance(user, User) and user_has_second_factor(user=user):
            # The password was right and the second factor comes next: an
            # attacker who stops here (or guesses codes) has proved the password.
            with transaction.atomic():
                audit_record(action=Action.LOGIN_PENDING_MFA, actor=user)
        return response

    def set_password(self, user: Any, password: str) -> None:
        """allauth's password change (signed in) and password reset (the
        e-mailed link) both end here; each is audited like any other."""
        request = allauth_context.request
        actor = getattr(request, "user", None)
        if isinstance(actor, User) and actor.pk == user.pk:
            # By SafeWard's session id: Django cycles the session key at each password change.
            session = getattr(request, "session", None)
            services.user_set_password(
                actor=actor,
                user=user,
                password=password,
                keep_session_id=session.get(SESSION_ID_KEY) if session is not None else None,
            )
        else:
            services.user_password_reset(user=user, password=password)

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        self._audit_failure(str(credentials.get("username", "")), stage="password")

    def _audit_failure(self, username: str, *, stage: str) -> None:
        """A failed attempt: the throttle counted it when it admitted it."""
        with transaction.atomic():
            audit_record(
                action=Action.LOGIN,
                outcome=Outcome.DENIED,
                actor_username=username[:150],
                detail={"stage": stage},
            )

    def login(self, request: HttpRequest, user: Any) -> None:
        super().login(request, user)
        assert isinstance(user, User)
        throttle.record_success(username=user.get_username(), address=client_address(request))
        mfa_used = any(record.get("method") == "mfa" for record in get_authentication_records(request, user))
        zone = getattr(request, "safeward_zone", None)
        with transaction.atomic():
            user_session = services.session_start(
                user=user,
                session_key=request.session.session_key or "",
                client_ip=getattr(request, "safeward_client_ip", None),
                network_zone=zone.name if zone else "",
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                mfa_at_now=mfa_used,
            )
            services.sessions_supersede(user=user, keep=user_session)
        request.session[SESSION_ID_KEY] = str(user_session.pk)
        request.session.save()

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """allauth asks for the password again before any MFA change. For the
        very first factor, right after the password sign-in that started this
        session, that would only ask for the same password twice; later changes
        (and a first enrolment after the re-authentication window) still ask."""
        request = allauth_context.request
        user = getattr(request, "user", None)
        if (
            app == "allauth.mfa"
            and isinstance(user, User)
            and not user_has_second_factor(user=user)
            and _password_login_at(request, user) > time.time() - account_settings.REAUTHENTICATION_TIMEOUT
        ):
            return False
        return bool(super().is_reauthentication_required(app=app, **kwargs))

    def logout(self, request: HttpRequest) -> None:
        user = request.user
        session_id = request.session.get(SESSION_ID_KEY)
        if isinstance(user, User) and session_id:
            from safeward.identity.models import UserSession

            user_session = UserSession.objects.filter(pk=session_id, user=user).first()
            if user_session is not None:
                services.session_end(actor=user, user_session=user_session, reason="logout")
        super().logout(request)


def _password_login_at(request: HttpRequest, user: User) -> float:
    records = get_authentication_records(request, user)
    times = [float(record["at"]) for record in records if record.get("method") == "password"]
    return max(times, default=0.0)


class MFAAdapter(DefaultMFAAdapter):
    def get_totp_issuer(self) -> str:
        return "SafeWard"

    # TOTP secrets and recovery-code seeds are stored sealed under the data
    # keys (safeward.crypto.secrets), never in plaintext; a stored value that
    # is not a SafeWard token fails loudly instead of being used as is.
    def encrypt(self, text: str) -> str:
        from safeward.crypto.secrets import encrypt_secret

        return encrypt_secret(text, purpose="mfa")

    def decrypt(self, encrypted_text: str) -> str:
        from safeward.crypto.secrets import decrypt_secret

        return decrypt_secret(encrypted_text, purpose="mfa")

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Every account keeps a second factor: the last authenticator app or
        security key cannot be removed (add another one first)."""
        if authenticator.type not in {Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN}:
            return bool(super().can_delete_authenticator(authenticator))
        others = Authenticator.objects.filter(
            user_id=authenticator.user_id, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
        ).exclude(pk=authenticator.pk)
        return bool(others.exists())
