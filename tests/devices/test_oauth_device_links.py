"""OAuth clients, consents and refresh tokens on devices (ADRs 1018, 1019).

A kiosk client linked to a device is judged by that device's posture on every token;
the consenting browser's device is carried into the authorization code; a refresh
keeps the binding of the refresh token, and is refused for a lost device or from
another device."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from oauth2_provider.models import AccessToken, RefreshToken

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.devices.identity import posture_for_token
from safeward.devices.models import ClientDevice, Device, GrantDevice, RefreshTokenDevice, TokenDevice
from safeward.devices.oauth_links import client_link, client_links, client_unlink
from safeward.devices.posture import device_report_lost
from safeward.devices.services import DeviceError
from safeward.fhir import clients
from safeward.incidents.models import Incident
from tests.api.test_error_shape import assert_error_shape
from tests.clinical.conftest import new_patient, relate
from tests.conftest import sign_in
from tests.devices.posture_support import BAD, GOOD, fingerprint_of, make_device, ward_behind_proxies
from tests.fhir.helpers import REDIRECT, authorize_query, bearer, exchange, pkce, token

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"
UNKNOWN = fingerprint_of("nobody-knows")


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, frozen_clock):
    settings.VAR_DIR = tmp_path
    ward_behind_proxies(settings)


@pytest.fixture
def officer(make_user):
    return make_user("security_officer")


@pytest.fixture
def kiosk_app(make_user):
    registered = clients.client_register(
        actor=make_user("it_admin"),
        name="Ward 3 kiosk",
        owner=make_user("it_admin"),
        grant="authorization-code",
        client_type="public",
        scopes="openid fhirUser user/Patient.rs",
        redirect_uris=REDIRECT,
        expires_at=clock.now() + dt.timedelta(days=365),
    )
    return registered.registration.application


@pytest.fixture
def doctor_and_patient(make_user):
    doctor = make_user("physician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    return doctor, patient


def device(tag: str) -> Device:
    return Device.objects.get(asset_tag=tag)


def read(raw: str, patient: str, **extra: Any) -> int:
    headers: dict[str, Any] = {**bearer(raw), **extra}
    return int(Client().get(f"/fhir/Patient/{patient}", **headers).status_code)


def cert(fingerprint: str | None) -> dict[str, Any]:
    headers: dict[str, Any] = {"REMOTE_ADDR": PROXY}
    if fingerprint is not None:
        headers["HTTP_X_CLIENT_CERT_SHA256"] = fingerprint
    return headers


def consent(doctor, application, fingerprint: str | None) -> tuple[str, str]:
    """Sign in and approve `application` in a browser on a device: (redirect location, verifier)."""
    browser = Client(**cert(fingerprint))
    sign_in(browser, doctor)
    verifier, challenge = pkce()
    query = authorize_query(application, "user/Patient.rs", challenge)
    assert browser.get("/o/authorize/", query).status_code == 200
    response = browser.post("/o/authorize/", {**query, "allow": "Authorize"})
    assert response.status_code == 302, response.content[:300]
    return response["Location"], verifier


def exchange_from(application, location: str, verifier: str, fingerprint: str | None) -> dict:
    response = exchange(Client(**cert(fingerprint)), application, location, verifier)
    assert response.status_code == 200, response.content
    return dict(response.json())


def refresh(application, raw_refresh: str, fingerprint: str | None = None):
    return Client(**cert(fingerprint)).post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": raw_refresh, "client_id": application.client_id},
    )


def bound_tag(raw_access: str) -> str | None:
    import hashlib

    access = AccessToken.objects.get(token_checksum=hashlib.sha256(raw_access.encode()).hexdigest())
    binding = TokenDevice.objects.filter(access_token=access).select_related("device").first()
    if binding is None:
        return None
    return binding.device.asset_tag if binding.device else "unknown"


# --- 1. a client linked to a device -----------------------------------------------------------------
def test_a_security_officer_links_and_unlinks_a_client_with_audit(officer, kiosk_app):
    laptop = device("LT-GOOD")
    link = client_link(
        actor=officer, device_id=laptop.pk, client_id=kiosk_app.client_id, reason="ward 3 kiosk"
    )
    assert (link.device, link.application, link.linked_by) == (laptop, kiosk_app, officer)
    created = AuditEvent.objects.get(resource_type="ClientDevice", action="create")
    assert (created.actor_id, created.detail["device"]) == (officer.pk, laptop.pk)
    assert [row.posture for row in client_links(device_id=laptop.pk)] == ["compliant"]
    assert client_unlink(actor=officer, client_id=kiosk_app.client_id, reason="moved") == laptop
    assert not ClientDevice.objects.exists()
    assert AuditEvent.objects.filter(resource_type="ClientDevice", action="delete").count() == 1


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not_an_officer", "security officer"),
        ("unknown_client", "No registered OAuth client"),
        ("revoked_client", "revoked"),
        ("device_not_in_service", "in service"),
        ("missing_device", "No device"),
        ("blank_reason", "Say why"),
        ("already_linked", "already linked"),
    ],
)
def test_bad_links_are_refused_and_nothing_is_saved(case, message, officer, kiosk_app, make_user):
    actor, device_id, client_id, reason = officer, device("LT-GOOD").pk, kiosk_app.client_id, "kiosk"
    if case == "not_an_officer":
        actor = make_user("it_admin")  # manages devices, but not security configuration
    elif case == "unknown_client":
        client_id = "no-such-client"
    elif case == "revoked_client":
        clients.client_revoke(
            actor=make_user("it_admin"), registration_id=kiosk_app.registration.pk, reason="gone"
        )
    elif case == "device_not_in_service":
        Device.objects.filter(pk=device_id).update(lifecycle=Device.Lifecycle.RETIRED)
    elif case == "missing_device":
        device_id = 999_999
    elif case == "blank_reason":
        reason = "   "
    elif case == "already_linked":
        client_link(actor=officer, device_id=device("LT-BAD").pk, client_id=client_id, reason="first")
    before = (ClientDevice.objects.count(), AuditEvent.objects.filter(resource_type="ClientDevice").count())
    with pytest.raises(DeviceError, match=message):
        client_link(actor=actor, device_id=device_id, client_id=client_id, reason=reason)
    after = (ClientDevice.objects.count(), AuditEvent.objects.filter(resource_type="ClientDevice").count())
    assert after == before


def test_unlinking_a_client_that_is_not_linked_is_refused(officer, kiosk_app):
    with pytest.raises(DeviceError, match="not linked"):
        client_unlink(actor=officer, client_id=kiosk_app.client_id, reason="x")


# The worse of the token's own device, the client's linked device and the request's device.
POSTURE_OF = {"LT-GOOD": "compliant", "LT-BAD": "non_compliant", "LOST": "lost", None: None}


@pytest.mark.parametrize("linked", ["LT-GOOD", "LT-BAD", "LOST", None])
@pytest.mark.parametrize("bound", ["LT-GOOD", "LT-BAD", "LOST", None])
def test_the_worse_of_binding_and_link_judges_every_token(linked, bound, officer, kiosk_app, make_user):
    lost = make_device("LT-LOST", fingerprint=fingerprint_of("lost"))
    tags = {"LT-GOOD": device("LT-GOOD"), "LT-BAD": device("LT-BAD"), "LOST": lost, None: None}
    raw = token(make_user("physician"), "user/Patient.rs", application=kiosk_app)
    access = AccessToken.objects.get()
    if bound is not None:
        TokenDevice.objects.create(
            access_token=access, device=tags[bound], fingerprint="", bound_at=clock.now()
        )
    if linked is not None:
        client_link(actor=officer, device_id=tags[linked].pk, client_id=kiosk_app.client_id, reason="kiosk")
    Device.objects.filter(pk=lost.pk).update(lifecycle=Device.Lifecycle.LOST)
    order = ["unidentified", "compliant", "unmanaged", "non_compliant", "lost"]
    judged = [p for p in (POSTURE_OF[linked], POSTURE_OF[bound]) if p] or ["unidentified"]
    expected = max(judged, key=order.index)
    assert raw
    assert posture_for_token(RequestFactory().get("/"), access.pk) == expected


def test_a_lost_linked_device_refuses_the_clients_chart_reads(officer, kiosk_app, doctor_and_patient):
    doctor, patient = doctor_and_patient
    raw = token(doctor, "user/Patient.rs", application=kiosk_app)
    kiosk = device("LT-GOOD")  # a compliant device the kiosk app runs on
    client_link(actor=officer, device_id=kiosk.pk, client_id=kiosk_app.client_id, reason="ward 3 kiosk")
    assert read(raw, patient) == 200
    Device.objects.filter(pk=kiosk.pk).update(lifecycle=Device.Lifecycle.STOLEN)
    assert read(raw, patient) in (403, 404)
    assert AuditEvent.objects.filter(outcome="denied", reason="device_lost").exists()
    # Unlinked (the token itself is bound to nothing): the device no longer judges it.
    client_unlink(actor=officer, client_id=kiosk_app.client_id, reason="replaced")
    assert read(raw, patient) == 200


def test_reporting_a_linked_device_lost_revokes_the_clients_tokens(officer, kiosk_app, doctor_and_patient):
    doctor, patient = doctor_and_patient
    location, verifier = consent(doctor, kiosk_app, None)
    body = exchange_from(kiosk_app, location, verifier, None)
    laptop = device("LT-GOOD")
    client_link(actor=officer, device_id=laptop.pk, client_id=kiosk_app.client_id, reason="kiosk")
    report = device_report_lost(actor=officer, device_id=laptop.pk, state="stolen", reason="gone from ward 3")
    assert report.tokens_revoked >= 1
    assert read(body["access_token"], patient) == 401
    assert RefreshToken.objects.get().revoked is not None
    assert refresh(kiosk_app, body["refresh_token"]).status_code == 400


# --- 2. the consenting browser's device ----------------------------------------------------------
def test_the_token_is_bound_to_the_consenting_browsers_device(kiosk_app, doctor_and_patient):
    doctor, _ = doctor_and_patient
    location, verifier = consent(doctor, kiosk_app, GOOD)
    recorded = GrantDevice.objects.get()
    assert (recorded.device.asset_tag, recorded.fingerprint, recorded.user) == ("LT-GOOD", GOOD, doctor)
    assert AuditEvent.objects.filter(resource_type="GrantDevice", actor_id=doctor.pk).count() == 1
    # The exchange presents another device's certificate: the consent's device counts.
    body = exchange_from(kiosk_app, location, verifier, BAD)
    assert bound_tag(body["access_token"]) == "LT-GOOD"
    assert not GrantDevice.objects.exists()  # one code, one exchange
    event = AuditEvent.objects.filter(resource_type="TokenDevice").latest("pk")
    assert event.detail["source"] == "consent"


@pytest.mark.parametrize(
    ("browser", "exchange_cert", "expected"),
    [
        (GOOD, None, "LT-GOOD"),  # a confidential app's server exchanges without a certificate
        (UNKNOWN, GOOD, "unknown"),  # an unknown certificate at consent: unmanaged
        (None, GOOD, "LT-GOOD"),  # an unidentified browser: the token request's device (ADR 1016)
        (None, None, None),
    ],
)
def test_consent_and_exchange_matrix(browser, exchange_cert, expected, kiosk_app, doctor_and_patient):
    doctor, _ = doctor_and_patient
    location, verifier = consent(doctor, kiosk_app, browser)
    body = exchange_from(kiosk_app, location, verifier, exchange_cert)
    assert bound_tag(body["access_token"]) == expected


def test_a_spoofed_certificate_at_consent_records_nothing(kiosk_app, doctor_and_patient):
    doctor, _ = doctor_and_patient
    browser = Client(REMOTE_ADDR="192.0.2.9", HTTP_X_CLIENT_CERT_SHA256=GOOD)  # not a device proxy
    sign_in(browser, doctor)
    _, challenge = pkce()
    query = authorize_query(kiosk_app, "user/Patient.rs", challenge)
    browser.get("/o/authorize/", query)
    assert browser.post("/o/authorize/", {**query, "allow": "Authorize"}).status_code == 302
    assert not GrantDevice.objects.exists()


def test_consents_never_exchanged_are_purged_by_the_daily_job(
    kiosk_app, doctor_and_patient, frozen_clock, capsys, settings
):
    """ADR 1020: a consent row whose code expired unexchanged no longer waits for the next
    consent; the scheduler's `devices_consents` job deletes it, audited once per run."""
    from oauth2_provider.settings import oauth2_settings

    from safeward.continuity.schedule import BY_CODE
    from safeward.devices.oauth_links import PURGE_ACTOR

    doctor, _ = doctor_and_patient
    lifetime = oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS
    consent(doctor, kiosk_app, GOOD)
    frozen_clock.advance(seconds=lifetime / 2)
    consent(doctor, kiosk_app, BAD)
    frozen_clock.advance(seconds=lifetime / 2 + 1)  # the first code expired, the second not yet
    job = BY_CODE["devices_consents"].argv
    call_command(*job)
    assert "1 expired consent device(s) deleted." in capsys.readouterr().out
    assert list(GrantDevice.objects.values_list("device__asset_tag", flat=True)) == ["LT-BAD"]
    event = AuditEvent.objects.get(resource_type="GrantDevice", action="delete")
    assert (event.actor_username, event.detail["deleted"]) == (PURGE_ACTOR, 1)
    # Nothing more expired: nothing deleted, nothing recorded.
    call_command(*job)
    assert "0 expired consent device(s) deleted." in capsys.readouterr().out
    assert AuditEvent.objects.filter(resource_type="GrantDevice", action="delete").count() == 1
    frozen_clock.advance(seconds=lifetime)
    call_command(*job)
    assert not GrantDevice.objects.exists()


