"""A fresh user enrols a second factor in the browser: password, forced
enrolment, TOTP activation with the secret shown on the page, recovery codes,
dashboard. Then the same user signs in again with a TOTP code and steps up
with a recovery code. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator

from tests.conftest import totp_now
from tests.e2e.conftest import log_in_with_password
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_fresh_user_enrols_totp_and_reaches_dashboard(page, screenshot):
    user = UserFactory(username="fresh.nurse", first_name="Flora", roles=["nurse"])

    log_in_with_password(page, user.username, TEST_PASSWORD)
    # Forced enrolment: the password alone leads to the enrolment page only.
    page.wait_for_url("**/accounts/enrol/")
    screenshot(page, "mfa-01-forced-enrolment")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    session_cookie = cookies["__Host-safeward_session"]
    assert session_cookie["secure"]
    assert session_cookie["httpOnly"]
    assert session_cookie["sameSite"] == "Lax"
    assert session_cookie["path"] == "/"

    page.goto("/identity/sessions/")
    page.wait_for_url("**/accounts/enrol/")

    page.get_by_role("link", name="Use an authenticator app").click()
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    qr = page.locator("img.totp-qr")
    assert qr.is_visible()
    assert qr.evaluate("image => image.naturalWidth") > 100
    secret = page.locator("#authenticator_secret").input_value()
    assert len(secret) >= 16
    screenshot(page, "mfa-02-activate-totp")

    page.fill("input[name=code]", "000000" if totp_now(secret) != "000000" else "111111")
    page.click("main form button[type=submit]")
    page.wait_for_selector(".errorlist, .error")
    screenshot(page, "mfa-03-activate-totp-wrong-code")

    page.fill("input[name=code]", totp_now(secret))
    page.click("main form button[type=submit]")
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    codes = page.locator(".recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, "mfa-04-recovery-codes")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

    page.get_by_role("link", name="Continue to SafeWard").click()
    page.wait_for_selector("h1:has-text('Good to see you, Flora')")
    screenshot(page, "mfa-05-dashboard")

    # Sign out and in again: now the second step asks for the code.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
    screenshot(page, "mfa-06-login")
    log_in_with_password(page, user.username, TEST_PASSWORD)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    screenshot(page, "mfa-07-authenticate")
    # The code used for activation was marked as used: the next period's code
    # (tolerance allows one step) gets us in.
    page.fill("input[name=code]", totp_now(secret, offset=1))
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Good to see you')")

    # Step-up with a recovery code on a sensitive page.
    page.goto("/accounts/reauthenticate/")
    page.goto("/accounts/2fa/reauthenticate/?next=/identity/sessions/")
    screenshot(page, "mfa-08-reauthenticate")
    page.fill("input[name=code]", codes[0])
    page.click("main form button[type=submit]")
    page.wait_for_url("**/identity/sessions/")
    screenshot(page, "mfa-09-my-sessions")
