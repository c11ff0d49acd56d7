"""The demo vendors: five, the transcription BAA ending tomorrow, the lab's
backend client and the pump vendor's account bound and usable, and the
lapsed vendor's credentials already revoked by the sweep; seeding twice
changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.demo import vendors as demo
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.identity.models import User
from safeward.vendors import access, controls, documents, questionnaires, selectors
from safeward.vendors.models import Agreement, AgreementDocument, Credential, Questionnaire, Vendor

pytestmark = pytest.mark.django_db


def _state():
    return sorted(
        (c.vendor.name, c.kind, c.label, c.revoked_at is not None)
        for c in Credential.objects.select_related("vendor")
    )


def test_the_demo_vendors(seeded_demo):
    summaries = {s.vendor.name: s for s in selectors.vendor_summaries()}
    assert set(summaries) == {demo.TRANSCRIPTION, demo.LAB, demo.PUMPS, demo.BILLING, demo.LAPSED}
    assert summaries[demo.TRANSCRIPTION].days_left == 1
    assert summaries[demo.TRANSCRIPTION].agreement_status == "ending"
    assert summaries[demo.LAPSED].agreement_status == "ended"
    lapsed = Agreement.objects.get(vendor__name=demo.LAPSED)
    assert (lapsed.status, lapsed.ended_via) == ("lapsed", "sweep")
    revoked = Credential.objects.filter(vendor__name=demo.LAPSED)
    assert revoked.count() == 2
    assert all(c.revoked_via == "lapsed:sweep" for c in revoked)
    (document,) = AgreementDocument.objects.filter(agreement__vendor__name=demo.LAB)
    assert documents.document_open(actor=None, document_id=document.pk)[1].startswith(b"%PDF")
    assert User.objects.get(username="svc.northwind-lab").credential_checked
    vendor_user = User.objects.get(username="demo.vendor")
    assert access.credential_refusal(user_id=vendor_user.pk) is None
    assert Credential.objects.get(user=vendor_user).vendor.name == demo.PUMPS
    lab_client = Credential.objects.get(vendor__name=demo.LAB, kind="oauth_client")
    assert access.credential_refusal(application_id=lab_client.application_id) is None
    assert all(c.passed for c in controls.credentials_under_current_agreement(clock.now()))
    before = _state()
    call_command("demo", "seed")
    assert _state() == before
    assert Vendor.objects.count() == 5


def test_the_pump_vendors_sync_account_raises_one_bulk_access_alert(seeded_demo):
    sync = Credential.objects.get(user__username=demo.PUMP_SYNC)
    assert (sync.vendor.name, sync.kind, sync.revoked_at) == (demo.PUMPS, "account", None)
    detect_pending()
    (alert,) = Alert.objects.filter(rule="vendor_bulk_access")
    assert alert.detail["vendor_id"] == sync.vendor_id
    assert alert.detail["distinct_patients"] == demo.BULK_PATIENTS > alert.detail["threshold"]
    reads = AuditEvent.objects.filter(actor_id=sync.user_id).count()
    call_command("demo", "seed")
    detect_pending()
    assert Alert.objects.filter(rule="vendor_bulk_access").count() == 1
    assert AuditEvent.objects.filter(actor_id=sync.user_id).count() == reads


def test_one_questionnaire_answered_and_one_waiting(seeded_demo):
    answered, waiting = (
        Questionnaire.objects.get(vendor__name=demo.LAB),
        Questionnaire.objects.get(vendor__name=demo.TRANSCRIPTION),
    )
    assert (answered.status, answered.reviewed_by) == ("answered", None)
    assert answered.score is not None
    assert answered.tier in {"low", "moderate", "high", "critical"}
    (evidence,) = answered.evidence.all()
    officer = User.objects.get(username="demo.privacy_officer")
    assert questionnaires.evidence_open(actor=officer, evidence_id=evidence.pk)[1].startswith(b"Northwind")
    assert questionnaires.link_state(waiting) == "open"
    call_command("demo", "seed")
    assert Questionnaire.objects.filter(vendor__name__in=[demo.LAB, demo.TRANSCRIPTION]).count() == 2


def test_one_assessment_current_and_one_overdue(seeded_demo):
    """The clearinghouse's signed-off questionnaire sets its tier; the pump
    vendor's is past its next assessment date and no longer counts."""
    summaries = {s.vendor.name: s for s in selectors.vendor_summaries()}
    billing, pumps = summaries[demo.BILLING], summaries[demo.PUMPS]
    assert billing.assessment_state == "current"
    assert billing.risk == billing.assessment.tier
    assert billing.assessment.reviewed_by.username == "demo.compliance_officer"
    assert pumps.assessment_state == "overdue"
    assert pumps.risk == pumps.inherent_risk
    assert pumps.next_assessment < clock.now().date()
    results = {c.label: c.passed for c in controls.assessment_current(clock.now())}
    assert (results[demo.BILLING], results[demo.PUMPS], results[demo.LAB]) == (True, False, False)
    call_command("demo", "seed")
    assert Questionnaire.objects.filter(vendor__name__in=[demo.BILLING, demo.PUMPS]).count() == 2
