"""Registering a SMART app from the page: an IT administrator signs in with
a second factor, registers a confidential app, sees its secret once, finds it
in the list, and revokes it. Screenshots go to
test-artifacts/screenshots/oauth-clients-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.fhir.models import ClientRegistration
from tests.e2e.conftest import nav_click
from tests.e2e.test_termination import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_administrator_registers_and_revokes_a_smart_app(page, screenshot):
    from safeward import clock

    admin = UserFactory(username="it.admin", first_name="Ida", roles=["it_admin"], totp_secret=True)
    UserFactory(username="dr.owner", first_name="Olga", roles=["physician"], totp_secret=True)
    sign_in_browser(page, admin)

    nav_click(page, "OAuth clients")
    page.wait_for_url("**/oauth/clients/")
    page.click("#register-client")
    page.wait_for_url("**/oauth/clients/new/")
    page.fill("input[name=name]", "Bedside growth chart")
    page.select_option("select[name=grant]", "authorization-code")
    page.select_option("select[name=client_type]", "confidential")
    page.fill("input[name=owner]", "dr.owner")
    page.fill("textarea[name=scopes]", "openid fhirUser launch/patient patient/*.rs")
    page.fill("textarea[name=redirect_uris]", "https://growth.example.test/callback")
    page.fill("input[name=expires]", (clock.now() + dt.timedelta(days=180)).date().isoformat())
    screenshot(page, "oauth-clients-01-register-form")
    page.click("#register-form button[type=submit]")

    page.wait_for_selector("#registered")
    secret = page.inner_text("#client-secret")
    assert len(secret) > 30
    assert page.inner_text("#client-id") == ClientRegistration.objects.get().application.client_id
    screenshot(page, "oauth-clients-02-secret-shown-once")

    page.click("text=Open the registration")
    page.wait_for_selector("#client-facts")
    assert page.inner_text("#client-state") == "active"
    assert secret not in page.content()
    page.fill("#revoke-form input[name=reason]", "pilot ended")
    page.click("#revoke-form button[type=submit]")
    page.wait_for_selector("text=Client revoked")
    assert page.inner_text("#client-state") == "revoked"
    screenshot(page, "oauth-clients-03-revoked")

    page.get_by_role("link", name="All clients").click()
    page.wait_for_selector("#clients")
    assert "revoked" in page.inner_text("#clients")
    screenshot(page, "oauth-clients-04-list")
    assert ClientRegistration.objects.get().revoked_at is not None
