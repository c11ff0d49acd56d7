"""Break-the-glass through the gateway: reason, step-up, time box by the
injected clock, every access audited as emergency, the review, and the
termination cut-off."""

from __future__ import annotations

import dataclasses

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import Forbidden, InvalidInput, NotFound
from safeward.workforce.extensions import termination_cutoffs
from tests.clinical.conftest import WARD

pytestmark = pytest.mark.django_db
TREAT = PurposeOfUse.TREATMENT


def _start(user, patient, **kw):
    args = {"reason_kind": "emergency_care", "justification": "Collapsed in the corridor, no team."}
    args.update(kw)
    return gateway.break_glass_start(actor=user, session=WARD, patient_id=patient, **args)


def test_grant_opens_the_chart_for_an_hour_then_expires(make_user, patient, frozen_clock):
    nurse = make_user("nurse")
    with pytest.raises(NotFound):
        gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    grant = _start(nurse, patient)
    chart = gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    assert chart.emergency
    assert chart.patient.family_name == "Quist"
    event = AuditEvent.objects.filter(action="read", resource_type="Chart", outcome="success").get()
    assert event.purpose_of_use == "ETREAT"
    assert event.detail["break_glass_grant"] == grant.id
    assert [g.id for g in gateway.page_banners(actor=nurse, break_glass=True, results=False).break_glass] == [
        grant.id
    ]
    frozen_clock.advance(minutes=59)
    gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    frozen_clock.advance(minutes=2)
    with pytest.raises(NotFound):
        gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    assert gateway.page_banners(actor=nurse, break_glass=True, results=False).break_glass == ()
    start = AuditEvent.objects.get(action="break_glass", detail__event="start")
    assert start.purpose_of_use == "ETREAT"
    assert start.reason == "emergency_care"
    assert "corridor" not in str(start.detail) + start.reason  # the free text stays encrypted


def test_needs_step_up_reason_and_permission(make_user, patient):
    nurse = make_user("nurse")
    with pytest.raises(Forbidden):
        gateway.break_glass_start(
            actor=nurse,
            session=dataclasses.replace(WARD, step_up_fresh=False),
            patient_id=patient,
            reason_kind="covering",
            justification="Covering ward 4 tonight.",
        )
    with pytest.raises(InvalidInput):
        _start(nurse, patient, justification="short")
    with pytest.raises(InvalidInput):
        _start(nurse, patient, reason_kind="curiosity")
    clerk = make_user("billing_clerk")
    with pytest.raises(Forbidden):
        _start(clerk, patient)
    with pytest.raises(NotFound):
        _start(nurse, "00000000-0000-4000-8000-000000000001")
    assert not AuditEvent.objects.filter(action="break_glass", outcome="success").exists()


def test_privacy_officer_reviews_each_use(make_user, patient):
    nurse = make_user("nurse")
    grant = _start(nurse, patient)
    gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    officer = make_user("privacy_officer")
    queue = gateway.break_glass_review_queue(actor=officer, session=WARD)
    assert [(g.id, g.accesses) for g in queue] == [(grant.id, 1)]
    assert queue[0].justification.startswith("Collapsed")
    with pytest.raises(InvalidInput):
        gateway.break_glass_review(actor=officer, session=WARD, grant_id=grant.id, justified=False)
    gateway.break_glass_review(
        actor=officer, session=WARD, grant_id=grant.id, justified=True, note="ED arrest"
    )
    assert gateway.break_glass_review_queue(actor=officer, session=WARD) == []
    done = gateway.break_glass_review_queue(actor=officer, session=WARD, status="justified")
    assert done[0].review_note == "ED arrest"
    with pytest.raises(Forbidden):
        gateway.break_glass_review_queue(actor=nurse, session=WARD)


def test_termination_cuts_active_grants(make_user, patient):
    nurse = make_user("nurse")
    _start(nurse, patient)
    assert "breakglass" in termination_cutoffs()
    assert termination_cutoffs()["breakglass"](user=nurse, reason="termination") == 1
    with pytest.raises(NotFound):
        gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    assert AuditEvent.objects.filter(action="break_glass", detail__event="cut").count() == 1


def test_break_glass_page_needs_step_up(signed_in, patient, frozen_clock):
    client, _ = signed_in("nurse")
    frozen_clock.advance(minutes=10)  # the second factor is no longer fresh
    response = client.get(f"/clinical/patients/{patient}/break-glass/")
    assert response.status_code == 302
    assert "reauthenticate" in response["Location"]
