"""Sanitization and disposal: refused without a validated certificate everywhere
(service, web, API, CLI, bulk); the validator is never the operator; a lost
device gives its affected-patient count at once and opens an incident; the
certificate PDF and the pickup summary."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import CommandError, call_command

from safeward import clock
from safeward.demo.facilities import nwipe_demo_log
from safeward.devices.models import Device
from safeward.facilities import services
from safeward.facilities.models import Certificate
from safeward.incidents.models import Incident
from tests.conftest import sign_in
from tests.facilities.conftest import CERTIFICATE

pytestmark = pytest.mark.django_db

LOG = nwipe_demo_log("PF-12345", model="T14")


@pytest.fixture
def laptop(db):
    now = clock.now()
    return Device.objects.create(
        kind="laptop",
        asset_tag="LAP-0042",
        serial="PF-12345",
        lifecycle="retired",
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def tech(make_user):
    return make_user("it_admin", username="ida")


@pytest.fixture
def second(make_user):
    return make_user("biomedical_engineer", username="ben")


def record(actor, device):
    return services.certificate_record(
        actor=actor, fields=dict(CERTIFICATE), device_id=device.pk, evidence=LOG, evidence_name="nwipe.log"
    )


def test_the_whole_way_out(laptop, tech, second):
    certificate = record(tech, laptop)
    assert certificate.evidence_sha256 == hashlib.sha256(LOG).hexdigest()
    services.certificate_validate(actor=second, certificate_id=certificate.pk)
    laptop.refresh_from_db()
    assert laptop.lifecycle == "sanitized"
    services.disposal_record(actor=tech, certificate_id=certificate.pk, pickup="PALLET-7")
    laptop.refresh_from_db()
    assert laptop.lifecycle == "disposed"


def test_the_validator_cannot_be_the_operator(laptop, tech):
    certificate = record(tech, laptop)
    with pytest.raises(services.FacilityError, match="different person"):
        services.certificate_validate(actor=tech, certificate_id=certificate.pk)
    assert Certificate.objects.get().validated_at is None


def test_missing_appendix_g_fields_are_named(laptop, tech):
    fields = dict(CERTIFICATE, person_phone="", method="wipe", backed_up=True)
    with pytest.raises(services.FacilityError) as caught:
        services.certificate_record(actor=tech, fields=fields, device_id=laptop.pk)
    message = str(caught.value)
    assert "person_phone is required" in message
    assert "method must be one of" in message
    assert "backup_location is required" in message
    assert not Certificate.objects.exists()


def test_disposal_without_a_valid_certificate_is_refused_by_the_service(laptop, tech):
    with pytest.raises(services.FacilityError, match="Record a certificate"):
        services.disposal_record(actor=tech, certificate_id=None)
    certificate = record(tech, laptop)
    with pytest.raises(services.FacilityError, match="validated by a second person"):
        services.disposal_record(actor=tech, certificate_id=certificate.pk)
    laptop.refresh_from_db()
    assert laptop.lifecycle == "retired"


def test_disposal_is_refused_on_the_page(client, laptop, tech):
    certificate = record(tech, laptop)
    sign_in(client, tech)
    response = client.post(f"/facilities/certificates/{certificate.pk}/dispose/", {"pickup": "P1"})
    assert response.status_code == 409
    assert "validated by a second person" in response.content.decode()
    assert Certificate.objects.get().disposed_at is None


def test_disposal_is_refused_by_the_api_single_and_bulk(client, laptop, tech, second):
    refused = record(tech, laptop)
    now = clock.now()
    other = Device.objects.create(
        kind="laptop", asset_tag="LAP-7", lifecycle="retired", created_at=now, updated_at=now
    )
    good = record(tech, other)
    services.certificate_validate(actor=second, certificate_id=good.pk)
    sign_in(client, tech)
    response = client.post(
        f"/api/v1/facilities/certificates/{refused.pk}/dispose/", {}, content_type="application/json"
    )
    assert response.status_code == 409
    response = client.post(
        "/api/v1/facilities/disposals/bulk/",
        {"certificate_ids": [good.pk, refused.pk], "pickup": "PALLET-1"},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert f"Certificate {refused.pk}" in response.json()["detail"]
    assert not Certificate.objects.filter(disposed_at__isnull=False).exists()  # all or nothing
    response = client.post(
        "/api/v1/facilities/disposals/bulk/",
        {"certificate_ids": [good.pk], "pickup": "PALLET-1"},
        content_type="application/json",
    )
    assert response.json() == {"disposed": 1}


def test_disposal_is_refused_by_the_cli(laptop, tech):
    with pytest.raises(CommandError, match="Refused: Record a certificate"):
        call_command("facilities", "dispose", str(laptop.pk), "--by", tech.username)
    laptop.refresh_from_db()
    assert laptop.lifecycle == "retired"


def test_the_device_inventory_alone_refuses_too(laptop, tech):
    from safeward.devices.services import DeviceError, device_lifecycle_set

    with pytest.raises(DeviceError):
        device_lifecycle_set(actor=tech, device_id=laptop.pk, state="sanitized")


def test_a_lost_device_gives_the_patient_count_and_opens_an_incident(laptop, tech, make_user, make_person):
    from safeward.assets.models import ExportManifest

    holder_user = make_user("nurse")
    holder = make_person(user=holder_user)
    services.custody_record(actor=tech, kind="issued", device_id=laptop.pk, holder_person_id=holder.pk)
    ExportManifest.objects.create(
        created_at=clock.now(), actor_id=holder_user.pk, kind="csv", route="test", purpose="treatment",
        patient_ids=["p1", "p2", "p3"], patient_count=3, sha256="a" * 64, byte_count=1,
        manifest_sha256="b" * 64,
    )  # fmt: skip
    result = services.custody_record(actor=tech, kind="lost", device_id=laptop.pk)
    assert result.patients_affected == 3
    incident = Incident.objects.get(pk=result.incident_id)
    assert "3" in incident.summary
    laptop.refresh_from_db()
    assert laptop.lifecycle == "retired"  # the inventory has no retired -> lost step


def test_certificate_page_pdf_and_pickup_summary(client, laptop, tech, second, make_user):
    certificate = record(tech, laptop)
    services.certificate_validate(actor=second, certificate_id=certificate.pk)
    services.disposal_record(actor=tech, certificate_id=certificate.pk, pickup="PALLET-7")
    privacy = make_user("privacy_officer")
    sign_in(client, privacy)
    page = client.get(f"/facilities/certificates/{certificate.pk}/").content.decode()
    assert "0 patients whose data may have been on it" in page
    pdf = client.get(f"/facilities/certificates/{certificate.pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    summary = client.get("/facilities/pickups/PALLET-7/").content.decode()
    assert "1 item on this pallet" in summary
