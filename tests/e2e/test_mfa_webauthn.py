"""WebAuthn in headless Chromium with a virtual authenticator (Chrome DevTools
Protocol): a fresh user registers a security key as the first factor, signs
out, and signs in again with password + the key. allauth's own JavaScript is
served from static files under SafeWard's CSP (the page fixture fails the test
on any CSP violation)."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator

from safeward.identity.models import UserSession
from tests.e2e.conftest import log_in_with_password
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def authenticator(page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_security_key_registers_and_authenticates(page, authenticator, screenshot):
    cdp, authenticator_id = authenticator
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    user = UserFactory(username="key.user", first_name="Kim", roles=["pharmacist"])

    log_in_with_password(page, user.username, TEST_PASSWORD)
    page.wait_for_url("**/accounts/enrol/")
    page.get_by_role("link", name="Use a security key or passkey").click()
    page.wait_for_url("**/accounts/2fa/webauthn/add/")
    page.fill("input[name=name]", "Ward badge key")
    screenshot(page, "webauthn-01-add")
    page.click("#mfa_webauthn_add")
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    assert not dialogs
    screenshot(page, "webauthn-02-recovery-codes")
    key = Authenticator.objects.get(user=user, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == "Ward badge key"
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert len(credentials) == 1

    page.get_by_role("link", name="Continue to SafeWard").click()
    page.wait_for_selector("h1:has-text('Good to see you, Kim')")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")

    log_in_with_password(page, user.username, TEST_PASSWORD)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    screenshot(page, "webauthn-03-authenticate")
    page.click("#mfa_webauthn_authenticate")
    page.wait_for_selector("h1:has-text('Good to see you, Kim')")
    screenshot(page, "webauthn-04-dashboard")
    assert not dialogs
    sessions = UserSession.objects.filter(user=user).order_by("created_at")
    assert sessions.count() == 2
    assert sessions.last().mfa_at is not None
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert credentials[0]["signCount"] >= 2
