"""Posture on OAuth bearer requests (ADR 1016): a token issued through a trusted device
proxy carries the device it was issued to; FHIR and REST chart reads with it are judged
by that device's posture now (a device later lost: refused), and by the device the
request itself comes from; the lookup writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import AccessToken

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.devices.identity import posture_for_token
from safeward.devices.models import ClientDevice, Device, DevicePosture, TokenDevice
from tests.clinical.conftest import new_patient, relate
from tests.conftest import sign_in
from tests.devices.posture_support import BAD, GOOD, fingerprint_of, ward_behind_proxies
from tests.fhir.helpers import app, authorize, bearer, token

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"  # a device proxy inside the clinical zone
UNKNOWN = fingerprint_of("nobody-knows")


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, frozen_clock):
    settings.VAR_DIR = tmp_path
    ward_behind_proxies(settings)


@pytest.fixture
def doctor_and_patient(make_user):
    doctor = make_user("physician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    return doctor, patient


def issue(doctor, fingerprint: str | None, *, peer: str = PROXY) -> str:
    """A token through the whole authorization code flow, from a device (or none)."""
    headers: dict[str, Any] = {"REMOTE_ADDR": peer}
    if fingerprint is not None:
        headers["HTTP_X_CLIENT_CERT_SHA256"] = fingerprint
    client = Client(**headers)
    sign_in(client, doctor)
    return str(authorize(client, app(), "user/Patient.rs")["access_token"])


def read(raw: str, patient: str, **extra: str) -> int:
    """A FHIR Patient read with the bearer token (REMOTE_ADDR 127.0.0.1: the ward)."""
    headers: dict[str, Any] = {**bearer(raw), **extra}
    return int(Client().get(f"/fhir/Patient/{patient}", **headers).status_code)


def test_a_token_carries_the_device_it_was_issued_to(doctor_and_patient):
    doctor, patient = doctor_and_patient
    raw = issue(doctor, GOOD)
    binding = TokenDevice.objects.get()
    assert binding.device is not None
    assert (binding.device.asset_tag, binding.fingerprint) == ("LT-GOOD", GOOD)
    event = AuditEvent.objects.get(resource_type="TokenDevice")
    assert (event.actor_id, event.detail["posture"]) == (doctor.pk, "compliant")
    # Used from the app's server (no certificate): still the laptop's posture.
    assert read(raw, patient=patient) == 200
    # The laptop is later marked stolen (without revoking the token): its token reads nothing.
    Device.objects.filter(asset_tag="LT-GOOD").update(lifecycle=Device.Lifecycle.STOLEN)
    assert read(raw, patient=patient) in (403, 404)
    denied = AuditEvent.objects.filter(outcome="denied", actor_id=doctor.pk).latest("pk")
    assert denied.reason == "device_lost"


def test_the_worse_of_the_bound_and_the_requesting_device_counts(doctor_and_patient):
    doctor, _ = doctor_and_patient
    issue(doctor, GOOD)
    token_id = AccessToken.objects.get().pk
    plain = RequestFactory().get("/")  # no certificate
    assert posture_for_token(plain, token_id) == "compliant"
    from_bad = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_CLIENT_CERT_SHA256=BAD)
    assert posture_for_token(from_bad, token_id) == "non_compliant"


def test_an_unknown_certificate_makes_an_unmanaged_token(doctor_and_patient):
    doctor, _ = doctor_and_patient
    issue(doctor, UNKNOWN)
    binding = TokenDevice.objects.get()
    assert (binding.device, binding.fingerprint) == (None, UNKNOWN)
    assert posture_for_token(RequestFactory().get("/"), binding.access_token_id) == "unmanaged"


def test_no_certificate_or_a_spoofed_one_binds_nothing(doctor_and_patient):
    doctor, patient = doctor_and_patient
    raw = issue(doctor, None)
    assert not TokenDevice.objects.exists()
    assert read(raw, patient=patient) == 200
    issue(doctor, BAD, peer="192.0.2.9")  # not a device proxy: the header is ignored
    assert not TokenDevice.objects.exists()
    assert AuditEvent.objects.filter(resource_type="DeviceIdentity", outcome="denied").exists()


def test_a_token_without_binding_follows_the_requesting_device(doctor_and_patient):
    doctor, patient = doctor_and_patient
    raw = token(doctor, "user/Patient.rs")
    assert read(raw, patient=patient) == 200
    Device.objects.filter(asset_tag="LT-BAD").update(lifecycle=Device.Lifecycle.LOST)
    lost = {"REMOTE_ADDR": PROXY, "HTTP_X_CLIENT_CERT_SHA256": BAD}
    assert read(raw, patient=patient, **lost) in (403, 404)


def test_the_bearer_posture_lookup_writes_nothing(doctor_and_patient):
    doctor, patient = doctor_and_patient
    raw = issue(doctor, GOOD)
    with CaptureQueriesContext(connection) as queries:
        assert read(raw, patient=patient) == 200
    device_writes = [
        q["sql"]
        for q in queries.captured_queries
        if "devices_" in q["sql"] and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert device_writes == []
    assert any("devices_tokendevice" in q["sql"] for q in queries.captured_queries)


def test_reporting_the_device_lost_revokes_the_tokens_issued_to_it(doctor_and_patient, make_user):
    """A token bound to the laptop whose holder never had a session seen on it is revoked too."""
    from safeward.devices.posture import device_report_lost

    doctor, patient = doctor_and_patient
    raw = token(doctor, "user/Patient.rs")
    laptop = Device.objects.get(asset_tag="LT-GOOD")
    TokenDevice.objects.create(
        access_token=AccessToken.objects.get(), device=laptop, fingerprint=GOOD, bound_at=laptop.created_at
    )
    report = device_report_lost(actor=make_user("it_admin"), device_id=laptop.pk, state="lost", reason="taxi")
    assert report.tokens_revoked == 1
    assert read(raw, patient=patient) == 401


# Each lapse of the device, as the inventory or the MDM import writes it, and the posture
# the very next bearer request is judged by. Nothing is kept between requests.
LAPSES = {
    "lost": (lambda d: Device.objects.filter(pk=d.pk).update(lifecycle=Device.Lifecycle.LOST), "lost"),
    "stolen": (lambda d: Device.objects.filter(pk=d.pk).update(lifecycle=Device.Lifecycle.STOLEN), "lost"),
    "retired": (
        lambda d: Device.objects.filter(pk=d.pk).update(lifecycle=Device.Lifecycle.RETIRED),
        "unmanaged",
    ),
    "reported non-compliant": (
        lambda d: DevicePosture.objects.filter(device=d).update(
            compliant=False, compliance_reasons=["disk_not_encrypted"]
        ),
        "non_compliant",
    ),
    "check-in stale": (
        lambda d: DevicePosture.objects.filter(device=d).update(
            last_check_in=clock.now() - dt.timedelta(days=8, minutes=1)
        ),
        "non_compliant",
    ),
    "posture report gone": (lambda d: DevicePosture.objects.filter(device=d).delete(), "unmanaged"),
}


@pytest.mark.parametrize("through", ["binding", "client link"])
@pytest.mark.parametrize("lapse", list(LAPSES))
def test_a_lapse_judges_the_very_next_request(lapse, through, doctor_and_patient):
    """Through the token's own binding (ADR 1016) and its client's linked device (ADR 1018):
    compliant on one request, the lapse written, the next request judged by it. A check-in
    just inside the window still counts as compliant (the timestamp read as UTC)."""
    doctor, _ = doctor_and_patient
    token(doctor, "user/Patient.rs")
    access = AccessToken.objects.select_related("application").get()
    laptop = Device.objects.get(asset_tag="LT-GOOD")
    if through == "binding":
        TokenDevice.objects.create(access_token=access, device=laptop, fingerprint="", bound_at=clock.now())
    else:
        ClientDevice.objects.create(
            application=access.application, device=laptop, linked_at=clock.now(), reason="kiosk"
        )
    DevicePosture.objects.filter(device=laptop).update(
        last_check_in=clock.now() - dt.timedelta(days=7, minutes=-1)
    )
    assert posture_for_token(RequestFactory().get("/"), access.pk) == "compliant"
    write, expected = LAPSES[lapse]
    write(laptop)
    assert posture_for_token(RequestFactory().get("/"), access.pk) == expected
