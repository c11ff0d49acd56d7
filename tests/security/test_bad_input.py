"""Bad input gets a clean 4xx (or the normal page with an error) and leaves no
partial state: rows are counted before and after."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.identity.models import NetworkZone, RoleAssignment, User, UserSession
from tests.conftest import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

STATE: list[Any] = [User, UserSession, RoleAssignment, NetworkZone]


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in STATE}


@contextmanager
def nothing_changes():
    before = counts()
    yield
    assert counts() == before


class TestLogin:
    @pytest.mark.parametrize(
        "data",
        [
            {"login": "x" * 10_000, "password": "y"},
            {"login": "nurse\x00admin", "password": TEST_PASSWORD},
            {"login": "", "password": ""},
            {"login": ["a", "b"], "password": "c"},
            {"password": TEST_PASSWORD},
            {"login": "' OR 1=1 --", "password": "' OR 1=1 --"},
        ],
    )
    def test_malformed_login_posts_show_the_login_page(self, client, data):
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with nothing_changes():
            response = client.post("/accounts/login/", data)
        assert response.status_code in {200, 400}
        assert client.get("/").status_code == 302
        # At most one failed-login event, naming the attempted username only.
        new = AuditEvent.objects.filter(id__gt=last)
        assert new.count() <= 1
        assert set(new.values_list("action", "outcome")) <= {("login", "denied")}

    def test_unknown_user_gets_the_same_answer_as_a_wrong_password(self, client, make_user):
        user = make_user("nurse")
        with nothing_changes():
            unknown = client.post(
                "/accounts/login/", {"login": "no.such.person", "password": "whatever12345"}
            )
            wrong = client.post("/accounts/login/", {"login": user.username, "password": "whatever12345"})
        assert unknown.status_code == wrong.status_code == 200
        assert unknown.context["form"].errors == wrong.context["form"].errors
        failures = AuditEvent.objects.filter(action="login", outcome="denied")
        assert sorted(failures.values_list("actor_username", flat=True)) == sorted(
            ["no.such.person", user.username]
        )
        assert "whatever12345" not in str(list(AuditEvent.objects.values()))

    def test_oversized_body_is_refused(self, client):
        with nothing_changes():
            response = client.post("/accounts/login/", {"login": "a", "password": "p" * (1024 * 1024 + 10)})
        assert response.status_code == 400

    def test_too_many_fields_is_refused(self, client):
        data = {f"field{n}": "x" for n in range(300)}
        with nothing_changes():
            response = client.post("/accounts/login/", data)
        assert response.status_code == 400

    def test_malformed_multipart_is_refused(self, client):
        with nothing_changes():
            response = client.generic(
                "POST",
                "/accounts/login/",
                b"--broken\r\nnonsense",
                content_type="multipart/form-data; boundary=broken",
            )
        assert response.status_code in {200, 400}


class TestSecondFactor:
    @pytest.mark.parametrize(
        "code", ["", "abc", "1" * 5000, "12345\x00", "' OR 1=1", "\uff11\uff12\uff13\uff14\uff15\uff16"]
    )
    def test_malformed_codes(self, client, make_user, code):
        user = make_user("nurse")
        client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
        with nothing_changes():
            response = client.post("/accounts/2fa/authenticate/", {"code": code})
        assert response.status_code == 200
        assert client.get("/").status_code == 302

    def test_mfa_step_without_a_password_step(self, client):
        response = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
        assert response.status_code in {302, 400, 403, 404}
        assert not UserSession.objects.exists()


class TestSessionCookie:
    def test_tampered_session_cookie_is_just_anonymous(self, make_user):
        client = Client()
        user_session = sign_in(client, make_user("nurse"))
        cookie = client.cookies["__Host-safeward_session"]
        for forged in [cookie.value[:-1] + ("a" if cookie.value[-1] != "a" else "b"), "x" * 500, "../../etc"]:
            client.cookies["__Host-safeward_session"] = forged
            with nothing_changes():
                response = client.get("/identity/sessions/")
            assert response.status_code == 302
            assert response["Location"].startswith("/accounts/login/")
        user_session.refresh_from_db()
        assert user_session.ended_at is None  # guessing does not end the real session

    def test_tampered_cookie_on_the_api_is_401_json(self, make_user):
        client = Client()
        sign_in(client, make_user("nurse"))
        client.cookies["__Host-safeward_session"] = "forged"
        response = client.get("/identity/sessions/", HTTP_ACCEPT="application/json")
        assert response.status_code == 401
        assert response.json() == {"detail": "Sign in first."}


class TestAdministrationForms:
    @pytest.fixture
    def admin_client(self, signed_in):
        return signed_in("it_admin")[0]

    @pytest.mark.parametrize(
        "data",
        [
            {"username": "Bad Name!", "first_name": "A", "last_name": "B"},
            {"username": "ok.name", "first_name": "A" * 500, "last_name": "B"},
            {"username": "ok.name", "first_name": "A", "last_name": "B", "email": "not-an-email"},
            {"username": "ok.name", "first_name": "A", "last_name": "B", "department": "99999"},
            {},
        ],
    )
    def test_user_create_rejects_bad_input_and_saves_nothing(self, admin_client, data):
        audit_before = AuditEvent.objects.count()
        with nothing_changes():
            response = admin_client.post("/identity/users/new/", data)
        assert response.status_code == 400
        assert AuditEvent.objects.count() == audit_before

    def test_duplicate_username(self, admin_client, make_user):
        taken = make_user("nurse")
        with nothing_changes():
            response = admin_client.post(
                "/identity/users/new/", {"username": taken.username, "first_name": "A", "last_name": "B"}
            )
        assert response.status_code == 400
        assert b"This username is taken." in response.content

    @pytest.mark.parametrize(
        "data",
        [{"role": "999999", "reason": "x"}, {"role": "abc", "reason": "x"}, {"role": "", "reason": ""}, {}],
    )
    def test_role_grant_with_bad_role(self, admin_client, make_user, data):
        target = make_user("nurse")
        with nothing_changes():
            response = admin_client.post(f"/identity/users/{target.pk}/roles/", data)
        assert response.status_code == 400  # the page again, with the form's errors
        if data.get("reason"):
            assert f'value="{data["reason"]}"'.encode() in response.content  # what was typed stays

    @pytest.mark.parametrize(
        "cidrs",
        ["10.0.0.0/33", "banana", "", "\n".join(f"10.{n}.0.0/16" for n in range(101)), "10.0.0.1/8 x"],
    )
    def test_zone_with_bad_ranges(self, admin_client, cidrs):
        with nothing_changes():
            response = admin_client.post("/identity/zones/", {"name": "wards", "cidrs": cidrs})
        assert response.status_code == 400

    def test_malformed_ids_in_paths_are_404(self, admin_client):
        for path in ["/identity/users/abc/", "/identity/users/-1/", "/identity/sessions/not-a-uuid/end/"]:
            assert admin_client.get(path).status_code in {404, 405}


class TestForwardedFor:
    def test_forged_header_is_recorded_as_the_peer(self, client, make_user):
        user = make_user("nurse")
        with nothing_changes():
            client.post(
                "/accounts/login/",
                {"login": user.username, "password": "wrong password 99"},
                REMOTE_ADDR="203.0.113.5",
                HTTP_X_FORWARDED_FOR="10.20.1.1, not an address, 999.1.1.1",
            )
        event = AuditEvent.objects.get(action="login", outcome="denied")
        assert event.client_ip == "203.0.113.5"

    def test_garbage_forwarded_header_from_a_trusted_proxy(self, client, make_user, settings):
        import ipaddress

        settings.SAFEWARD_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.1/32")]
        response = client.get(
            "/accounts/login/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="\x00\xff, ;;, " + "9" * 4000
        )
        assert response.status_code == 200
        assert Session.objects.count() == 0


class TestSignInRedirect:
    def test_a_long_query_string_is_dropped_from_next_not_refused(self, client, caplog):
        """Django's own gate answered 400 and logged an ERROR with tracebacks here."""
        response = client.get("/identity/users/", {"q": "a" * 20_000})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/identity/users/"
        assert not [record for record in caplog.records if record.levelname == "ERROR"]

    def test_an_ordinary_query_string_comes_back_after_sign_in(self, client):
        response = client.get("/identity/users/", {"q": "ward 3"})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/identity/users/%3Fq%3Dward%2B3"
