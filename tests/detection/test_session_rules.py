"""Shared accounts (issue 11, item 9): concurrent sessions of one account from
different clients, and a sign-in from an address the account never used.
Each rule has a firing test and a legitimate look-alike that must stay quiet."""

from __future__ import annotations

import pytest

from safeward.audit import context
from safeward.identity import services as identity_services
from safeward.identity.models import UserSession
from tests.detection.conftest import alerts, run

pytestmark = pytest.mark.django_db

WARD_PC = ("10.20.1.15", "ward", "Firefox/140 (ward PC)")
OTHER_WARD_PC = ("10.20.1.16", "ward", "Firefox/140 (ward PC)")
HOME = ("198.51.100.23", "outside", "Chrome/142 (home)")
CAFE = ("203.0.113.77", "outside", "Chrome/142 (phone)")
ELSEWHERE = ("192.0.2.40", "outside", "curl/8")


def sign_in(user, client: tuple[str, str, str]) -> UserSession:
    """A completed sign-in as the login flow records it: the session row and
    its `login` event, with the client's address, zone and user agent."""
    ip, zone, agent = client
    token = context.bind(
        context.AuditContext(
            client_ip=ip, network_zone=zone, user_agent=agent, request_id="req", source="web"
        )
    )
    try:
        return identity_services.session_start(
            user=user, session_key="k", client_ip=ip, network_zone=zone, user_agent=agent, mfa_at_now=True
        )
    finally:
        context.reset(token)


class TestConcurrentSessions:
    def test_two_clients_at_once_raise_an_alert(self, at, make_user):
        user = make_user("nurse")
        at(minutes=0)
        sign_in(user, WARD_PC)
        at(minutes=5)
        sign_in(user, CAFE)
        run()
        (alert,) = alerts("concurrent_sessions")
        assert alert.subject_user_id == user.pk
        assert alert.detail == {"sessions": 2, "clients": 2, "addresses": 2, "user_agents": 2, "zones": 2}

    def test_three_clients_grow_one_alert(self, at, make_user):
        user = make_user("nurse")
        at(minutes=0)
        sign_in(user, WARD_PC)
        at(minutes=1)
        sign_in(user, HOME)
        run()
        at(minutes=2)
        sign_in(user, ELSEWHERE)
        run()
        (alert,) = alerts("concurrent_sessions")
        assert alert.detail["clients"] == 3

    def test_signing_in_again_at_the_same_workstation_is_not_sharing(self, at, make_user):
        """The browser was closed without signing out: the old session is
        still open on the server when the user signs in again there."""
        user = make_user("nurse")
        at(minutes=0)
        sign_in(user, WARD_PC)
        at(minutes=10)
        sign_in(user, WARD_PC)
        run()
        assert alerts("concurrent_sessions") == []

    def test_a_session_ended_or_idle_before_the_next_sign_in_does_not_count(self, at, make_user):
        user = make_user("nurse")
        at(minutes=0)
        first = sign_in(user, WARD_PC)
        at(minutes=5)
        identity_services.session_end(actor=user, user_session=first, reason="logout")
        at(minutes=6)  # the first one would still be open (idle 6 of 15 minutes) had it not ended
        sign_in(user, OTHER_WARD_PC)
        at(minutes=60)  # the second one is idle (15 minutes) but nobody closed it yet
        sign_in(user, HOME)
        run()
        assert alerts("concurrent_sessions") == []


class TestNewAddress:
    def history(self, at, user, client, days=(0, 1, 2)):
        for day in days:
            at(days=day)
            sign_in(user, client)

    def test_a_new_address_outside_the_zones_alerts_even_after_a_new_zone_alert(self, at, make_user):
        user = make_user("physician")
        self.history(at, user, WARD_PC)
        at(days=3)
        sign_in(user, HOME)
        run()
        assert len(alerts("new_zone_login")) == 1
        (first,) = alerts("new_address_login")
        assert first.client_ip == HOME[0]
        at(days=4)
        sign_in(user, CAFE)  # the zone ("outside") is known now; the address is not
        run()
        assert len(alerts("new_zone_login")) == 1
        second = alerts("new_address_login")[-1]
        assert second.client_ip == CAFE[0]
        assert second.detail == {"address": CAFE[0], "zone": "outside", "known_addresses": 2}

    def test_a_known_address_and_a_new_ward_workstation_are_quiet(self, at, make_user):
        user = make_user("nurse")
        self.history(at, user, HOME)
        at(days=3)
        sign_in(user, HOME)
        at(days=4)
        sign_in(user, OTHER_WARD_PC)  # a new address inside a defined zone
        run()
        assert alerts("new_address_login") == []

    def test_a_new_users_first_addresses_are_quiet(self, at, make_user):
        user = make_user("nurse")
        at(days=0)
        sign_in(user, HOME)
        sign_in(user, CAFE)
        run()
        assert alerts("new_address_login") == []