# --- 3. refresh tokens ----------------------------------------------------------------------------
def test_a_refresh_keeps_the_binding_of_the_refresh_token(kiosk_app, doctor_and_patient):
    doctor, patient = doctor_and_patient
    body = exchange_from(kiosk_app, *consent(doctor, kiosk_app, GOOD), None)
    assert RefreshTokenDevice.objects.get().device.asset_tag == "LT-GOOD"
    for _ in range(2):  # twice: the second refresh uses the token the first one issued
        response = refresh(kiosk_app, body["refresh_token"])  # the app's server: no certificate
        assert response.status_code == 200, response.content
        body = response.json()
        assert bound_tag(body["access_token"]) == "LT-GOOD"
    assert AuditEvent.objects.filter(resource_type="TokenDevice").latest("pk").detail["source"] == "refresh"
    assert (
        RefreshTokenDevice.objects.filter(refresh_token__revoked__isnull=True).get().device.asset_tag
        == "LT-GOOD"
    )
    assert read(body["access_token"], patient) == 200
    # The laptop is set lost without revoking anything: the refreshed token reads nothing.
    Device.objects.filter(asset_tag="LT-GOOD").update(lifecycle=Device.Lifecycle.LOST)
    assert read(body["access_token"], patient) in (403, 404)


def test_a_refresh_without_binding_takes_the_requests_device(kiosk_app, doctor_and_patient):
    doctor, _ = doctor_and_patient
    body = exchange_from(kiosk_app, *consent(doctor, kiosk_app, None), None)
    assert not TokenDevice.objects.exists()
    response = refresh(kiosk_app, body["refresh_token"], GOOD)
    assert response.status_code == 200
    assert bound_tag(response.json()["access_token"]) == "LT-GOOD"


