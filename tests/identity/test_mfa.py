"""Second factor: nothing but the MFA step with a password alone, TOTP replay,
single-use recovery codes, code-guessing limits, forced enrolment."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.identity.models import UserSession
from tests.conftest import totp_now
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

PROTECTED_PAGES = ["/", "/identity/sessions/", "/identity/users/", "/identity/zones/", "/accounts/2fa/"]


def password_step(client: Client, user) -> None:
    response = client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")


def test_password_alone_reaches_nothing_but_the_mfa_step(client, make_user):
    user = make_user("it_admin")
    password_step(client, user)
    for path in PROTECTED_PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path
    assert client.get("/accounts/2fa/authenticate/").status_code == 200
    assert not UserSession.objects.filter(user=user).exists()


def test_totp_code_cannot_be_replayed(client, make_user):
    user = make_user("nurse")
    code = totp_now(user.test_totp_secret)
    password_step(client, user)
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")

    replay = Client()
    password_step(replay, user)
    response = replay.post("/accounts/2fa/authenticate/", {"code": code})
    assert response.status_code == 200
    assert b"Incorrect code" in response.content
    assert replay.get("/").status_code == 302
    assert UserSession.objects.filter(user=user).count() == 1
    failed = AuditEvent.objects.filter(actor_id=user.pk, action="mfa_challenge", outcome="denied")
    assert failed.count() == 1
    assert code not in str(list(failed.values()))


def test_recovery_code_works_exactly_once(client, make_user):
    user = make_user("physician")
    codes = RecoveryCodes.activate(user).generate_codes()
    password_step(client, user)
    assert client.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")

    again = Client()
    password_step(again, user)
    response = again.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert response.status_code == 200
    assert b"Incorrect code" in response.content
    # Another unused code still works.
    assert again.post("/accounts/2fa/authenticate/", {"code": codes[1]}).status_code == 302
    assert again.get("/").status_code == 200


def test_guessing_second_factor_codes_is_rate_limited(client, make_user):
    user = make_user("nurse")
    password_step(client, user)
    for _ in range(5):
        response = client.post("/accounts/2fa/authenticate/", {"code": "000001"})
        assert b"Incorrect code" in response.content
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret)})
    assert response.status_code in {200, 429}
    assert b"Too many" in response.content
    assert client.get("/").status_code == 302
    assert not UserSession.objects.filter(user=user).exists()


def test_step_up_codes_are_rate_limited_too(signed_in):
    client, user = signed_in("it_admin")
    for _ in range(5):
        client.post("/accounts/2fa/reauthenticate/", {"code": "000001"})
    response = client.post("/accounts/2fa/reauthenticate/", {"code": totp_now(user.test_totp_secret)})
    assert b"Too many" in response.content


class TestForcedEnrolment:
    def test_first_login_leads_only_to_enrolment(self, client, make_user):
        user = make_user("nurse", mfa=False)
        response = client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
        assert response.status_code == 302
        for path in [*PROTECTED_PAGES, "/identity/users/1/", "/accounts/password/change/"]:
            response = client.get(path)
            assert response.status_code == 302, path
            assert response["Location"] == "/accounts/enrol/", path
        page = client.get("/accounts/enrol/")
        assert page.status_code == 200
        assert b"Set up your second factor" in page.content
        # No navigation to pages that would only bounce back.
        assert b"My sessions" not in page.content

    def test_api_answers_403_json_before_enrolment(self, client, make_user):
        user = make_user("nurse", mfa=False)
        client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
        for path, headers in [("/api/v1/anything", {}), ("/", {"HTTP_ACCEPT": "application/json"})]:
            response = client.get(path, **headers)
            assert response.status_code == 403
            assert response["Content-Type"] == "application/json"
            assert response.json() == {"detail": "Enrol a second factor first."}

    # allauth announces a new authenticator on commit, inside the request; only
    # a transactional test runs that hook where production does.
    @pytest.mark.django_db(transaction=True)
    def test_enrolling_totp_opens_the_rest(self, client, make_user, settings):
        user = make_user("nurse", mfa=False)
        client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
        # Right after the password sign-in no second password prompt.
        page = client.get("/accounts/2fa/totp/activate/")
        assert page.status_code == 200
        secret = page.context["form"].secret
        assert b'class="totp-qr"' in page.content
        response = client.post("/accounts/2fa/totp/activate/", {"code": totp_now(secret)})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/2fa/recovery-codes/"
        codes_page = client.get(response["Location"])
        assert codes_page.status_code == 200
        assert codes_page.content.count(b"<li>") >= settings.MFA_RECOVERY_CODE_COUNT
        assert client.get("/").status_code == 200
        user_session = UserSession.objects.get(user=user)
        assert user_session.mfa_at is not None
        assert AuditEvent.objects.filter(actor_id=user.pk, action="mfa_enrol").count() == 2
        assert secret not in str(list(AuditEvent.objects.values()))

    def test_late_enrolment_asks_for_the_password_again(self, client, make_user, monkeypatch):
        user = make_user("nurse", mfa=False)
        client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
        import time

        later = time.time() + 600
        monkeypatch.setattr(time, "time", lambda: later)
        response = client.get("/accounts/2fa/totp/activate/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/reauthenticate/")
        # The password prompt itself is reachable before enrolment (no loop).
        assert client.get(response["Location"]).status_code == 200

    def test_recovery_codes_alone_are_not_a_second_factor(self, client, make_user):
        user = make_user("nurse", mfa=False)
        RecoveryCodes.activate(user)
        client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
        assert client.get("/")["Location"] == "/accounts/enrol/"


def test_the_last_second_factor_cannot_be_removed(signed_in):
    client, user = signed_in("nurse")
    client.post("/accounts/2fa/reauthenticate/", {"code": totp_now(user.test_totp_secret)})
    response = client.post("/accounts/2fa/totp/deactivate/")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert response.status_code in {200, 400}
