"""`vendor_suspend` from an incident case (ADR 1211): the security officer
suspends a vendor from the incident page; every account and OAuth client it
holds ends at once, the case's timeline and the audit trail say so, and bad
targets are refused with nothing changed."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.fhir.models import ClientRegistration
from safeward.incidents import case_services, containment
from safeward.incidents.models import TimelineEntry
from safeward.vendors import services
from safeward.vendors.models import Credential, Vendor
from tests.conftest import sign_in
from tests.vendors.conftest import make_agreement, make_client, make_vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def handler(make_user):
    return make_user("security_officer")


@pytest.fixture
def vendor_with_credentials(officer, make_user):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    registration = make_client(make_user)
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    return vendor, staff, registration


def _incident(handler):
    return case_services.incident_create(
        actor=handler, title="vendor leak", category="vendor", severity="high"
    )


def test_the_action_is_registered_for_incident_handlers():
    action = containment.action_get("vendor_suspend")
    assert action is not None
    assert action.permission == "detection:alert:contain"
    assert action.target_label == "Vendor name or id"


def test_the_incident_page_suspends_a_vendor_and_ends_everything(handler, vendor_with_credentials, client):
    vendor, staff, registration = vendor_with_credentials
    incident = _incident(handler)
    sign_in(client, handler)
    assert "Suspend a vendor" in client.get(f"/incidents/{incident.pk}/").content.decode()
    response = client.post(
        f"/incidents/{incident.pk}/contain/", {"action": "vendor_suspend", "target": vendor.name}
    )
    assert response.status_code == 302
    vendor.refresh_from_db()
    assert vendor.status == Vendor.Status.SUSPENDED
    staff.refresh_from_db()
    assert not staff.is_active
    assert ClientRegistration.objects.get(pk=registration.pk).revoked_at is not None
    assert not Credential.objects.filter(vendor=vendor, revoked_at__isnull=True).exists()
    entry = TimelineEntry.objects.get(incident=incident, kind="containment")
    assert entry.ref == "containment:vendor_suspend"
    assert "2 credential(s) ended" in entry.text
    event = AuditEvent.objects.filter(resource_type="Vendor", resource_id=str(vendor.pk)).last()
    assert event.actor_id == handler.pk
    assert event.detail["event"] == "vendor_suspended"
    assert event.detail["incident_id"] == incident.pk
    assert event.detail["credentials"] == 2


def test_the_vendor_id_works_too(handler, vendor_with_credentials):
    vendor, *_ = vendor_with_credentials
    summary = case_services.containment_run(
        actor=handler, incident_id=_incident(handler).pk, code="vendor_suspend", target=str(vendor.pk)
    )
    assert summary.startswith(f"Suspended vendor {vendor.name}")


@pytest.mark.parametrize("target", ["no such vendor", "999999"])
def test_an_unknown_vendor_is_refused(handler, vendor_with_credentials, target):
    incident = _incident(handler)
    with pytest.raises(case_services.TriageError, match="No vendor has that name or id"):
        case_services.containment_run(
            actor=handler, incident_id=incident.pk, code="vendor_suspend", target=target
        )
    assert not TimelineEntry.objects.filter(incident=incident, kind="containment").exists()
    assert vendor_with_credentials[0].status == Vendor.Status.ACTIVE


def test_a_suspended_vendor_is_refused_a_second_time(handler, vendor_with_credentials):
    vendor, *_ = vendor_with_credentials
    incident = _incident(handler)
    case_services.containment_run(
        actor=handler, incident_id=incident.pk, code="vendor_suspend", target=vendor.name
    )
    with pytest.raises(case_services.TriageError, match="already suspended"):
        case_services.containment_run(
            actor=handler, incident_id=incident.pk, code="vendor_suspend", target=vendor.name
        )
    assert TimelineEntry.objects.filter(incident=incident, kind="containment").count() == 1


def test_without_the_containment_permission_the_service_refuses(make_user, vendor_with_credentials):
    vendor, *_ = vendor_with_credentials
    with pytest.raises(services.VendorError):
        services.vendor_suspend_for_incident(actor=make_user("auditor"), vendor_id=vendor.pk, incident_id=1)
    vendor.refresh_from_db()
    assert vendor.status == Vendor.Status.ACTIVE
