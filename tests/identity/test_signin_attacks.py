"""Sign-in attacks that get past the password (issue 11, item 8): the password
step and every wrong second-factor code are audited and counted; a locked
account learns nothing; a code-guessing attacker elsewhere cannot block the
real user's second factor; a completed password reset is audited."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.identity.models import UserSession
from tests.conftest import sign_in, totp_now
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
NURSE_STATION = "10.20.1.15"
WRONG_CODE = "000001"


def password_step(client: Client, user) -> None:
    response = client.post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")


def test_a_right_password_awaiting_the_second_factor_is_audited(make_user):
    user = make_user("nurse")
    password_step(Client(REMOTE_ADDR=ATTACKER), user)
    event = AuditEvent.objects.get(action="login_pending_mfa")
    assert event.actor_id == user.pk
    assert event.client_ip == ATTACKER
    assert event.outcome == "success"
    assert not AuditEvent.objects.filter(action="login", outcome="success").exists()


def test_eight_wrong_codes_from_outside_raise_a_failed_sign_in_alert(make_user):
    user = make_user("nurse")
    attacker = Client(REMOTE_ADDR=ATTACKER)
    password_step(attacker, user)
    for _ in range(8):
        attacker.post("/accounts/2fa/authenticate/", {"code": WRONG_CODE})
    detect_pending()
    (alert,) = Alert.objects.filter(rule="failed_login_account")
    assert alert.client_ip == ATTACKER
    assert alert.detail["failures"] >= 5
    assert WRONG_CODE not in str(list(AuditEvent.objects.values()))


def test_a_locked_account_gets_exactly_the_wrong_password_answer(make_user):
    user = make_user("nurse")
    user.locked_at = clock.now()
    user.save(update_fields=["locked_at"])
    wrong = Client().post("/accounts/login/", {"login": user.username, "password": "not the password 1"})
    right = Client().post("/accounts/login/", {"login": user.username, "password": TEST_PASSWORD})
    assert right.status_code == wrong.status_code == 200
    assert b"not correct" in right.content
    csrf = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert csrf.sub(b"", right.content) == csrf.sub(b"", wrong.content)
    assert not AuditEvent.objects.filter(action="login_pending_mfa").exists()
    assert AuditEvent.objects.filter(action="login", outcome="denied", detail__stage="locked").count() == 1


def test_guessing_codes_elsewhere_does_not_block_the_real_users_second_factor(make_user):
    user = make_user("nurse")
    attacker = Client(REMOTE_ADDR=ATTACKER)
    password_step(attacker, user)
    for _ in range(6):
        attacker.post("/accounts/2fa/authenticate/", {"code": WRONG_CODE})
    refused = attacker.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret)})
    assert b"Too many" in refused.content
    assert AuditEvent.objects.filter(action="login_throttled", detail__stage="mfa").exists()

    nurse = Client(REMOTE_ADDR=NURSE_STATION)
    password_step(nurse, user)
    response = nurse.post("/accounts/2fa/authenticate/", {"code": totp_now(user.test_totp_secret)})
    assert response.status_code == 302
    assert nurse.get("/").status_code == 200
    assert UserSession.objects.filter(user=user, client_ip=NURSE_STATION).exists()


def test_a_completed_password_reset_is_audited(make_user):
    user = make_user("nurse", email="nurse.reset@hospital.example")
    client = Client()
    client.post("/accounts/password/reset/", {"email": user.email})
    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", message.body).group(1)
    form = client.get(link, follow=True)
    new_password = "a brand new passphrase for the ward"
    response = client.post(form.redirect_chain[-1][0], {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)
    event = AuditEvent.objects.get(action="password_change")
    assert event.actor_id == user.pk
    assert event.detail == {"by_self": True, "via": "reset_link", "sessions_ended": 0}
    assert new_password not in str(list(AuditEvent.objects.values()))


def test_a_password_reset_ends_every_session_of_the_account(make_user):
    """Whoever knew the old password may be signed in: a reset ends them all."""
    user = make_user("nurse", email="nurse.sessions@hospital.example")
    intruder = Client()
    sign_in(intruder, user)
    assert intruder.get("/").status_code == 200
    client = Client()
    client.post("/accounts/password/reset/", {"email": user.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    new_password = "a brand new passphrase for the ward"
    client.post(form.redirect_chain[-1][0], {"password1": new_password, "password2": new_password})
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert UserSession.objects.get(user=user).end_reason == "password_changed"
    assert intruder.get("/").status_code in {302, 401}
    assert AuditEvent.objects.filter(action="session_end", detail__reason="password_changed").count() == 1


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(make_user):
    user = make_user("nurse")
    elsewhere, here = Client(), Client()
    sign_in(elsewhere, user)
    kept = sign_in(here, user)
    new_password = "another passphrase for the ward"
    response = here.post(
        "/accounts/password/change/",
        {"oldpassword": TEST_PASSWORD, "password1": new_password, "password2": new_password},
    )
    assert response.status_code == 302
    open_sessions = list(UserSession.objects.filter(user=user, ended_at__isnull=True))
    assert open_sessions == [kept]
    assert elsewhere.get("/").status_code in {302, 401}
    assert here.get("/").status_code == 200
    # A second change from the same session (whose key Django cycled at the first) keeps it too.
    again = "a third passphrase for the ward"
    response = here.post(
        "/accounts/password/change/",
        {"oldpassword": new_password, "password1": again, "password2": again},
    )
    assert response.status_code == 302
    assert list(UserSession.objects.filter(user=user, ended_at__isnull=True)) == [kept]
    assert here.get("/").status_code == 200