@pytest.mark.parametrize(
    ("how", "fingerprint", "reason"),
    [
        ("bound_lost", None, "device_lost"),
        ("linked_lost", None, "device_lost"),
        ("other_device", BAD, "refresh_from_another_device"),
        ("unknown_device", UNKNOWN, "refresh_from_another_device"),
    ],
)
def test_a_refresh_is_refused_for_a_lost_device_or_from_another(
    how, fingerprint, reason, officer, kiosk_app, doctor_and_patient
):
    doctor, _ = doctor_and_patient
    body = exchange_from(kiosk_app, *consent(doctor, kiosk_app, GOOD), None)
    if how == "bound_lost":
        Device.objects.filter(asset_tag="LT-GOOD").update(lifecycle=Device.Lifecycle.LOST)
    elif how == "linked_lost":
        client_link(
            actor=officer, device_id=device("LT-BAD").pk, client_id=kiosk_app.client_id, reason="kiosk"
        )
        Device.objects.filter(asset_tag="LT-BAD").update(lifecycle=Device.Lifecycle.STOLEN)
    tokens = AccessToken.objects.count()
    response = refresh(kiosk_app, body["refresh_token"], fingerprint)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == tokens - 1  # nothing issued; its access token revoked
    assert RefreshToken.objects.get().revoked is not None
    assert RefreshTokenDevice.objects.get().refused == reason
    denied = AuditEvent.objects.filter(resource_type="RefreshToken", outcome="denied").get()
    assert (denied.reason, denied.actor_id) == (reason, doctor.pk)
    assert denied.detail["revoked"] is True
    incident = Incident.objects.get(pk=denied.detail["incident"])
    assert incident.severity == "high"
    assert body["refresh_token"] not in incident.title + incident.summary


