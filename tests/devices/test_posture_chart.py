"""Posture through the whole request: a physician on a non-compliant laptop reads the
chart but a document download is refused with a clear reason (and audited); outside
the clinical zone the same laptop opens no patient data; a compliant one downloads."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent
from tests.clinical.conftest import new_patient, relate
from tests.clinical.test_ui_workflows import _upload, token
from tests.conftest import sign_in
from tests.devices.posture_support import BAD, GOOD, fingerprint_of, ward_behind_proxies

pytestmark = pytest.mark.django_db

WARD_PROXY = "10.0.0.5"  # a device proxy inside the clinical zone
REMOTE_PROXY = "10.0.0.6"  # a device proxy of the remote-access gateway


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, frozen_clock):
    settings.VAR_DIR = tmp_path
    ward_behind_proxies(settings)


@pytest.fixture
def chart_with_document(make_user):
    patient = new_patient()
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    client = Client()
    sign_in(client, doctor)
    submission = token(client, f"/clinical/patients/{patient}/", "document-form")
    assert _upload(client, patient, submission=submission).status_code == 302
    chart = client.get(f"/clinical/patients/{patient}/").content.decode()
    link = re.search(rf'href="(/clinical/patients/{patient}/documents/[0-9a-f-]{{36}}/)"', chart)
    assert link is not None
    return client, doctor, patient, link.group(1)


def test_a_non_compliant_laptop_reads_the_chart_but_may_not_download(chart_with_document):
    client, doctor, patient, download = chart_with_document
    bad = {"REMOTE_ADDR": WARD_PROXY, "HTTP_X_CLIENT_CERT_SHA256": BAD}
    assert client.get(f"/clinical/patients/{patient}/", **bad).status_code == 200
    refused = client.get(download, **bad)
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "does not meet the hospital&#x27;s security requirements" in page
    assert 'data-device-refusal="device_non_compliant"' in page
    denied = AuditEvent.objects.get(resource_type="Document", outcome="denied", actor_id=doctor.pk)
    assert denied.reason == "device_non_compliant"
    printed = client.get(f"/clinical/patients/{patient}/print/", **bad)
    assert printed.status_code == 403
    # The same refusal for a patient that does not exist: the page reveals nothing.
    missing = download.replace(patient, "00000000-0000-4000-8000-000000000000")
    assert client.get(missing, **bad).status_code == 403


def test_a_compliant_laptop_downloads(chart_with_document):
    client, _, _, download = chart_with_document
    good = {"REMOTE_ADDR": WARD_PROXY, "HTTP_X_CLIENT_CERT_SHA256": GOOD}
    assert client.get(download, **good).status_code == 200


def test_an_unknown_certificate_may_not_download(chart_with_document):
    client, _, _, download = chart_with_document
    unknown = {"REMOTE_ADDR": WARD_PROXY, "HTTP_X_CLIENT_CERT_SHA256": fingerprint_of("home-pc")}
    response = client.get(download, **unknown)
    assert response.status_code == 403
    assert "not managed by the hospital" in response.content.decode()


def test_a_non_compliant_laptop_outside_the_clinical_zone_opens_nothing(chart_with_document):
    client, _, patient, _ = chart_with_document
    away = {"REMOTE_ADDR": REMOTE_PROXY, "HTTP_X_CLIENT_CERT_SHA256": BAD}
    response = client.get(f"/clinical/patients/{patient}/", **away)
    assert response.status_code == 403
    assert "outside the hospital" in response.content.decode()
    good_away = {"REMOTE_ADDR": REMOTE_PROXY, "HTTP_X_CLIENT_CERT_SHA256": GOOD}
    assert client.get(f"/clinical/patients/{patient}/", **good_away).status_code == 200


def test_a_spoofed_header_changes_nothing(chart_with_document):
    client, _, _, download = chart_with_document
    spoofed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_CLIENT_CERT_SHA256": BAD}
    assert client.get(download, **spoofed).status_code == 200
    assert AuditEvent.objects.filter(resource_type="DeviceIdentity", outcome="denied").exists()


def test_strict_mode_refuses_a_download_from_an_unidentified_device(chart_with_document, settings):
    """ADR 1015: with SAFEWARD_DEVICE_STRICT a session with no device certificate reads
    the chart but takes nothing away; without it the same request downloads."""
    client, _, patient, download = chart_with_document
    assert client.get(download).status_code == 200
    settings.SAFEWARD_DEVICE_STRICT = True
    assert client.get(f"/clinical/patients/{patient}/").status_code == 200
    refused = client.get(download)
    assert refused.status_code == 403
    assert 'data-device-refusal="device_unidentified"' in refused.content.decode()
    assert client.get(f"/clinical/patients/{patient}/print/").status_code == 403
    # A compliant device is identified, so strict mode does not touch it.
    good = {"REMOTE_ADDR": WARD_PROXY, "HTTP_X_CLIENT_CERT_SHA256": GOOD}
    assert client.get(download, **good).status_code == 200
