"""The demo policy library: the nurse still has the new acceptable-use
revision to acknowledge (within the grace period: the interstitial, not a
lock-out), the information security policy's review is overdue and alerts
its owner, the controls fail on exactly those."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.policies import controls, gate, selectors

pytestmark = pytest.mark.django_db


def test_the_demo_library_shows_an_acknowledgement_due_and_an_overdue_review(seeded_demo):
    codes = {d.code for d in selectors.documents_list(include_unpublished=False)}
    assert codes == {"acceptable-use", "information-security", "privacy", "incident-response", "backup"}
    aup = selectors.document_by_code(code="acceptable-use")
    assert aup.current_revision.number == 2
    nurse = User.objects.get(username="demo.nurse")
    state = gate.gate_state(nurse)
    assert [(p.code, p.revision_number) for p in state.pending] == [("acceptable-use", 2)]
    assert not state.locked_roles
    assert nurse.has_perm(Perm.CLINICAL_CHART_READ)
    assert not gate.gate_state(User.objects.get(username="demo.physician")).any
    now = clock.now()
    review = {c.label: c.passed for c in controls.review_current(now)}
    assert [label for label, passed in review.items() if not passed] == ["information-security"]
    acknowledged = {c.label: c for c in controls.acknowledged(now)}
    assert acknowledged["acceptable-use"].evidence["missing"] == ["demo.nurse"]
    assert all(c.passed for c in controls.approved_by_second_person(now))
    detect_pending()
    alert = Alert.objects.get(rule="policy_review_overdue")
    assert alert.subject_username == "demo.security_officer"
    call_command("demo", "seed")  # idempotent
    assert len(selectors.documents_list(include_unpublished=True)) == 5
