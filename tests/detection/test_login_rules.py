"""Sign-in rules over the identity and workforce audit events."""

from __future__ import annotations

import pytest

from safeward.detection.models import Alert
from tests.detection.conftest import alerts, login, run

pytestmark = pytest.mark.django_db


def test_failed_logins_on_one_account(at, make_user):
    for n in range(5):
        at(minutes=n)
        login(username="alice")
    run()
    (alert,) = alerts("failed_login_account")
    assert alert.detail["failures"] == 5
    assert alert.group_key == "failed_login_account|account:alice"


def test_four_typos_spread_over_an_hour_do_not_alert(at):
    for n in range(4):
        at(minutes=n * 20)
        login(username="bob", ip=f"10.0.0.{n}")
        run()
    assert alerts("failed_login_account") == []
    assert alerts("failed_login_address") == []


def test_credential_stuffing_many_accounts_from_one_address(at):
    at(minutes=0)
    for n in range(4):
        login(username=f"victim{n}", ip="203.0.113.9")
    run()
    (alert,) = alerts("failed_login_address")
    assert alert.client_ip == "203.0.113.9"
    assert alert.detail == {"failures": 4, "usernames": 4}
    assert alerts("failed_login_account") == []


def test_failures_from_many_addresses_are_not_one_address(at):
    at(minutes=0)
    for n in range(4):
        login(username=f"user{n}", ip=f"203.0.113.{n}")
    run()
    assert alerts("failed_login_address") == []


def test_success_after_many_failures(at, make_user):
    user = make_user("nurse", username="carol")
    for n in range(3):
        at(minutes=n)
        login(username="carol")
    at(minutes=4)
    login(username="carol", user=user, ok=True)
    run()
    (alert,) = alerts("login_after_failures")
    assert alert.subject_user_id == user.pk


def test_a_login_after_one_typo_is_fine(at, make_user):
    user = make_user("nurse", username="dave")
    at(minutes=0)
    login(username="dave")
    at(minutes=1)
    login(username="dave", user=user, ok=True)
    run()
    assert not Alert.objects.filter(rule__in=["login_after_failures", "failed_login_account"]).exists()


def test_login_from_a_never_used_zone(at, make_user):
    user = make_user("nurse")
    for day in range(3):
        at(days=day)
        login(username=user.username, user=user, ok=True, zone="ward")
    run()
    at(days=3)
    login(username=user.username, user=user, ok=True, zone="outside")
    run()
    (alert,) = alerts("new_zone_login")
    assert alert.detail["zone"] == "outside"
    at(days=4)
    login(username=user.username, user=user, ok=True, zone="ward")
    run()
    assert len(alerts("new_zone_login")) == 1


def test_a_new_users_first_logins_are_not_a_new_zone(at, make_user):
    user = make_user("nurse")
    at(days=0)
    login(username=user.username, user=user, ok=True, zone="ward")
    login(username=user.username, user=user, ok=True, zone="outside")
    run()
    assert alerts("new_zone_login") == []


def test_terminated_account_attempt(at, make_user):
    user = make_user("nurse")
    at(minutes=0)
    login(username=user.username, user=user, detail={"reason": "workforce_terminated", "channel": "login"})
    run()
    (alert,) = alerts("inactive_account_login")
    assert alert.detail == {"kind": "terminated"}
    assert alert.severity == "high"
    assert alerts("failed_login_account") == []


def test_disabled_account_attempt(at):
    at(minutes=0)
    login(username="gone", detail={"stage": "inactive"})
    run()
    (alert,) = alerts("inactive_account_login")
    assert alert.detail == {"kind": "disabled"}


def test_dormant_account_sign_in(at, make_user):
    user = make_user("nurse")
    at(days=-100)
    login(username=user.username, user=user, ok=True)
    run()
    at(days=0)
    login(username=user.username, user=user, ok=True)
    run()
    (alert,) = alerts("inactive_account_login")
    assert alert.detail == {"kind": "dormant", "idle_days": 100}


def test_a_regular_user_is_not_dormant(at, make_user):
    user = make_user("nurse")
    for day in (-20, -10, 0):
        at(days=day)
        login(username=user.username, user=user, ok=True)
    run()
    assert alerts("inactive_account_login") == []


def test_a_typed_drill_username_does_not_hide_stuffing_as_a_drill(at):
    """Failed sign-ins carry whatever username was typed: naming a `drill.`
    account that does not exist must not turn the attack into a hidden drill."""
    at(minutes=0)
    for name in ("victim0", "victim1", "victim2", "drill.anything"):
        login(username=name, ip="203.0.113.10")
    run()
    (alert,) = alerts("failed_login_address")
    assert alert.is_drill is False


def test_stuffing_only_drill_accounts_is_a_drill(at):
    from safeward.identity import services as identity_services

    at(minutes=0)
    for n in range(4):
        identity_services.user_create(actor=None, username=f"drill.stuffed{n}", drill=True)
        login(username=f"drill.stuffed{n}", ip="203.0.113.11")
    run()
    (alert,) = alerts("failed_login_address")
    assert alert.is_drill is True


def test_sign_ins_before_and_within_the_dormancy_window_are_not_dormant(at, make_user):
    """ADR 0730: the last sign-in is looked up within the window first."""
    user, first_timer = make_user("nurse"), make_user("nurse")
    for day in (-150, -80, -30):  # never 90 days apart
        at(days=day)
        login(username=user.username, user=user, ok=True)
    run()
    at(days=0)
    login(username=user.username, user=user, ok=True)
    login(username=first_timer.username, user=first_timer, ok=True)  # no sign-in before: not dormant
    run()
    assert alerts("inactive_account_login") == []
