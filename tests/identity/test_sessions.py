"""Sessions: idle time-out and absolute lifetime against the injected clock,
listing and ending one's own sessions, an administrator ending every session
of an account, locked and disabled accounts, all effective on the very next
request."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.identity import services
from safeward.identity.models import User, UserSession
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def new_client(user) -> tuple[Client, UserSession]:
    client = Client()
    return client, sign_in(client, user)


def assert_refused(response, reason_text: bytes = b"") -> None:
    assert response.status_code == 401
    assert b"Your session has ended" in response.content
    assert reason_text in response.content


class TestTimeouts:
    def test_idle_timeout(self, frozen_clock, signed_in):
        client, user = signed_in("nurse")
        frozen_clock.advance(minutes=14)
        assert client.get("/").status_code == 200
        frozen_clock.advance(minutes=15, seconds=1)
        assert_refused(client.get("/"), b"inactive for too long")
        user_session = UserSession.objects.get(user=user)
        assert user_session.end_reason == "timeout_idle"
        assert AuditEvent.objects.filter(action="session_timeout", actor_id=user.pk).count() == 1
        # The refusal signed the browser out: the next request goes to the login page.
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_activity_keeps_the_session_alive_until_the_absolute_limit(self, frozen_clock, signed_in):
        client, user = signed_in("nurse")
        for _ in range(12 * 6 - 1):  # every 10 minutes for (almost) 12 hours
            frozen_clock.advance(minutes=10)
            assert client.get("/identity/sessions/").status_code == 200
        frozen_clock.advance(minutes=10, seconds=1)
        assert_refused(client.get("/identity/sessions/"), b"at most a working shift")
        assert UserSession.objects.get(user=user).end_reason == "timeout_absolute"

    def test_limits_are_configurable(self, frozen_clock, signed_in, settings):
        settings.SAFEWARD_SESSION_IDLE_MINUTES = 5
        client, _ = signed_in("nurse")
        frozen_clock.advance(minutes=5, seconds=1)
        assert_refused(client.get("/"))

    def test_api_gets_401_json(self, frozen_clock, signed_in):
        client, _ = signed_in("nurse")
        frozen_clock.advance(hours=1)
        response = client.get("/", HTTP_ACCEPT="application/json")
        assert response.status_code == 401
        assert response.json() == {"detail": "Your session has ended. Sign in again."}


class TestOwnSessions:
    def test_user_lists_and_ends_own_sessions(self, frozen_clock, make_user):
        user = make_user("physician")
        laptop, laptop_session = new_client(user)
        ward_pc, ward_session = new_client(user)
        page = laptop.get("/identity/sessions/")
        assert page.status_code == 200
        assert {s.pk for s in page.context["sessions"]} == {laptop_session.pk, ward_session.pk}
        assert b"This session" in page.content

        response = laptop.post(f"/identity/sessions/{ward_session.pk}/end/")
        assert response.status_code == 302
        assert_refused(ward_pc.get("/"))
        assert laptop.get("/").status_code == 200
        ward_session.refresh_from_db()
        assert ward_session.end_reason == "ended_by_user"
        assert not Session.objects.filter(session_key=ward_session.session_key).exists()

    def test_nobody_ends_someone_elses_session_through_their_own_page(self, make_user):
        alice, bob = make_user("nurse"), make_user("nurse")
        client, _ = new_client(alice)
        _, bob_session = new_client(bob)
        assert client.post(f"/identity/sessions/{bob_session.pk}/end/").status_code == 404
        assert client.post(f"/identity/sessions/{uuid.uuid4()}/end/").status_code == 404
        bob_session.refresh_from_db()
        assert bob_session.ended_at is None

    def test_logout_ends_the_safeward_session(self, signed_in):
        client, user = signed_in("nurse")
        client.post("/accounts/logout/")
        assert UserSession.objects.get(user=user).end_reason == "logout"


class TestAdministratorEndsSessions:
    def test_every_session_of_the_account_is_refused_on_its_next_request(self, make_user):
        admin = make_user("it_admin")
        victim = make_user("nurse")
        admin_client, _ = new_client(admin)
        browser, _ = new_client(victim)
        api, _ = new_client(victim)
        assert browser.get("/").status_code == 200

        response = admin_client.post(f"/identity/users/{victim.pk}/sessions/end/")
        assert response.status_code == 302
        assert_refused(browser.get("/"), b"ended")
        refused = api.get("/identity/sessions/", HTTP_ACCEPT="application/json")
        assert refused.status_code == 401
        assert refused["Content-Type"] == "application/json"
        assert not UserSession.objects.filter(user=victim, ended_at__isnull=True).exists()
        event = AuditEvent.objects.get(action="session_end", actor_id=admin.pk)
        assert event.detail == {"all_sessions": True, "ended": 2}
        assert admin_client.get("/").status_code == 200

    def test_a_session_that_escaped_the_sweep_is_refused_too(self, make_user, frozen_clock):
        # e.g. a session row written concurrently: sessions_valid_after catches it.
        victim = make_user("nurse")
        browser, user_session = new_client(victim)
        frozen_clock.advance(seconds=1)
        User.objects.filter(pk=victim.pk).update(sessions_valid_after=frozen_clock.now())
        assert_refused(browser.get("/"))
        user_session.refresh_from_db()
        assert user_session.end_reason == "ended_by_administrator"

    def test_locked_account_refused_on_next_request(self, make_user):
        admin, victim = make_user("it_admin"), make_user("nurse")
        browser, _ = new_client(victim)
        services.user_lock(actor=admin, user=victim, reason="suspected compromise")
        assert_refused(browser.get("/"), b"no longer active")

    @pytest.mark.parametrize("change", [{"is_active": False}, {"locked_at": "2026-01-01T00:00:00Z"}])
    def test_account_state_changed_behind_the_guards_back(self, make_user, change):
        victim = make_user("nurse")
        browser, user_session = new_client(victim)
        User.objects.filter(pk=victim.pk).update(**change)
        assert_refused(browser.get("/"), b"no longer active")
        user_session.refresh_from_db()
        assert user_session.end_reason in {"account_disabled", "account_locked"}

    def test_locked_account_cannot_sign_in(self, make_user, client):
        from tests.factories import TEST_PASSWORD

        victim = make_user("nurse", locked_at=None)
        User.objects.filter(pk=victim.pk).update(is_active=False)
        response = client.post("/accounts/login/", {"login": victim.username, "password": TEST_PASSWORD})
        assert response.status_code in {200, 302}
        assert client.get("/").status_code == 302
        assert not UserSession.objects.filter(user=victim).exists()

    def test_a_forged_session_id_in_the_session_is_refused(self, make_user):
        alice, bob = make_user("nurse"), make_user("nurse")
        client, _ = new_client(alice)
        _, bob_session = new_client(bob)
        session = client.session
        session["safeward_session_id"] = str(bob_session.pk)
        session.save()
        assert_refused(client.get("/"))
        bob_session.refresh_from_db()
        assert bob_session.ended_at is None
