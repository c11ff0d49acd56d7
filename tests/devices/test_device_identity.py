"""Device identity: the certificate fingerprint header is believed only from a
configured device proxy; from anywhere else it is ignored and audited. The session's
device is recorded, and a device reported lost ends its sessions on the next request."""

from __future__ import annotations

import ipaddress

import pytest

from safeward.audit.models import AuditEvent
from safeward.clinical.types import SessionContext
from safeward.devices.models import Device, DeviceSession, WipeRequest
from safeward.devices.posture import device_report_lost, posture_import
from safeward.identity.models import UserSession
from safeward.incidents.models import Incident
from tests.conftest import sign_in
from tests.devices.posture_support import fingerprint_of, fixture, make_device

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"
PROXIES = [ipaddress.ip_network("10.0.0.0/29")]
FP = fingerprint_of("ward5-lt-001")


def header(fp: str = FP) -> dict[str, str]:
    return {"HTTP_X_CLIENT_CERT_SHA256": fp}


@pytest.fixture(autouse=True)
def _proxies(settings, frozen_clock):
    settings.SAFEWARD_DEVICE_PROXIES = PROXIES


def test_a_header_from_the_trusted_proxy_identifies_the_device_and_records_the_session(client, make_user):
    device = make_device("LT-001", serial="C02PW0001", fingerprint=FP)
    posture_import(actor=None, source="fleet", data=fixture("posture_fleet.json"))
    user = make_user("nurse")
    user_session = sign_in(client, user)
    response = client.get("/", REMOTE_ADDR=PROXY, **header(FP.upper()))
    assert response.status_code == 200
    seen = DeviceSession.objects.get()
    assert (seen.device_id, seen.session_id, seen.user_id) == (device.pk, user_session.pk, user.pk)
    client.get("/", REMOTE_ADDR=PROXY, **header())
    assert DeviceSession.objects.count() == 1
    assert AuditEvent.objects.filter(resource_type="DeviceSession", actor_id=user.pk).count() == 1


def test_a_spoofed_header_from_elsewhere_is_ignored_and_audited(client, make_user):
    make_device("LT-001", serial="C02PW0001", fingerprint=FP, lifecycle=Device.Lifecycle.STOLEN)
    user = make_user("nurse")
    sign_in(client, user)
    response = client.get("/", REMOTE_ADDR="192.0.2.44", **header())
    assert response.status_code == 200  # the stolen device's header is not believed: nothing ends
    assert not DeviceSession.objects.exists()
    event = AuditEvent.objects.get(resource_type="DeviceIdentity")
    assert event.action == "access_denied"
    assert event.outcome == "denied"
    assert event.detail["peer"] == "192.0.2.44"
    assert event.actor_id == user.pk


@pytest.mark.parametrize(
    ("lifecycle", "posture_file", "peer", "expected"),
    [
        (None, None, PROXY, "unmanaged"),  # a certificate the inventory does not know
        (Device.Lifecycle.IN_SERVICE, None, PROXY, "unmanaged"),  # no MDM report
        (Device.Lifecycle.IN_SERVICE, "good", PROXY, "compliant"),
        (Device.Lifecycle.IN_SERVICE, "bad", PROXY, "non_compliant"),
        (Device.Lifecycle.LOST, "good", PROXY, "lost"),
        (Device.Lifecycle.RETIRED, "good", PROXY, "unmanaged"),
        (Device.Lifecycle.LOST, "good", "192.0.2.1", "unidentified"),  # spoofed: ignored
    ],
)
def test_the_posture_the_policy_receives(rf, make_user, lifecycle, posture_file, peer, expected):
    if lifecycle is not None:
        serial = "PF4XW0002" if posture_file == "bad" else "C02PW0001"
        make_device("LT-X", serial=serial, fingerprint=FP)
        if posture_file:
            posture_import(actor=None, source="fleet", data=fixture("posture_fleet.json"))
        Device.objects.update(lifecycle=lifecycle)
    request = rf.get("/", REMOTE_ADDR=peer, **header())
    request.user = make_user("physician")
    request.safeward_session = None
    assert SessionContext.from_request(request).device_posture == expected


def test_without_a_header_the_device_is_unidentified(rf, make_user):
    request = rf.get("/", REMOTE_ADDR=PROXY)
    request.user = make_user("physician")
    assert SessionContext.from_request(request).device_posture == "unidentified"


def test_a_stale_report_is_non_compliant(make_user, rf, frozen_clock):
    make_device("LT-001", serial="C02PW0001", fingerprint=FP)
    posture_import(actor=None, source="fleet", data=fixture("posture_fleet.json"))
    frozen_clock.advance(days=8)
    request = rf.get("/", REMOTE_ADDR=PROXY, **header())
    request.user = make_user("physician")
    assert SessionContext.from_request(request).device_posture == "non_compliant"


def test_a_device_reported_lost_ends_its_sessions_on_the_next_request(client, make_user):
    device = make_device("LT-001", serial="C02PW0001", fingerprint=FP)
    reporter = make_user("it_admin")
    user = make_user("nurse")
    user_session = sign_in(client, user)
    assert client.get("/", REMOTE_ADDR=PROXY, **header()).status_code == 200
    report = device_report_lost(
        actor=reporter, device_id=device.pk, state="stolen", reason="Taken from the nurses' station"
    )
    assert report.sessions_ended == 1
    # The next request, even without the certificate (another network), is refused.
    response = client.get("/", REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 401
    user_session.refresh_from_db()
    assert user_session.end_reason == "device_lost"
    wipe = WipeRequest.objects.get()
    assert (wipe.device_id, wipe.sessions_ended, wipe.requested_by_id) == (device.pk, 1, reporter.pk)
    incident = Incident.objects.get(pk=report.incident_id)
    assert incident.title == "Device LT-001 reported stolen"
    device.refresh_from_db()
    assert device.lifecycle == "stolen"


def test_a_new_session_on_a_lost_device_is_ended_at_once(client, make_user):
    make_device("LT-001", fingerprint=FP, lifecycle=Device.Lifecycle.LOST)
    user = make_user("nurse")
    user_session = sign_in(client, user)
    response = client.get("/", REMOTE_ADDR=PROXY, **header())
    assert response.status_code == 401
    assert UserSession.objects.get(pk=user_session.pk).end_reason == "device_lost"


def test_report_lost_refuses_nonsense():
    from safeward.devices.services import DeviceError

    device = make_device("LT-001")
    with pytest.raises(DeviceError, match="lost or stolen"):
        device_report_lost(actor=None, device_id=device.pk, state="retired", reason="x")
    with pytest.raises(DeviceError, match="Say what happened"):
        device_report_lost(actor=None, device_id=device.pk, state="lost", reason="  ")
    device_report_lost(actor=None, device_id=device.pk, state="lost", reason="gone")
    with pytest.raises(DeviceError, match="cannot become"):
        device_report_lost(actor=None, device_id=device.pk, state="stolen", reason="again")
    assert WipeRequest.objects.count() == 1
