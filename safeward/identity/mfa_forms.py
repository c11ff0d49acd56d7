"""allauth's second-factor code forms behind SafeWard's login throttle.

allauth limits wrong codes per user (5 per 5 minutes), so anyone who knows a
password can block the real user's second factor from every client. These
forms use the password step's counters instead (`identity.throttle`, per
account + address, per address, per account from unknown addresses), so a
code-guessing attacker is stopped at their own address while the user still
signs in from theirs (ADR 0008)."""

from __future__ import annotations

from typing import Any

from allauth.core import context as allauth_context
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm

from safeward.identity import throttle
from safeward.identity.adapters import admit_or_refuse, client_address


def _throttled_clean_code(form: Any, parent: Any, stage: str) -> str:
    username = form.user.get_username()
    address = client_address(allauth_context.request)
    admitted = admit_or_refuse(username=username, address=address, user=form.user, stage=stage)
    # A wrong code (ValidationError) keeps the counts the attempt was admitted with.
    code = str(parent.clean_code(form))
    throttle.release(decision=admitted)
    return code


class ThrottledAuthenticateForm(AuthenticateForm):  # type: ignore[misc]  # allauth.mfa is untyped
    """The second factor at sign-in."""

    def clean_code(self) -> str:
        return _throttled_clean_code(self, AuthenticateForm, "mfa")


class ThrottledReauthenticateForm(ReauthenticateForm):  # type: ignore[misc]  # allauth.mfa is untyped
    """The second factor at step-up."""

    def clean_code(self) -> str:
        return _throttled_clean_code(self, ReauthenticateForm, "step_up")
