"""Contract-bound credentials (ADR 1200): no credential without a current
PHI agreement, none outliving it, and an agreement's lapse, termination or the
vendor's suspension ending every kind of credential in one transaction with
one vendors event; the next request with any of them is refused (401), with
no sweep."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from oauth2_provider.models import AccessToken

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.fhir.models import ClientRegistration
from safeward.identity.models import UserSession
from safeward.vendors import access, services
from safeward.vendors.models import Agreement, Credential
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token
from tests.vendors.conftest import make_agreement, make_client, make_vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def bound(officer, make_user):
    """A vendor with a BAA, a staff account signed in, and an OAuth client with a token."""
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("vendor")
    account = services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    registration = make_client(make_user)
    client_credential = services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    path = services.credential_record_path(
        actor=officer, vendor=vendor, agreement=agreement, kind="remote_support", label="Pump VPN"
    )
    return vendor, agreement, staff, account, registration, client_credential, path


def _use(client, staff, registration):
    """A session for the staff account and a bearer token for the client: both work now."""
    sign_in(client, staff)
    raw = token(registration.application.user, "user/*.rs read", application=registration.application)
    user_token = token(staff, "read", application=registration.application)
    assert client.get("/identity/sessions/").status_code == 200
    from django.test import Client

    api = Client()
    assert api.get("/api/v1/me/", **bearer(raw)).status_code == 200
    return raw, user_token, api


def _refused(client, api, raw, user_token):
    assert client.get("/identity/sessions/").status_code == 401
    assert api.get("/api/v1/me/", **bearer(raw)).status_code == 401
    assert api.get("/api/v1/me/", **bearer(user_token)).status_code == 401
    assert api.get("/fhir/Patient?name=ada", **bearer(raw)).status_code == 401


def _all_revoked(staff, registration, agreement):
    staff.refresh_from_db()
    assert not staff.is_active
    assert not UserSession.objects.filter(user=staff, ended_at__isnull=True).exists()
    assert not AccessToken.objects.filter(application=registration.application).exists()
    assert not AccessToken.objects.filter(user=staff).exists()
    assert ClientRegistration.objects.get(pk=registration.pk).revoked_at is not None
    assert not Credential.objects.filter(agreement=agreement, revoked_at__isnull=True).exists()


def test_no_credential_without_a_current_phi_agreement(officer, make_user):
    vendor = make_vendor(officer)
    contract = make_agreement(officer, vendor, kind="contract", covers_phi=False, reference="C-1")
    with pytest.raises(ValidationError, match="does not cover PHI"):
        services.credential_bind_account(
            actor=officer, vendor=vendor, agreement=contract, user=make_user("vendor")
        )
    with pytest.raises(ValidationError, match="current agreement"):
        services.credential_bind_account(
            actor=officer, vendor=vendor, agreement=None, user=make_user("vendor")
        )
    future = make_agreement(
        officer, vendor, reference="F-1", start_date=services.today() + dt.timedelta(days=5)
    )
    with pytest.raises(ValidationError, match="not in force"):
        services.credential_record_path(
            actor=officer, vendor=vendor, agreement=future, kind="api_key", label="key"
        )
    assert not Credential.objects.exists()


def test_a_credential_cannot_outlive_its_agreement(officer, make_user):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor, days=20)
    far = clock.now() + dt.timedelta(days=400)
    account = services.credential_bind_account(
        actor=officer, vendor=vendor, agreement=agreement, user=make_user("vendor"), expires_at=far
    )
    assert account.expires_at == agreement.current_end_at
    registration = make_client(make_user)
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    assert ClientRegistration.objects.get(pk=registration.pk).expires_at == agreement.current_end_at
    services.agreement_give_notice  # noqa: B018 - express agreements need no notice


def test_lapse_on_the_request_path_without_a_sweep(officer, make_user, client, bound):
    _vendor, agreement, staff, _, registration, _, _ = bound
    raw, user_token, api = _use(client, staff, registration)
    # The agreement's last day passes; no sweep runs.
    Agreement.objects.filter(pk=agreement.pk).update(
        end_date=services.today() - dt.timedelta(days=1), current_end_at=clock.now() - dt.timedelta(seconds=1)
    )
    _refused(client, api, raw, user_token)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.LAPSED
    assert agreement.ended_via == "request"
    _all_revoked(staff, registration, agreement)
    assert (
        AuditEvent.objects.filter(resource_type="VendorAgreement", detail__event="agreement_lapsed").count()
        == 1
    )


def test_termination_revokes_every_kind_of_credential(officer, make_user, client, bound):
    _vendor, agreement, staff, _, registration, _, path = bound
    raw, user_token, api = _use(client, staff, registration)
    result = services.agreement_terminate(actor=officer, agreement=agreement, reason="breach of contract")
    assert (result.accounts_disabled, result.clients_disabled, result.paths_to_remove) == (1, 1, 1)
    assert result.sessions_ended >= 1
    _refused(client, api, raw, user_token)
    _all_revoked(staff, registration, agreement)
    path.refresh_from_db()
    assert path.revoked_via == "terminated:manual"
    events = AuditEvent.objects.filter(resource_type="VendorAgreement", detail__event="agreement_terminated")
    assert events.count() == 1
    with pytest.raises(ValidationError, match="already ended"):
        services.agreement_terminate(actor=officer, agreement=agreement, reason="again")


def test_suspension_revokes_every_kind_of_credential(officer, make_user, client, bound):
    vendor, agreement, staff, _, registration, _, _ = bound
    raw, user_token, api = _use(client, staff, registration)
    services.vendor_suspend(actor=officer, vendor_id=vendor.pk, reason="incident 12")
    _refused(client, api, raw, user_token)
    _all_revoked(staff, registration, agreement)
    assert AuditEvent.objects.filter(resource_type="Vendor", detail__event="vendor_suspended").count() == 1


def test_the_check_refuses_a_suspended_vendor_even_if_a_revocation_was_skipped(officer, bound):
    vendor, _agreement, staff, *_ = bound
    type(vendor).objects.filter(pk=vendor.pk).update(status="suspended")
    assert access.credential_refusal(user_id=staff.pk) == access.SUSPENDED
    assert access.credential_refusal(user_id=officer.pk) is None


def test_tacit_renewal_on_the_request_path_keeps_the_credentials(officer, make_user):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor, renewal="tacit", renewal_months=12, notice_days=30)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    yesterday = services.today() - dt.timedelta(days=1)
    Agreement.objects.filter(pk=agreement.pk).update(
        end_date=yesterday, current_end_at=services.end_moment(yesterday)
    )
    Credential.objects.filter(agreement=agreement).update(expires_at=services.end_moment(yesterday))
    assert access.credential_refusal(user_id=staff.pk) is None
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE
    assert agreement.current_end_at > clock.now()


def test_the_sweep_lapses_and_reminds_once(officer, make_user, mailoutbox):
    vendor = make_vendor(officer)
    ending = make_agreement(officer, vendor, days=29, reference="B-2")
    lapsing = make_agreement(officer, vendor, days=5, reference="B-3")
    Agreement.objects.filter(pk=lapsing.pk).update(
        end_date=services.today() - dt.timedelta(days=1), current_end_at=clock.now() - dt.timedelta(seconds=1)
    )
    officer.email = "owner@example.test"
    officer.save()
    first = services.vendors_check()
    assert first.lapsed == 1
    assert first.reminders == 3  # 90, 60 and 30 days for the one ending in 29 days
    assert services.vendors_check().reminders == 0
    assert len(mailoutbox) == 3
    assert ending.reminders.count() == 3


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("breach_notice_days", {"breach_notice_days": 61}),
        ("covers_phi", {"covers_phi": False}),
        ("end_date", {"end_date": dt.date(2000, 1, 1)}),
        ("reference", {"reference": ""}),
        ("kind", {"kind": "nda"}),
        ("notice_days", {"notice_days": 9999}),
    ],
)
def test_bad_agreements_are_refused_with_the_field(officer, field, overrides):
    vendor = make_vendor(officer)
    with pytest.raises(ValidationError) as refused:
        make_agreement(officer, vendor, **overrides)
    assert field in refused.value.message_dict
    assert not Agreement.objects.exists()


def test_only_the_privacy_officer_manages(make_user, officer):
    with pytest.raises(ValidationError, match="vendor:vendor:manage"):
        make_vendor(make_user("auditor"))


def test_the_offboarding_checklist_is_verified_from_live_state(officer, make_user, client, bound):
    vendor, _, staff, _, registration, _, _ = bound
    _use(client, staff, registration)
    from safeward.vendors import selectors

    before = {item.label: item.done for item in selectors.offboarding_checklist(vendor=vendor)}
    assert not any(before.values())
    services.vendor_offboard(actor=officer, vendor_id=vendor.pk, reason="contract over")
    after = selectors.offboarding_checklist(vendor=vendor)
    assert all(item.done for item in after), [(i.label, i.detail) for i in after if not i.done]


def test_what_the_vendor_touched_counts_patients_per_month(officer, bound):
    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action
    from safeward.vendors import selectors

    vendor, _, staff, *_ = bound
    audit_record(action=Action.READ, actor=staff, resource_type="Patient", resource_id="p1", patient_id="p1")
    audit_record(action=Action.READ, actor=staff, resource_type="Patient", resource_id="p1", patient_id="p1")
    audit_record(action=Action.SEARCH, actor=staff, resource_type="Patient", patient_ids=["p2", "p3"])
    audit_record(
        action=Action.READ, actor=officer, resource_type="Patient", resource_id="p9", patient_id="p9"
    )
    [month] = selectors.vendor_touch(vendor=vendor)
    assert (month.events, month.patients) == (3, 3)
