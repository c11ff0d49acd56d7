"""The rate limit of the questionnaire link page (ADR 1215): per link (its
token's hash) and per client address, 429 with Retry-After until the window
ends, one audit event per counter and window however many requests."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.vendors import questionnaires
from safeward.vendors.models import Questionnaire
from tests.vendors.conftest import make_agreement, make_vendor
from tests.vendors.test_questionnaires import _send, _token

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    settings.SAFEWARD_VENDOR_LINK_WINDOW_SECONDS = 600
    settings.SAFEWARD_VENDOR_LINK_PER_LINK = 3
    settings.SAFEWARD_VENDOR_LINK_PER_ADDRESS = 5
    return settings


@pytest.fixture
def token(officer, frozen_clock):
    vendor = make_vendor(officer)
    make_agreement(officer, vendor)
    return _token(_send(officer, vendor))


def _throttled() -> list[dict]:
    return [
        e.detail | {"resource_id": e.resource_id}
        for e in AuditEvent.objects.filter(resource_type=questionnaires.RESOURCE, action="access_denied")
        if e.detail["event"] == "questionnaire_link_throttled"
    ]


def test_one_link_is_limited_and_the_refusal_audited_once_per_window(limits, token, frozen_clock):
    # 09:00:00 on the frozen clock: 600 s windows start on the hour.
    page = Client()
    for _ in range(3):
        assert page.get(f"/vendors/answer/{token}/").status_code == 200
    frozen_clock._now += dt.timedelta(seconds=100)
    for _ in range(4):
        response = page.get(f"/vendors/answer/{token}/")
        assert response.status_code == 429
        assert response["Retry-After"] == "500"
        assert b"Too many requests" in response.content
    assert page.post(f"/vendors/answer/{token}/", {"step": "code", "code": "123456"}).status_code == 429
    assert Questionnaire.objects.get().code_attempts == 0  # a refused request does nothing
    (event,) = _throttled()
    assert event == {
        "event": "questionnaire_link_throttled",
        "counter": "link",
        "limit": 3,
        "window_seconds": 600,
        "resource_id": str(Questionnaire.objects.get().pk),
    }
    assert token not in str(event)
    # The next window opens the link again; a new refusal there is a new event.
    frozen_clock._now += dt.timedelta(seconds=500)
    assert page.get(f"/vendors/answer/{token}/").status_code == 200
    for _ in range(3):
        page.get(f"/vendors/answer/{token}/")
    assert len(_throttled()) == 2


def test_one_address_is_limited_across_links(limits, token):
    for attempt in range(5):
        assert Client().get(f"/vendors/answer/{'x' * 40}{attempt}/").status_code == 404
    response = Client().get(f"/vendors/answer/{token}/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 600
    (event,) = _throttled()
    assert event["counter"] == "address"
    # Another address still reaches the link.
    assert Client(REMOTE_ADDR="203.0.113.9").get(f"/vendors/answer/{token}/").status_code == 200


def test_the_limits_leave_a_vendor_room_to_answer(settings, token):
    """The defaults: opening, a code, a few corrections and the answers fit."""
    assert settings.SAFEWARD_VENDOR_LINK_PER_LINK >= 20
    page = Client()
    for _ in range(settings.SAFEWARD_VENDOR_LINK_PER_LINK):
        assert page.get(f"/vendors/answer/{token}/").status_code == 200
    assert page.get(f"/vendors/answer/{token}/").status_code == 429
