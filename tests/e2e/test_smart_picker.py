"""A SMART app's standalone launch in a real browser (ADR 0542): the app sends
the clinician to SafeWard's authorize endpoint asking for `launch/patient`;
SafeWard asks them to pick the patient (search by POST), shows the consent
page naming that patient, and redirects to the app with a code whose token
names the patient and reaches nobody else. Screenshots go to
test-artifacts/screenshots/smart-*.png."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client

from safeward.identity.models import NetworkZone
from safeward.identity.network import zone_table
from tests.clinical.conftest import new_patient, relate
from tests.conftest import totp_now
from tests.e2e.conftest import log_in_with_password
from tests.factories import TEST_PASSWORD, UserFactory
from tests.fhir.helpers import REDIRECT, app, authorize_query, bearer, exchange, pkce

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def ward_zone():
    NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)
    zone_table.clear()


def test_standalone_launch_with_the_patient_picker(page, live_server, screenshot):
    doctor = UserFactory(
        username="dr.picker", first_name="Petra", last_name="Lind", roles=["physician"], totp_secret=True
    )
    mine = new_patient(given="Ada", family="Quist", mrn="MRN-A1")
    other = new_patient(given="Bert", family="Quist", mrn="MRN-B2")
    stranger = new_patient(given="Cora", family="Quist", mrn="MRN-C3")
    relate(doctor, mine, "care_team")
    relate(doctor, other, "care_team")
    application = app("Growth Chart (SMART)")
    verifier, challenge = pkce()
    query = authorize_query(application, "launch/patient patient/*.rs openid fhirUser", challenge)
    page.route(
        "https://app.example.test/**",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            body="<!DOCTYPE html><title>App</title><h1>Example SMART app</h1>",
        ),
    )

    log_in_with_password(page, doctor.username, TEST_PASSWORD)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.fill("input[name=code]", totp_now(doctor.test_totp_secret))
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Good to see you')")

    page.goto(f"/o/authorize/?{urlencode(query)}")
    page.wait_for_url("**/o/authorize/patient/")
    assert page.get_by_role("heading", name="Choose the patient for “Growth Chart (SMART)”").is_visible()
    screenshot(page, "smart-01-picker")

    page.get_by_label("Name").fill("quist")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#picker-results")
    assert "quist" not in page.url.lower()  # the criteria went in the POST body
    # A name alone finds only the doctor's own patients (ADR 0728).
    assert "Cora" not in page.inner_text("#picker-results")
    screenshot(page, "smart-02-picker-results")

    # With the date of birth a patient without a care relationship is listed, but cannot be chosen.
    page.get_by_label("Date of birth").fill("1980-02-03")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Choose QUIST, Cora").click()
    page.wait_for_selector("text=cannot be given to the app")
    screenshot(page, "smart-03-not-choosable")

    page.get_by_label("Name").fill("ada quist")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Choose QUIST, Ada").click()
    page.wait_for_selector("#consent-heading")
    assert "QUIST, Ada" in page.locator("#launch-patient").inner_text()
    assert "quist" not in page.url.lower()
    screenshot(page, "smart-04-consent")

    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT}?*")
    assert "quist" not in page.url.lower()
    screenshot(page, "smart-05-back-in-the-app")

    tokens = exchange(Client(), application, page.url, verifier)
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    assert body["patient"] == mine
    assert "id_token" in body
    api = Client()
    assert api.get(f"/fhir/Patient/{mine}", **bearer(body["access_token"])).status_code == 200
    assert api.get(f"/fhir/Patient/{other}", **bearer(body["access_token"])).status_code == 404
    assert api.get(f"/fhir/Patient/{stranger}", **bearer(body["access_token"])).status_code == 404
