"""The visitor desk: one short form, badge page, sign out; overstays alert;
visits to flagged patients listed for the privacy officer."""

from __future__ import annotations

import pytest

from safeward.detection.models import Alert
from safeward.facilities import services
from safeward.facilities.models import Visitor
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def test_sign_in_prints_a_badge_and_signs_out(client, make_user):
    desk = make_user("security_desk")
    sign_in(client, desk)
    page = client.get("/facilities/visitors/").content.decode()
    assert "autofocus" in page
    response = client.post(
        "/facilities/visitors/",
        {
            "name": "Ada Guest",
            "host": "Dr Chen",
            "purpose": "Meeting",
            "badge_number": "V-12",
            "expected_minutes": 120,
        },
    )
    visitor = Visitor.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/facilities/visitors/{visitor.pk}/badge/"
    badge = client.get(response["Location"]).content.decode()
    assert "Ada Guest" in badge
    assert "V-12" in badge
    assert "Print badge" in badge
    # The badge is out: the same number cannot be handed out twice.
    again = client.post(
        "/facilities/visitors/",
        {"name": "B", "host": "C", "purpose": "D", "badge_number": "V-12", "expected_minutes": 60},
    )
    assert again.status_code == 400
    assert "still out" in again.content.decode()
    client.post(f"/facilities/visitors/{visitor.pk}/sign-out/")
    visitor.refresh_from_db()
    assert visitor.signed_out_at is not None


def test_an_empty_form_is_a_clear_400(client, make_user):
    sign_in(client, make_user("security_desk"))
    response = client.post("/facilities/visitors/", {})
    assert response.status_code == 400
    assert not Visitor.objects.exists()


def test_overstays_raise_an_alert_and_signed_out_visitors_do_not(frozen_clock, make_user):
    desk = make_user("security_desk")
    late = services.visitor_sign_in(
        actor=desk, name="A", host="H", purpose="P", badge_number="V-1", expected_minutes=60
    )
    gone = services.visitor_sign_in(
        actor=desk, name="B", host="H", purpose="P", badge_number="V-2", expected_minutes=60
    )
    services.visitor_sign_out(actor=desk, visitor_id=gone.pk)
    frozen_clock.advance(minutes=80)  # inside the 30-minute grace
    assert services.visitors_overstay_sweep() == 0
    frozen_clock.advance(minutes=20)
    assert services.visitors_overstay_sweep() == 1
    alert = Alert.objects.get()
    assert alert.rule == "visitor_overstay"
    assert alert.detail["visitor_id"] == late.pk


def test_flagged_visits_are_listed_for_the_privacy_officer(client, make_user):
    desk = make_user("security_desk")
    services.visitor_sign_in(
        actor=desk,
        name="Press",
        host="patient visit",
        purpose="visit",
        badge_number="V-3",
        flagged_patient_visit=True,
    )
    services.visitor_sign_in(
        actor=desk, name="Family", host="patient visit", purpose="visit", badge_number="V-4"
    )
    sign_in(client, make_user("privacy_officer"))
    page = client.get("/facilities/visitors/flagged/").content.decode()
    assert "Press" in page
    assert "Family" not in page
