"""Client addresses behind trusted proxies only, zones recorded per session,
and the "may this session reach patient data from here?" decision."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import Client, RequestFactory

from safeward.audit.models import AuditEvent
from safeward.identity import services
from safeward.identity.access import patient_data_reachable
from safeward.identity.models import UserSession
from safeward.identity.network import OUTSIDE, client_address, zone_for
from tests.conftest import totp_now
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def address(remote: str, forwarded: str | None = None) -> str | None:
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    found = client_address(request)
    return str(found) if found else None


@pytest.fixture
def proxies(settings):
    settings.SAFEWARD_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/29"), ipaddress.ip_network("::1/128")]


@pytest.fixture
def zones():
    services.zone_save(actor=None, name="wards", cidrs=["10.20.0.0/16"], clinical=True)
    services.zone_save(actor=None, name="wards-guest-wifi", cidrs=["10.20.99.0/24"], clinical=False)
    services.zone_save(actor=None, name="vpn", cidrs=["172.16.0.0/12", "fd00::/8"], clinical=False)
    from safeward.identity.network import zone_table

    zone_table.clear()


class TestClientAddress:
    def test_forged_header_from_an_untrusted_peer_is_ignored(self, proxies):
        assert address("203.0.113.9", "10.20.1.1") == "203.0.113.9"

    def test_no_trusted_proxies_configured_ignores_the_header(self):
        assert address("10.0.0.1", "10.20.1.1") == "10.0.0.1"

    def test_trusted_proxy_gives_the_right_most_untrusted_hop(self, proxies):
        # The client prepended a forged hop; the proxy appended the real one.
        assert address("10.0.0.2", "10.20.1.1, 198.51.100.7") == "198.51.100.7"
        # Chained trusted proxies are skipped.
        assert address("10.0.0.2", "10.20.1.1, 198.51.100.7, 10.0.0.3") == "198.51.100.7"
        assert address("::1", "2001:db8::5") == "2001:db8::5"

    def test_garbage_hops_are_skipped_and_all_trusted_falls_back_to_the_peer(self, proxies):
        assert address("10.0.0.2", "not-an-ip, 198.51.100.7, <script>") == "198.51.100.7"
        assert address("10.0.0.2", "10.0.0.3") == "10.0.0.2"
        assert address("10.0.0.2", "") == "10.0.0.2"

    def test_unparseable_peer(self):
        assert address("") is None


class TestZones:
    def test_most_specific_zone_wins(self, zones):
        assert zone_for(ipaddress.ip_address("10.20.5.5")).name == "wards"
        assert zone_for(ipaddress.ip_address("10.20.99.5")).name == "wards-guest-wifi"
        assert zone_for(ipaddress.ip_address("fd00::1")).name == "vpn"
        assert zone_for(ipaddress.ip_address("8.8.8.8")) is OUTSIDE
        assert zone_for(None) is OUTSIDE

    def test_each_session_records_its_zone_and_address(self, zones, proxies, make_user):
        user = make_user("nurse")
        client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="8.8.8.8, 10.20.7.7")
        client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
        client.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret)})
        user_session = UserSession.objects.get(user=user)
        assert (user_session.client_ip, user_session.network_zone) == ("10.20.7.7", "wards")
        login = AuditEvent.objects.get(action="login", outcome="success")
        assert (login.client_ip, login.network_zone) == ("10.20.7.7", "wards")

    def test_forged_header_cannot_claim_the_clinical_zone(self, zones, proxies, make_user):
        user = make_user("nurse")
        client = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.20.7.7")
        client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
        client.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret)})
        user_session = UserSession.objects.get(user=user)
        assert (user_session.client_ip, user_session.network_zone) == ("203.0.113.9", "outside")

    def test_zone_page_rejects_bad_ranges_and_saves_good_ones(
        self, signed_in, django_capture_on_commit_callbacks
    ):
        client, _ = signed_in("it_admin")
        assert zone_for(ipaddress.ip_address("10.30.1.1")) is OUTSIDE  # loads the zone cache
        bad = client.post("/identity/zones/", {"name": "x", "cidrs": "10.0.0.0/33", "clinical": "on"})
        assert bad.status_code == 400
        with django_capture_on_commit_callbacks(execute=True):  # the save clears the zone cache
            good = client.post(
                "/identity/zones/", {"name": "icu", "cidrs": "10.30.0.0/16\n", "clinical": "on"}
            )
        assert good.status_code == 302
        assert zone_for(ipaddress.ip_address("10.30.1.1")).name == "icu"


class TestPatientDataReachable:
    @pytest.fixture
    def session_of(self, make_user):
        def make(role: str) -> UserSession:
            user = make_user(role)
            return services.session_start(
                user=user,
                session_key="k" * 32,
                client_ip="198.51.100.1",
                network_zone="outside",
                user_agent="t",
                mfa_at_now=True,
            )

        return make

    def test_clinical_zone(self, session_of):
        user_session = session_of("nurse")
        decision = patient_data_reachable(
            user=user_session.user, user_session=user_session, zone_clinical=True
        )
        assert (decision.allowed, decision.reason) == (True, "clinical_zone")

    def test_remote_role_with_fresh_mfa(self, session_of, frozen_clock):
        user_session = session_of("physician")
        frozen_clock.advance(minutes=59)
        decision = patient_data_reachable(
            user=user_session.user, user_session=user_session, zone_clinical=False
        )
        assert (decision.allowed, decision.reason) == (True, "remote_with_recent_mfa")

    def test_remote_role_with_stale_mfa(self, session_of, frozen_clock, settings):
        user_session = session_of("physician")
        frozen_clock.advance(minutes=settings.SAFEWARD_REMOTE_MFA_WINDOW_MINUTES, seconds=1)
        decision = patient_data_reachable(
            user=user_session.user, user_session=user_session, zone_clinical=False
        )
        assert (decision.allowed, decision.reason) == (False, "mfa_too_old_for_remote_access")

    def test_role_without_remote_work_outside(self, session_of):
        user_session = session_of("nurse")
        decision = patient_data_reachable(
            user=user_session.user, user_session=user_session, zone_clinical=False
        )
        assert (decision.allowed, decision.reason) == (False, "remote_access_not_permitted")

    def test_no_or_ended_session(self, session_of, make_user):
        user_session = session_of("physician")
        assert not patient_data_reachable(
            user=user_session.user, user_session=None, zone_clinical=True
        ).allowed
        services.session_expire(user_session=user_session, reason="timeout_idle")
        decision = patient_data_reachable(
            user=user_session.user, user_session=user_session, zone_clinical=True
        )
        assert (decision.allowed, decision.reason) == (False, "no_session")