def test_a_copied_refresh_token_is_revoked_for_both_holders(kiosk_app, doctor_and_patient):
    """The copy is refused from another device and revoked: the original device's next
    refresh fails too, and the app signs in again. Each refusal is audited once."""
    doctor, patient = doctor_and_patient
    body = exchange_from(kiosk_app, *consent(doctor, kiosk_app, GOOD), None)
    assert read(body["access_token"], patient, **cert(GOOD)) == 200
    copied = refresh(kiosk_app, body["refresh_token"], BAD)
    assert copied.status_code == 400
    assert copied.json()["error"] == "invalid_grant"
    assert read(body["access_token"], patient, **cert(GOOD)) == 401  # its access token went too
    original = refresh(kiosk_app, body["refresh_token"], GOOD)
    assert original.status_code == 400
    assert original.json()["error"] == "invalid_grant"
    assert "Sign in again" in original.json()["error_description"]
    denied = AuditEvent.objects.filter(resource_type="RefreshToken", outcome="denied").order_by("pk")
    assert [(e.reason, e.detail["request_device"]) for e in denied] == [
        ("refresh_from_another_device", device("LT-BAD").pk),
        ("refresh_token_revoked", device("LT-GOOD").pk),
    ]
    assert Incident.objects.count() == 1  # the copy opened it; the original's retry adds none
    # Signing in again works from the original device.
    again = exchange_from(kiosk_app, *consent(doctor, kiosk_app, GOOD), None)
    assert refresh(kiosk_app, again["refresh_token"], GOOD).status_code == 200


