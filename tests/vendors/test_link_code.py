"""The e-mailed one-time code, second factor of the questionnaire link (ADR
1214): opening the link mails a 6-digit code to the contact; only a keyed hash
is stored; it expires after 10 minutes; 5 wrong attempts use it up until a new
code is asked for; the pass it gives is the browser's own; every step is
audited without the code, the pass or the token."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.vendors import link_code, questionnaires
from safeward.vendors.models import Questionnaire
from tests.vendors.conftest import make_agreement, make_vendor
from tests.vendors.test_questionnaires import _answers, _send, _token

pytestmark = pytest.mark.django_db


CODES = ["123456", "654321", "000042"]


@pytest.fixture(autouse=True)
def _known_codes(monkeypatch):
    """The codes in the order they are drawn, so a new code always differs from the last."""
    drawn = iter(CODES)
    monkeypatch.setattr(link_code, "_new_code", lambda: next(drawn))


@pytest.fixture
def token(officer, frozen_clock):
    vendor = make_vendor(officer)
    make_agreement(officer, vendor)
    token = _token(_send(officer, vendor))
    mail.outbox.clear()  # the link's own message
    return token


def _url(token: str) -> str:
    return f"/vendors/answer/{token}/"


def _code() -> str:
    (code,) = re.findall(r"\b\d{6}\b", str(mail.outbox[-1].body))
    return code


def _events() -> list[str]:
    return [
        e.detail["event"]
        for e in AuditEvent.objects.filter(resource_type=questionnaires.RESOURCE).order_by("pk")
        if e.detail["event"] != "questionnaire_sent"
    ]


def test_opening_the_link_mails_a_code_and_stores_only_its_keyed_hash(token):
    page = Client()
    response = page.get(_url(token))
    assert response.status_code == 200
    assert b"d\xe2\x80\xa6@vendor.example" in response.content  # the address, masked
    assert b"Submit the answers" not in response.content
    (message,) = mail.outbox
    assert message.to == ["dana@vendor.example"]
    code = _code()
    assert code == CODES[0]
    stored = Questionnaire.objects.get()
    assert code not in str(
        {k: v for k, v in Questionnaire.objects.values().get().items() if k != "code_hmac"}
    )
    assert len(stored.code_hmac) == 64  # HMAC-SHA-256, hex
    assert stored.code_expires_at - stored.code_sent_at == dt.timedelta(minutes=10)
    # Reopening within the code's life sends no second message.
    assert page.get(_url(token)).status_code == 200
    assert len(mail.outbox) == 1
    response = page.post(_url(token), {"step": "code", "code": code})
    assert response.status_code == 302
    assert b"Submit the answers" in page.get(_url(token)).content
    assert page.post(_url(token), _answers(3)).status_code == 200
    assert Questionnaire.objects.get().status == "answered"
    trail = str(list(AuditEvent.objects.values("detail", "actor_username", "resource_id")))
    assert code not in trail
    assert token not in trail
    assert _events() == ["questionnaire_code_sent", "questionnaire_code_verified", "questionnaire_answered"]


def test_answers_without_the_code_store_nothing(token):
    page = Client()
    page.get(_url(token))
    response = page.post(_url(token), _answers(3))
    assert response.status_code == 403
    assert b"Enter the code" in response.content
    assert Questionnaire.objects.get().status == "sent"
    with pytest.raises(questionnaires.LinkRefused) as refused:
        questionnaires.questionnaire_answer(token=token, pass_token="forged", data=_answers())
    assert refused.value.reason == "not_verified"
    assert Questionnaire.objects.get().answers == {}


def test_the_pass_belongs_to_the_browser_that_entered_the_code(token):
    first = Client()
    first.get(_url(token))
    code = _code()
    assert first.post(_url(token), {"step": "code", "code": code}).status_code == 302
    other = Client()  # the same link in another browser: its own code step
    response = other.get(_url(token))
    assert b"Submit the answers" not in response.content
    assert other.post(_url(token), _answers()).status_code == 403
    assert len(mail.outbox) == 1  # a code was just sent: the other browser asks for a new one itself
    # The code was used up by the first browser.
    response = other.post(_url(token), {"step": "code", "code": code})
    assert response.status_code == 400
    assert b"no longer works" in response.content
    assert Questionnaire.objects.get().status == "sent"


def test_five_wrong_codes_use_the_code_up_until_a_new_one_is_asked_for(token, frozen_clock):
    page = Client()
    page.get(_url(token))
    for attempt in range(1, 6):
        response = page.post(_url(token), {"step": "code", "code": "999999"})
        assert response.status_code == 400
        assert Questionnaire.objects.get().code_attempts == attempt
    assert b"no longer works" in response.content
    # The right code no longer opens it, and reopening the page sends none.
    response = page.post(_url(token), {"step": "code", "code": CODES[0]})
    assert response.status_code == 400
    frozen_clock._now += dt.timedelta(minutes=5)
    assert b"E-mail a new code" in page.get(_url(token)).content
    assert len(mail.outbox) == 1
    assert page.post(_url(token), {"step": "resend"}).status_code == 200
    assert _code() == CODES[1]
    assert Questionnaire.objects.get().code_attempts == 0
    assert page.post(_url(token), {"step": "code", "code": CODES[0]}).status_code == 400
    assert page.post(_url(token), {"step": "code", "code": CODES[1]}).status_code == 302
    events = _events()
    assert events.count("questionnaire_code_failed") == 6
    assert events.count("questionnaire_code_refused") == 1  # the right code after the five
    assert events[-1] == "questionnaire_code_verified"
    attempts = [
        e.detail["attempt"]
        for e in AuditEvent.objects.filter(resource_type=questionnaires.RESOURCE).order_by("pk")
        if e.detail["event"] == "questionnaire_code_failed"
    ]
    assert attempts == [1, 2, 3, 4, 5, 1]


def test_the_code_expires_after_ten_minutes(token, frozen_clock):
    page = Client()
    page.get(_url(token))
    code = _code()
    frozen_clock._now += dt.timedelta(minutes=10)
    response = page.post(_url(token), {"step": "code", "code": code})
    assert response.status_code == 400
    assert b"expired" in response.content
    (refusal,) = AuditEvent.objects.filter(action="access_denied", resource_type=questionnaires.RESOURCE)
    assert refusal.detail == {
        "event": "questionnaire_code_refused",
        "vendor_id": Questionnaire.objects.get().vendor_id,
        "reason": "code_expired",
    }
    # Opening the link again mails a fresh code.
    page.get(_url(token))
    assert len(mail.outbox) == 2
    assert page.post(_url(token), {"step": "code", "code": _code()}).status_code == 302


def test_a_new_code_at_most_once_a_minute(token, frozen_clock):
    page = Client()
    page.get(_url(token))
    response = page.post(_url(token), {"step": "resend"})
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert len(mail.outbox) == 1
    frozen_clock._now += dt.timedelta(seconds=45)
    assert page.post(_url(token), {"step": "resend"})["Retry-After"] == "15"
    frozen_clock._now += dt.timedelta(seconds=15)
    assert page.post(_url(token), {"step": "resend"}).status_code == 200
    assert len(mail.outbox) == 2
    # The previous code stops working.
    assert page.post(_url(token), {"step": "code", "code": CODES[0]}).status_code == 400
    assert page.post(_url(token), {"step": "code", "code": CODES[1]}).status_code == 302


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused_and_counted(token, code):
    page = Client()
    page.get(_url(token))
    response = page.post(_url(token), {"step": "code", "code": code})
    assert response.status_code == 400
    assert Questionnaire.objects.get().code_attempts == 1


def test_no_code_step_on_a_used_or_expired_link(token, frozen_clock):
    frozen_clock._now += dt.timedelta(days=15)
    response = Client().post(_url(token), {"step": "resend"})
    assert response.status_code == 410
    assert mail.outbox == []


def test_the_code_state(token, frozen_clock):
    questionnaire = Questionnaire.objects.get()
    assert link_code.code_state(questionnaire).state == "none"
    link_code.code_send(questionnaire=questionnaire, outbox=[])
    questionnaire.refresh_from_db()
    assert link_code.code_state(questionnaire) == link_code.CodeState("live", 5, 60)
    frozen_clock._now += dt.timedelta(minutes=10)
    assert link_code.code_state(questionnaire) == link_code.CodeState("expired", 5, 0)
