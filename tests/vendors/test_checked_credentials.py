"""The vendor check costs nothing for accounts and clients no vendor binding
flagged (ADR 1210), still refuses a vendor credential on its next request,
and a renewal carries the credentials (OAuth registrations included) to the
new end while a lapse still refuses at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.fhir.models import ClientRegistration
from safeward.identity import selectors as identity_selectors
from safeward.identity.models import User
from safeward.vendors import access, services
from safeward.vendors.models import Agreement, Credential
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token
from tests.vendors.conftest import make_agreement, make_client, make_vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(monkeypatch):
    """Every call the registered vendor check receives."""
    calls: list[dict] = []

    def spy(**kwargs):
        calls.append(kwargs)
        return access.credential_refusal(**kwargs)

    monkeypatch.setattr(identity_selectors, "_credential_checks", [spy])
    return calls


def test_binding_flags_the_account_the_client_and_its_service_account(officer, make_user):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    registration = make_client(make_user)
    service_account = registration.application.user
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    assert User.objects.get(pk=staff.pk).credential_checked
    assert ClientRegistration.objects.get(pk=registration.pk).credential_checked
    assert User.objects.get(pk=service_account.pk).credential_checked is False  # not a backend client
    assert not User.objects.get(pk=officer.pk).credential_checked
    events = AuditEvent.objects.filter(resource_type="User", resource_id=str(staff.pk))
    assert any("credential_checked" in event.fields for event in events)


def test_a_non_vendor_session_and_bearer_never_ask_the_check(make_user, client, asked):
    nurse = make_user("nurse")
    sign_in(client, nurse)
    assert client.get("/identity/sessions/").status_code == 200
    registration = make_client(make_user, name="Hospital app")
    raw = token(nurse, "read", application=registration.application)
    assert Client().get("/api/v1/me/", **bearer(raw)).status_code == 200
    assert asked == []


def test_a_vendor_session_and_client_are_asked_and_refused_at_once(officer, make_user, client, asked):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    registration = make_client(make_user)
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    sign_in(client, staff)
    raw = token(staff, "read", application=registration.application)
    api = Client()
    assert client.get("/identity/sessions/").status_code == 200
    assert api.get("/api/v1/me/", **bearer(raw)).status_code == 200
    # The session asks for the account; the bearer request asks once for its client and account (ADR 1212).
    assert asked == [
        {"user_id": staff.pk, "application_id": None},
        {"user_id": staff.pk, "application_id": registration.application_id},
    ]
    yesterday = services.today() - dt.timedelta(days=1)
    Agreement.objects.filter(pk=agreement.pk).update(end_date=yesterday, current_end_at=clock.now())
    assert api.get("/api/v1/me/", **bearer(raw)).status_code == 401
    assert client.get("/identity/sessions/").status_code == 401


def _bound_client(officer, make_user, **agreement_args):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor, days=20, **agreement_args)
    registration = make_client(make_user)
    credential = services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    return agreement, registration, credential


def test_express_renewal_extends_the_client_and_its_registration(officer, make_user):
    agreement, registration, credential = _bound_client(officer, make_user)
    new_end = agreement.end_date + dt.timedelta(days=365)
    renewed = services.agreement_renew(actor=officer, agreement=agreement, end_date=new_end)
    assert renewed.current_end_at == services.end_moment(new_end)
    credential.refresh_from_db()
    assert credential.expires_at == renewed.current_end_at
    assert ClientRegistration.objects.get(pk=registration.pk).expires_at == renewed.current_end_at
    event = AuditEvent.objects.filter(resource_type="VendorAgreement", resource_id=str(agreement.pk)).last()
    assert event.detail["event"] == "agreement_renewed"
    assert event.detail["credentials_extended"] == 1


def test_tacit_renewal_on_the_request_path_extends_the_registration(officer, make_user):
    agreement, registration, credential = _bound_client(
        officer, make_user, renewal="tacit", renewal_months=12, notice_days=30
    )
    yesterday = services.today() - dt.timedelta(days=1)
    ended = services.end_moment(yesterday)
    Agreement.objects.filter(pk=agreement.pk).update(end_date=yesterday, current_end_at=ended)
    Credential.objects.filter(pk=credential.pk).update(expires_at=ended)
    ClientRegistration.objects.filter(pk=registration.pk).update(expires_at=ended)
    raw = token(make_user("physician"), "user/*.rs read", application=registration.application)
    assert Client().get("/api/v1/me/", **bearer(raw)).status_code == 200  # renewed on this request
    assert ClientRegistration.objects.get(pk=registration.pk).expires_at > clock.now()


def test_renewal_after_the_end_is_refused_and_the_lapse_still_refuses(officer, make_user, client):
    agreement, registration, _ = _bound_client(officer, make_user)
    raw = token(make_user("physician"), "read", application=registration.application)
    yesterday = services.today() - dt.timedelta(days=1)
    Agreement.objects.filter(pk=agreement.pk).update(end_date=yesterday, current_end_at=clock.now())
    agreement.refresh_from_db()
    with pytest.raises(services.VendorError) as refused:
        services.agreement_renew(
            actor=officer, agreement=agreement, end_date=yesterday + dt.timedelta(days=30)
        )
    assert "agreement" in refused.value.message_dict
    assert Client().get("/api/v1/me/", **bearer(raw)).status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"days": 0}, "end_date"),
        ({"days": -5}, "end_date"),
        ({"days": 11 * 366}, "end_date"),
        ({"tacit": True}, "renewal"),
    ],
)
def test_bad_renewals_are_refused_and_nothing_changes(officer, make_user, change, field):
    vendor = make_vendor(officer)
    tacit = change.pop("tacit", False)
    agreement = make_agreement(
        officer, vendor, days=20, **({"renewal": "tacit", "notice_days": 10} if tacit else {})
    )
    before = agreement.current_end_at
    with pytest.raises(services.VendorError) as refused:
        services.agreement_renew(
            actor=officer,
            agreement=agreement,
            end_date=agreement.end_date + dt.timedelta(days=change.get("days", 30)),
        )
    assert field in refused.value.message_dict
    agreement.refresh_from_db()
    assert agreement.current_end_at == before


def test_only_the_privacy_officer_renews(officer, make_user):
    agreement = make_agreement(officer, make_vendor(officer))
    with pytest.raises(services.VendorError):
        services.agreement_renew(
            actor=make_user("auditor"),
            agreement=agreement,
            end_date=agreement.end_date + dt.timedelta(days=9),
        )


def test_the_renew_page_and_api_reject_bad_input(officer, make_user, client):
    agreement = make_agreement(officer, make_vendor(officer))
    sign_in(client, officer)
    assert (
        client.post(f"/vendors/agreements/{agreement.pk}/renew/", {"end_date": "not a date"}).status_code
        == 400
    )
    assert (
        client.post(f"/vendors/agreements/{agreement.pk}/renew/", {"end_date": "2001-01-01"}).status_code
        == 409
    )
    response = client.post(
        f"/api/v1/vendors/agreements/{agreement.pk}/renew/",
        {"end_date": "2001-01-01"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "end_date" in response.json()["errors"]
    good = (agreement.end_date + dt.timedelta(days=100)).isoformat()
    response = client.post(
        f"/api/v1/vendors/agreements/{agreement.pk}/renew/",
        {"end_date": good},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["end_date"] == good


def test_the_command_renews_and_refuses_bad_input(officer, make_user):
    from io import StringIO

    from django.core.management import CommandError, call_command

    agreement, registration, _ = _bound_client(officer, make_user)
    new_end = (agreement.end_date + dt.timedelta(days=200)).isoformat()
    out = StringIO()
    call_command("vendors", "renew", str(agreement.pk), "--end-date", new_end, stdout=out)
    assert "renewed" in out.getvalue()
    agreement.refresh_from_db()
    assert agreement.end_date.isoformat() == new_end
    assert ClientRegistration.objects.get(pk=registration.pk).expires_at == agreement.current_end_at
    with pytest.raises(CommandError, match="No such agreement"):
        call_command("vendors", "renew", "999999", "--end-date", new_end)
    with pytest.raises(CommandError, match="new last day after"):
        call_command("vendors", "renew", str(agreement.pk), "--end-date", "2001-01-01")


def _staff_with_client(officer, make_user):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("vendor")
    services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    registration = make_client(make_user)
    services.credential_bind_client(
        actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
    )
    return agreement, staff, registration


def test_a_bearer_request_reads_the_bindings_of_its_client_and_account_in_one_query(officer, make_user):
    agreement, staff, registration = _staff_with_client(officer, make_user)
    raw = token(staff, "read", application=registration.application)
    api = Client()
    assert api.get("/api/v1/me/", **bearer(raw)).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/me/", **bearer(raw)).status_code == 200
    credential_table = Credential._meta.db_table
    assert len([q for q in queries.captured_queries if credential_table in q["sql"]]) == 1
    # Nothing is kept for the next request: the agreement's end refuses it.
    yesterday = services.today() - dt.timedelta(days=1)
    Agreement.objects.filter(pk=agreement.pk).update(end_date=yesterday, current_end_at=clock.now())
    assert api.get("/api/v1/me/", **bearer(raw)).status_code == 401
    assert Credential.objects.filter(agreement=agreement, revoked_at__isnull=True).count() == 0


def test_the_one_query_refuses_when_either_binding_is_revoked(officer, make_user):
    _, staff, registration = _staff_with_client(officer, make_user)
    both = {"user_id": staff.pk, "application_id": registration.application_id}
    assert access.credential_refusal(**both) is None
    Credential.objects.filter(user=staff).update(revoked_at=clock.now())
    assert access.credential_refusal(**both) == access.REVOKED
    assert access.credential_refusal(application_id=registration.application_id) is None
    Credential.objects.filter(user=staff).update(revoked_at=None)
    Credential.objects.filter(application_id=registration.application_id).update(revoked_at=clock.now())
    assert access.credential_refusal(**both) == access.REVOKED
    assert access.credential_refusal(user_id=staff.pk) is None
    assert access.credential_refusal(user_id=officer.pk, application_id=None) is None


def test_an_account_answered_with_its_client_is_not_asked_again_on_that_instance_only(
    officer, make_user, asked
):
    _, staff, registration = _staff_with_client(officer, make_user)
    account = User.objects.get(pk=staff.pk)
    assert (
        identity_selectors.bearer_credential_refusal(
            user=account, application_id=registration.application_id, client_checked=True
        )
        is None
    )
    assert identity_selectors.user_credential_refusal(user=account) is None
    assert len(asked) == 1
    Credential.objects.filter(user=staff).update(revoked_at=clock.now())
    # The next request loads the account afresh and asks.
    assert identity_selectors.user_credential_refusal(user=User.objects.get(pk=staff.pk)) == access.REVOKED
    # A refusal is never remembered as an answer.
    assert (
        identity_selectors.bearer_credential_refusal(
            user=account, application_id=registration.application_id, client_checked=True
        )
        == access.REVOKED
    )
    fresh = User.objects.get(pk=staff.pk)
    assert (
        identity_selectors.bearer_credential_refusal(
            user=fresh, application_id=registration.application_id, client_checked=True
        )
        == access.REVOKED
    )
    assert identity_selectors.user_credential_refusal(user=fresh) == access.REVOKED