def test_a_refresh_for_a_reported_lost_device_is_revoked(officer, kiosk_app, doctor_and_patient):
    doctor, _ = doctor_and_patient
    body = exchange_from(kiosk_app, *consent(doctor, kiosk_app, None), GOOD)  # bound to LT-GOOD
    Device.objects.filter(asset_tag="LT-GOOD").update(lifecycle=Device.Lifecycle.STOLEN)
    assert refresh(kiosk_app, body["refresh_token"]).status_code == 400  # from the server
    assert refresh(kiosk_app, body["refresh_token"]).status_code == 400
    assert RefreshToken.objects.get().revoked is not None
    assert not AccessToken.objects.exists()
    reasons = list(
        AuditEvent.objects.filter(resource_type="RefreshToken", outcome="denied")
        .order_by("pk")
        .values_list("reason", flat=True)
    )
    assert reasons == ["device_lost", "refresh_token_revoked"]


def test_the_same_device_and_an_unknown_refresh_token_pass_the_gate(kiosk_app, doctor_and_patient):
    doctor, _ = doctor_and_patient
    body = exchange_from(kiosk_app, *consent(doctor, kiosk_app, GOOD), None)
    response = refresh(kiosk_app, body["refresh_token"], GOOD)
    assert response.status_code == 200
    # The app's server (no certificate) refreshes the bound token it was given.
    assert refresh(kiosk_app, response.json()["refresh_token"]).status_code == 200
    assert refresh(kiosk_app, "not-a-refresh-token").json()["error"] == "invalid_grant"
    assert not AuditEvent.objects.filter(resource_type="RefreshToken").exists()
    assert not RefreshTokenDevice.objects.exclude(refused="").exists()
    assert not Incident.objects.exists()


def test_reporting_lost_revokes_refresh_tokens_bound_to_the_device(officer, kiosk_app, make_user):
    """The holder's access token is gone (used and deleted): the refresh binding still finds them."""
    nurse = make_user("nurse")
    body = exchange_from(kiosk_app, *consent(nurse, kiosk_app, GOOD), None)
    AccessToken.objects.all().delete()  # e.g. expired and cleared; the refresh token stays
    laptop = device("LT-GOOD")
    report = device_report_lost(actor=officer, device_id=laptop.pk, state="lost", reason="left on a bus")
    assert report.tokens_revoked == 1
    assert refresh(kiosk_app, body["refresh_token"]).status_code == 400


