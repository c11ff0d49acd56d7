"""Other apps open incidents for what they detect (issues 14, 15, 16)."""

import pytest

from safeward.audit.models import AuditEvent
from safeward.detection.triage import TriageError
from safeward.incidents.services import incident_open_for

pytestmark = pytest.mark.django_db


def test_another_app_opens_an_incident_with_its_audit_event():
    incident = incident_open_for(
        actor=None, title=" Laptop  LT-7 stolen ", severity="high", summary="s", source="devices.report_lost"
    )
    assert incident.title == "Laptop LT-7 stolen"
    event = AuditEvent.objects.get(resource_type="Incident", resource_id=str(incident.pk))
    assert event.detail["source"] == "devices.report_lost"
    with pytest.raises(TriageError):
        incident_open_for(actor=None, title="", severity="high", summary="", source="x")
    with pytest.raises(TriageError):
        incident_open_for(actor=None, title="t", severity="urgent", summary="", source="x")
