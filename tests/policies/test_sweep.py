"""An overdue review is recorded by the sweep and raised by detection as one
alert per document, naming the owner; the owner sees it on the home page."""

from __future__ import annotations

import pytest

from safeward.audit.models import AuditEvent
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.policies import services
from tests.conftest import sign_in
from tests.policies.conftest import new_document, publish

pytestmark = pytest.mark.django_db


def test_the_sweep_raises_one_alert_per_overdue_document_naming_its_owner(
    client, frozen_clock, officer, approver
):
    document = new_document(officer, period=30)
    publish(officer, approver, document)
    assert services.policies_sweep_overdue() == 0
    frozen_clock.advance(days=31)
    assert services.policies_sweep_overdue() == 1
    event = AuditEvent.objects.get(resource_type="PolicyDocument", action="execute")
    assert event.detail["owner_username"] == officer.username
    detect_pending()
    alert = Alert.objects.get(rule="policy_review_overdue")
    assert alert.subject_user_id == officer.pk
    assert alert.subject_username == officer.username
    assert alert.detail["document_id"] == str(document.pk)
    frozen_clock.advance(hours=24)
    services.policies_sweep_overdue()
    detect_pending()
    assert Alert.objects.filter(rule="policy_review_overdue").count() == 1
    sign_in(client, officer)
    home = client.get("/")
    assert b"policy-owner-reviews" in home.content
    assert b"overdue" in home.content
