"""The e-mailed one-time code, second factor of a questionnaire link (ADR 1214).

Opening the link e-mails a 6-digit code to the contact address the
questionnaire was sent to. Only a keyed hash of the code is stored (HMAC under
the server's secret key and bound to the link, so a copy of the database alone
does not give the code away by trying the million values); it expires after 10
minutes, and 5 wrong attempts use it up: the page must then ask for a new one.
The right code gives the browser a pass (random, its hash stored) kept in its
session; answering requires it. Every step is audited, never with the code,
the pass or the token."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
import smtplib
from dataclasses import dataclass

from django.core.mail import send_mail
from django.db import transaction
from django.utils.crypto import salted_hmac

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.vendors.models import Questionnaire

RESOURCE = "VendorQuestionnaire"
LINK_ACTOR = "vendor-questionnaire-link"
DIGITS = 6
VALID_MINUTES = 10
MAX_ATTEMPTS = 5
RESEND_SECONDS = 60  # a new code at most once a minute: the link cannot flood the contact's mailbox
_SALT = "safeward.vendors.link_code"


class CodeRefused(Exception):
    """A code step that did not succeed: `status` for the page, `reason` for the audit trail."""

    def __init__(self, status: int, reason: str, message: str, *, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.retry_after = status, reason, message, retry_after


def _new_code() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def _code_hmac(questionnaire: Questionnaire, code: str) -> str:
    return salted_hmac(_SALT, f"{questionnaire.token_sha256}:{code}", algorithm="sha256").hexdigest()


def _pass_hash(pass_token: str) -> str:
    return hashlib.sha256(pass_token.encode()).hexdigest()


def _audit(
    questionnaire: Questionnaire, event: str, *, denied: bool = False, failed: bool = False, **detail: object
) -> None:
    audit_record(
        action=Action.ACCESS_DENIED if denied else Action.UPDATE,
        outcome=Outcome.DENIED if denied else Outcome.ERROR if failed else Outcome.SUCCESS,
        actor_username=LINK_ACTOR,
        resource_type=RESOURCE,
        resource_id=questionnaire.pk,
        detail={"event": event, "vendor_id": questionnaire.vendor_id, **detail},
    )


@dataclass(frozen=True)
class CodeState:
    # "none" (never sent), "unsent" (the mail server refused the last one), "live", "expired",
    # "locked" (attempts used up), "used"
    state: str
    attempts_left: int
    resend_in: int  # seconds until a new code may be sent


def code_state(questionnaire: Questionnaire, now: dt.datetime | None = None) -> CodeState:
    now = now or clock.now()
    resend_in = 0
    if questionnaire.code_sent_at is not None:
        elapsed = (now - questionnaire.code_sent_at).total_seconds()
        resend_in = max(0, math.ceil(RESEND_SECONDS - elapsed))
    left = max(0, MAX_ATTEMPTS - questionnaire.code_attempts)
    if questionnaire.code_sent_at is None:
        state = "none"
    elif left == 0:
        state = "locked"
    elif not questionnaire.code_hmac:
        state = "unsent" if questionnaire.code_expires_at is None else "used"
    elif questionnaire.code_expires_at is None or questionnaire.code_expires_at <= now:
        state = "expired"
    else:
        state = "live"
    return CodeState(state, left, resend_in)


def code_send(*, questionnaire: Questionnaire, outbox: list[str] | None = None) -> Questionnaire:
    """E-mail a new code to the questionnaire's contact (the previous code
    stops working). Refused (429) within a minute of the last one. `outbox`:
    the message body goes there instead of the mail (the demo, which plays
    the vendor, reads its own mail).

    The code is recorded and audited in one transaction and mailed after it
    commits: a slow mail server must not hold the questionnaire's row lock (the
    SMTP timeout is 10 s). A mail the server refuses voids the code, is audited
    and raises CodeRefused (503), so the vendor is told it never left."""
    now = clock.now()
    with transaction.atomic():
        locked = Questionnaire.objects.select_for_update().select_related("vendor").get(pk=questionnaire.pk)
        wait = code_state(locked, now).resend_in
        if wait:
            raise CodeRefused(
                429,
                "resend_too_soon",
                f"A code was sent less than a minute ago. Wait {wait} seconds before asking for another.",
                retry_after=wait,
            )
        code = _new_code()
        locked.code_hmac = _code_hmac(locked, code)
        locked.code_sent_at = now
        locked.code_expires_at = now + dt.timedelta(minutes=VALID_MINUTES)
        locked.code_attempts = 0
        locked.save(update_fields=["code_hmac", "code_sent_at", "code_expires_at", "code_attempts"])
        _audit(locked, "questionnaire_code_sent", expires_at=locked.code_expires_at.isoformat())
    body = (
        f"Dear {locked.contact_name},\n\nyour code to open the security questionnaire is:\n\n"
        f"    {code}\n\nIt works for {VALID_MINUTES} minutes. If you did not open the link, "
        "someone else may have it: tell your contact at the hospital."
    )
    if outbox is not None:
        outbox.append(body)
        return locked
    try:
        send_mail(
            subject=f"Your code for the security questionnaire of {locked.vendor.name}",
            message=body,
            from_email=None,
            recipient_list=[locked.contact_email],
        )
    except (OSError, smtplib.SMTPException) as error:  # refused, unreachable, timed out
        _send_failed(locked, type(error).__name__)
        raise CodeRefused(
            503,
            "send_failed",
            "The code could not be e-mailed: the hospital's mail server did not accept it. "
            f"Try again in {RESEND_SECONDS} seconds; if it keeps failing, tell your contact at the hospital.",
            retry_after=RESEND_SECONDS,
        ) from None
    return locked


def _send_failed(sent: Questionnaire, error: str) -> None:
    """Void the code that never left (unless a newer one replaced it meanwhile) and audit
    the failure: nobody can hold it, and the page must not say a code is on its way."""
    with transaction.atomic():
        voided = Questionnaire.objects.filter(pk=sent.pk, code_hmac=sent.code_hmac).update(
            code_hmac="", code_expires_at=None
        )
        if voided:
            sent.code_hmac, sent.code_expires_at = "", None
        # The exception's class only: an SMTP reply may echo the recipient's address.
        _audit(sent, "questionnaire_code_send_failed", failed=True, error=error, voided=bool(voided))


def code_verify(*, questionnaire: Questionnaire, code: str) -> str:
    """Check a code entered on the link's page. The right one returns a new
    pass for the browser's session (the code is then used up); a wrong one
    counts against the 5 attempts. Refusals are audited and raise CodeRefused."""
    code = "".join((code or "").split())
    now = clock.now()
    refused: CodeRefused | None = None
    with transaction.atomic():
        locked = Questionnaire.objects.select_for_update().get(pk=questionnaire.pk)
        state = code_state(locked, now)
        if state.state in ("none", "unsent"):
            refused = CodeRefused(400, "no_code", "No code has been sent for this link yet. Ask for one.")
        elif state.state in ("locked", "used"):
            refused = CodeRefused(
                400, f"code_{state.state}", "This code no longer works. Ask for a new code to be e-mailed."
            )
        elif state.state == "expired":
            refused = CodeRefused(
                400, "code_expired", "This code has expired (it works 10 minutes). Ask for a new one."
            )
        elif not (len(code) == DIGITS and code.isdigit()) or not hmac.compare_digest(
            locked.code_hmac, _code_hmac(locked, code)
        ):
            locked.code_attempts += 1
            left = MAX_ATTEMPTS - locked.code_attempts
            locked.save(update_fields=["code_attempts"])
            refused = CodeRefused(
                400,
                "wrong_code",
                f"That code is not right. {left} attempt{'s' if left != 1 else ''} left."
                if left
                else "That code is not right, and it no longer works. Ask for a new code to be e-mailed.",
            )
            _audit(locked, "questionnaire_code_failed", denied=True, attempt=locked.code_attempts)
        if refused is not None:
            if refused.reason != "wrong_code":
                _audit(locked, "questionnaire_code_refused", denied=True, reason=refused.reason)
        else:
            pass_token = secrets.token_urlsafe(32)
            locked.code_hmac = ""
            locked.pass_sha256 = _pass_hash(pass_token)
            locked.verified_at = now
            locked.save(update_fields=["code_hmac", "pass_sha256", "verified_at"])
            _audit(locked, "questionnaire_code_verified")
    if refused is not None:
        raise refused
    return pass_token


def pass_valid(questionnaire: Questionnaire, pass_token: str | None) -> bool:
    """Whether a browser's pass is the one the last right code gave."""
    return bool(pass_token and questionnaire.pass_sha256) and hmac.compare_digest(
        questionnaire.pass_sha256, _pass_hash(pass_token or "")
    )
