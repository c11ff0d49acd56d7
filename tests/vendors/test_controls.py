"""The vendor controls: each fails on its case and passes once fixed."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock, compliance
from safeward.vendors import controls, services
from safeward.vendors.models import Agreement
from tests.vendors.conftest import make_agreement, make_vendor

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "vendors.credentials_under_current_agreement": (
        "test_credentials_under_current_agreement_fails_once_the_agreement_ended_unswept"
    ),
    "vendors.baa_current": "test_baa_current_fails_for_a_phi_vendor_without_a_baa_and_passes_with_one",
    "vendors.breach_notice_within_hipaa": "test_breach_notice_fails_beyond_60_days",
    "vendors.flows_have_agreements": "test_flows_have_agreements_fails_for_access_outside_any_agreement",
    "vendors.credentials_checked_on_request": (
        "test_credentials_checked_on_request_fails_for_an_unflagged_binding"
    ),
    "vendors.assessment_current": "test_assessment_current_needs_a_signed_off_questionnaire_before_its_date",
}


def test_the_controls_are_declared_and_mapped():
    found = {cid: c for cid, c in compliance.discover().items() if cid.startswith("vendors.")}
    assert set(found) == set(COVERED_CONTROLS)
    assert "hipaa:164.308(b)(1)" in found["vendors.baa_current"].maps


def test_credentials_under_current_agreement_fails_once_the_agreement_ended_unswept(officer, make_user):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    services.credential_bind_account(
        actor=officer, vendor=vendor, agreement=agreement, user=make_user("vendor")
    )
    assert [c.passed for c in controls.credentials_under_current_agreement(clock.now())] == [True]
    Agreement.objects.filter(pk=agreement.pk).update(current_end_at=clock.now() - dt.timedelta(seconds=1))
    assert [c.passed for c in controls.credentials_under_current_agreement(clock.now())] == [False]
    Agreement.objects.filter(pk=agreement.pk).update(end_date=services.today() - dt.timedelta(days=1))
    services.vendors_check()  # the sweep lapses it: nothing live is left
    assert list(controls.credentials_under_current_agreement(clock.now())) == []


def test_baa_current_fails_for_a_phi_vendor_without_a_baa_and_passes_with_one(officer):
    vendor = make_vendor(officer)
    make_agreement(officer, vendor, kind="contract", covers_phi=False, reference="C-1")
    assert [c.passed for c in controls.baa_current(clock.now())] == [False]
    make_agreement(officer, vendor, reference="BAA-2")
    assert [c.passed for c in controls.baa_current(clock.now())] == [True]


def test_breach_notice_fails_beyond_60_days(officer):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor, breach_notice_days=30)
    assert [c.passed for c in controls.breach_notice_within_hipaa(clock.now())] == [True]
    Agreement.objects.filter(pk=agreement.pk).update(
        breach_notice_days=90
    )  # an import that bypassed the form
    assert [c.passed for c in controls.breach_notice_within_hipaa(clock.now())] == [False]


def test_flows_have_agreements_fails_for_access_outside_any_agreement(officer, make_user):
    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action

    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    audit_record(action=Action.READ, actor=staff, resource_type="Patient", resource_id="p1", patient_id="p1")
    assert [c.passed for c in controls.flows_have_agreements(clock.now())] == [True]
    # The agreement turns out to have started next year: this month's access had none behind it.
    Agreement.objects.filter(pk=agreement.pk).update(start_date=services.today() + dt.timedelta(days=400))
    [check] = controls.flows_have_agreements(clock.now())
    assert not check.passed
    assert check.evidence["months_without_agreement"] == [services.today().isoformat()[:7]]


def test_credentials_checked_on_request_fails_for_an_unflagged_binding(officer, make_user):
    from safeward.fhir.models import ClientRegistration
    from safeward.identity.models import User
    from tests.vendors.conftest import make_client

    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    registration = make_client(make_user)
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    services.credential_record_path(
        actor=officer, vendor=vendor, agreement=agreement, kind="remote_support", label="Pump VPN"
    )
    assert [c.passed for c in controls.credentials_checked_on_request(clock.now())] == [True, True]
    User.objects.filter(pk=staff.pk).update(credential_checked=False)  # as before migration 0002
    ClientRegistration.objects.filter(pk=registration.pk).update(credential_checked=False)
    assert [c.passed for c in controls.credentials_checked_on_request(clock.now())] == [False, False]


def test_assessment_current_needs_a_signed_off_questionnaire_before_its_date(
    officer, make_user, frozen_clock
):
    from safeward.vendors import questionnaires
    from tests.vendors.test_questionnaires import _answers, _pass, _send, _token

    vendor = make_vendor(officer)
    make_agreement(officer, vendor)
    token = _token(_send(officer, vendor))
    answered = questionnaires.questionnaire_answer(token=token, pass_token=_pass(token), data=_answers(2))
    [check] = controls.assessment_current(clock.now())
    assert (check.passed, check.evidence["questionnaire"]) == (False, None)  # waiting for review
    questionnaires.questionnaire_sign_off(actor=make_user("compliance_officer"), questionnaire_id=answered.pk)
    [check] = controls.assessment_current(clock.now())
    assert (check.passed, check.evidence["tier"], check.evidence["next_assessment_on"]) == (
        True,
        "moderate",
        "2028-11-02",
    )
    frozen_clock._now = dt.datetime(2028, 11, 2, 9, 0, tzinfo=dt.UTC)  # the next assessment is due
    assert [c.passed for c in controls.assessment_current(clock.now())] == [False]
