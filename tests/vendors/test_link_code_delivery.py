"""The questionnaire code is mailed after its transaction commits (ADR 1214): a
slow mail server must not hold the questionnaire's row lock, and a mail server
that refuses neither loses the record nor leaves the vendor waiting for a code
that never left."""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.vendors import link_code, questionnaires
from safeward.vendors.models import Questionnaire
from tests.vendors.conftest import make_agreement, make_vendor
from tests.vendors.test_questionnaires import _send, _token

SEEN: list[dict[str, object]] = []


class WitnessBackend(LocmemBackend):
    """Delivers to mail.outbox and notes what the database looked like at that moment."""

    def send_messages(self, messages):
        SEEN.append(
            {
                "in_transaction": transaction.get_connection().in_atomic_block,
                "events": list(
                    AuditEvent.objects.filter(resource_type=questionnaires.RESOURCE).values_list(
                        "detail__event", flat=True
                    )
                ),
            }
        )
        return super().send_messages(messages)


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"dana@vendor.example": (550, b"mailbox unavailable")})


@pytest.fixture
def token(officer, frozen_clock):
    vendor = make_vendor(officer)
    make_agreement(officer, vendor)
    token = _token(_send(officer, vendor))
    mail.outbox.clear()
    return token


def _events() -> list[tuple[str, str]]:
    return [
        (e.detail["event"], e.outcome)
        for e in AuditEvent.objects.filter(resource_type=questionnaires.RESOURCE).order_by("pk")
        if e.detail["event"] != "questionnaire_sent"
    ]


@pytest.mark.django_db(transaction=True)
def test_the_code_is_mailed_after_the_transaction_commits(settings, token):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.WitnessBackend", "OPTIONS": {}}}
    SEEN.clear()
    assert Client().get(f"/vendors/answer/{token}/").status_code == 200
    (seen,) = SEEN
    # No transaction open while the mail server is talked to: the row lock is released...
    assert seen["in_transaction"] is False
    # ...and the code's audit event was committed before the mail left.
    assert "questionnaire_code_sent" in seen["events"]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_refused_mail_is_recorded_and_the_vendor_told(settings, token, frozen_clock):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusingBackend", "OPTIONS": {}}}
    page = Client()
    response = page.get(f"/vendors/answer/{token}/")
    assert response.status_code == 503
    assert b"could not be e-mailed" in response.content
    assert response["Retry-After"] == str(link_code.RESEND_SECONDS)
    # The record stays: the code was issued, then voided because it never left.
    assert _events() == [("questionnaire_code_sent", "success"), ("questionnaire_code_send_failed", "error")]
    failed = AuditEvent.objects.get(detail__event="questionnaire_code_send_failed")
    assert failed.detail["error"] == "SMTPRecipientsRefused"
    assert "dana" not in str(failed.detail)  # no address from the SMTP reply
    questionnaire = Questionnaire.objects.get()
    assert questionnaire.code_sent_at is not None
    assert questionnaire.code_hmac == ""
    assert link_code.code_state(questionnaire).state == "unsent"
    # No code form for a code that never left; entering one is refused as "none sent".
    assert b'name="code"' not in response.content
    with pytest.raises(link_code.CodeRefused) as refused:
        link_code.code_verify(questionnaire=questionnaire, code="123456")
    assert refused.value.reason == "no_code"
    # Once the mail server takes mail again, the next opening after the minute sends a code.
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend", "OPTIONS": {}}
    }
    frozen_clock.advance(seconds=link_code.RESEND_SECONDS)
    assert page.get(f"/vendors/answer/{token}/").status_code == 200
    assert len(mail.outbox) == 1
    assert link_code.code_state(Questionnaire.objects.get()).state == "live"
