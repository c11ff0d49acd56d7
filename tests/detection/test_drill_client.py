"""The drill's web client against a live server: it signs in the way a
browser does (password, then the TOTP step), is refused with a wrong
password, signs in twice within one TOTP period without replaying a code,
steps up and breaks the glass, and keeps the Secure cookies on loopback."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import PatientInput, SessionContext, SystemActor
from safeward.detection.drills.client import DrillClient, DrillHTTPError, _is_loopback, tls_context
from safeward.identity import services as identity_services

pytestmark = pytest.mark.slow

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def loopback_clinical(transactional_db):
    identity_services.zone_save(actor=None, name="loopback", cidrs=["127.0.0.0/8", "::1/128"], clinical=True)


def _user(make_user, role: str):
    user = make_user(role)
    user.set_password(PASSWORD)
    user.save()
    return user


def _patient() -> str:
    return gateway.patient_register(
        actor=SystemActor("test"),
        session=SessionContext.system(),
        purpose=PurposeOfUse.OPERATIONS,
        data=PatientInput(given_name="Test", family_name="Decoy", birth_date=dt.date(1990, 1, 1)),
    ).id


def test_sign_in_with_password_and_totp(live_server, loopback_clinical, make_user):
    user = _user(make_user, "nurse")
    client = DrillClient(live_server.url, label="test")
    assert client.sign_in(user.username, PASSWORD, user.test_totp_secret).ok
    assert client.get("/").status == 200
    names = {cookie.name for cookie in client.jar}
    assert "__Host-safeward_session" in names


def test_wrong_password_and_missing_factor_are_refused(live_server, loopback_clinical, make_user):
    user = _user(make_user, "nurse")
    client = DrillClient(live_server.url)
    assert client.sign_in(user.username, "not-the-password", user.test_totp_secret).outcome == "refused"
    assert client.sign_in(user.username, PASSWORD, None).outcome == "mfa_refused"
    assert client.get("/").redirects_to("/accounts/login/")


def test_two_sign_ins_in_one_totp_period_use_two_codes(live_server, loopback_clinical, make_user):
    user = _user(make_user, "nurse")
    assert DrillClient(live_server.url).sign_in(user.username, PASSWORD, user.test_totp_secret).ok
    assert DrillClient(live_server.url).sign_in(user.username, PASSWORD, user.test_totp_secret).ok


def test_break_glass_with_step_up(live_server, loopback_clinical, make_user, settings):
    user = _user(make_user, "physician")
    patient_id = _patient()
    client = DrillClient(live_server.url)
    assert client.sign_in(user.username, PASSWORD, user.test_totp_secret).ok
    assert client.open_chart(patient_id).status in {403, 404}  # no relationship: the glass is not broken yet
    answer = client.break_glass(
        patient_id, totp_secret=user.test_totp_secret, justification="Drill test reason"
    )
    assert answer.status == 302, answer.body[:500]
    assert client.open_chart(patient_id).status == 200
    assert gateway.page_banners(actor=user, break_glass=True, results=False).break_glass


def test_unreachable_server_is_a_drill_error():
    client = DrillClient("http://127.0.0.1:9")
    with pytest.raises(DrillHTTPError):
        client.get("/")


def test_loopback_detection_and_tls_context():
    assert _is_loopback("localhost:8000")
    assert _is_loopback("127.0.0.1:8443")
    assert _is_loopback("[::1]:8443")
    assert not _is_loopback("hospital.example:443")
    assert tls_context(insecure=True).verify_mode.name == "CERT_NONE"
    assert tls_context().verify_mode.name == "CERT_REQUIRED"