# --- pages, REST, CLI -------------------------------------------------------------------------------
def test_the_device_page_links_and_unlinks_a_client(officer, kiosk_app):
    browser = Client()
    sign_in(browser, officer)
    laptop = device("LT-GOOD")
    page = browser.get(f"/devices/posture/{laptop.pk}/clients/link/")
    assert page.status_code == 200
    assert kiosk_app.client_id in page.content.decode()
    bad = browser.post(f"/devices/posture/{laptop.pk}/clients/link/", {"client_id": kiosk_app.client_id})
    assert bad.status_code == 400
    assert not ClientDevice.objects.exists()
    response = browser.post(
        f"/devices/posture/{laptop.pk}/clients/link/", {"client_id": kiosk_app.client_id, "reason": "kiosk"}
    )
    assert response.status_code == 302
    page = browser.get(f"/devices/posture/{laptop.pk}/").content.decode()
    assert 'id="posture-clients"' in page
    assert "Ward 3 kiosk" in page
    client_page = browser.get(f"/oauth/clients/{kiosk_app.registration.pk}/").content.decode()
    assert "LT-GOOD" in client_page
    assert 'id="client-device-posture">compliant<' in client_page
    browser.post(f"/devices/posture/{laptop.pk}/clients/unlink/", {"client_id": kiosk_app.client_id})
    assert ClientDevice.objects.exists()  # no reason: refused
    browser.post(
        f"/devices/posture/{laptop.pk}/clients/unlink/", {"client_id": kiosk_app.client_id, "reason": "moved"}
    )
    assert not ClientDevice.objects.exists()


def test_the_rest_api_lists_links_and_unlinks(officer, kiosk_app):
    api = Client()
    sign_in(api, officer)
    laptop = device("LT-GOOD")
    url = "/api/v1/devices/posture/client-links/"
    created = api.post(
        url + "link/",
        {"device": laptop.pk, "client_id": kiosk_app.client_id, "reason": "kiosk"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert (created.json()["asset_tag"], created.json()["posture"]) == ("LT-GOOD", "compliant")
    assert [row["client_id"] for row in api.get(url).json()] == [kiosk_app.client_id]
    again = api.post(
        url + "link/",
        {"device": laptop.pk, "client_id": kiosk_app.client_id, "reason": "kiosk"},
        content_type="application/json",
    )
    assert "client_id" in assert_error_shape(again, 400)["errors"]
    missing = api.post(
        url + "link/",
        {"device": 999_999, "client_id": "x", "reason": "kiosk"},
        content_type="application/json",
    )
    assert_error_shape(missing, 400)
    assert_error_shape(api.post(url + "link/", {"device": "one"}, content_type="application/json"), 400)
    gone = api.post(
        url + "unlink/",
        {"client_id": kiosk_app.client_id, "reason": "moved"},
        content_type="application/json",
    )
    assert gone.json() == {"device": laptop.pk, "client_id": kiosk_app.client_id}
    assert_error_shape(
        api.post(
            url + "unlink/",
            {"client_id": kiosk_app.client_id, "reason": "x"},
            content_type="application/json",
        ),
        400,
    )
    assert ClientDevice.objects.count() == 0


def test_the_cli_links_lists_and_unlinks(officer, kiosk_app, make_user, capsys):
    call_command(
        "devices",
        "link-client",
        "LT-GOOD",
        kiosk_app.client_id,
        "--reason",
        "kiosk",
        "--as",
        officer.username,
    )
    call_command("devices", "client-links")
    out = capsys.readouterr().out
    assert "LT-GOOD\tcompliant\t" + kiosk_app.client_id in out
    assert "1 client(s) linked." in out
    with pytest.raises(CommandError, match="not a security officer"):
        call_command(
            "devices",
            "unlink-client",
            kiosk_app.client_id,
            "--reason",
            "x",
            "--as",
            make_user("it_admin").username,
        )
    with pytest.raises(CommandError, match="already linked"):
        call_command(
            "devices", "link-client", "LT-BAD", kiosk_app.client_id, "--reason", "k", "--as", officer.username
        )
    with pytest.raises(CommandError, match="No device"):
        call_command(
            "devices", "link-client", "NOPE", kiosk_app.client_id, "--reason", "k", "--as", officer.username
        )
    call_command(
        "devices", "unlink-client", kiosk_app.client_id, "--reason", "moved", "--as", officer.username
    )
    assert "unlinked from LT-GOOD" in capsys.readouterr().out
    assert not ClientDevice.objects.exists()
