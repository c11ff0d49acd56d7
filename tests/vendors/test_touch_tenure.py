"""What a vendor touched counts only what its accounts and clients did while
they were the vendor's: from the binding (`Credential.created_at`) until its
revocation (`revoked_at`), not the same account's earlier work as hospital
staff nor anything after the vendor let it go (ADR 1219)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward import clock
from safeward.audit import context
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.vendors import selectors, services
from tests.vendors.conftest import make_agreement, make_client, make_vendor

pytestmark = pytest.mark.django_db


def _read(when: dt.datetime, actor, *, client: str = "", **what) -> None:
    token = context.bind(context.AuditContext(client_id=client))
    try:
        with clock.frozen_at(when):
            audit_record(action=what.pop("action", Action.READ), actor=actor, resource_type="Patient", **what)
    finally:
        context.reset(token)


def test_only_what_the_accounts_and_clients_did_while_bound_counts(officer, make_user):
    now = clock.now()
    bound_at = now - dt.timedelta(days=3)
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("nurse")  # a hospital nurse first, a vendor's account later
    app_user = make_user("physician")
    registration = make_client(make_user)
    client_id = registration.application.client_id

    _read(now - dt.timedelta(days=70), staff, patient_id="p-as-staff")
    _read(bound_at - dt.timedelta(minutes=1), staff, patient_id="p-just-before")
    _read(bound_at - dt.timedelta(minutes=1), app_user, client=client_id, patient_id="p-app-before")
    with clock.frozen_at(bound_at):
        services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
        services.credential_bind_client(
            actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
        )
    _read(bound_at, staff, patient_id="p-1")  # the binding's own instant counts
    _read(bound_at + dt.timedelta(hours=1), staff, action=Action.SEARCH, patient_ids=["p-1", "p-2"])
    _read(bound_at + dt.timedelta(hours=2), app_user, client=client_id, patient_id="p-3")
    revoked_at = now - dt.timedelta(days=1)
    with clock.frozen_at(revoked_at):
        services.vendor_suspend(actor=officer, vendor_id=vendor.pk, reason="review")
    _read(revoked_at, staff, patient_id="p-after")  # the account is no longer the vendor's
    _read(revoked_at + dt.timedelta(hours=1), app_user, client=client_id, patient_id="p-app-after")

    with CaptureQueriesContext(connection) as captured:
        months = selectors.vendor_touch(vendor=vendor)
    touch = [q for q in captured.captured_queries if "GROUP BY" in q["sql"]]
    assert len(touch) == 1  # still one grouped statement
    assert sum(m.events for m in months) == 3
    assert sum(m.patients for m in months) == 3  # p-1, p-2, p-3


def test_an_account_bound_again_counts_each_tenure(officer, make_user):
    now = clock.now()
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    staff = make_user("nurse")
    first_bound, first_end = now - dt.timedelta(days=6), now - dt.timedelta(days=5)
    with clock.frozen_at(first_bound):
        services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    _read(first_bound + dt.timedelta(hours=1), staff, patient_id="p-first")
    with clock.frozen_at(first_end):
        services.vendor_suspend(actor=officer, vendor_id=vendor.pk, reason="review")
        services.vendor_reinstate(actor=officer, vendor_id=vendor.pk, reason="reviewed")
    _read(first_end + dt.timedelta(hours=1), staff, patient_id="p-between")
    staff.is_active = True
    staff.save(update_fields=["is_active"])
    with clock.frozen_at(now - dt.timedelta(days=2)):
        services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
    _read(now - dt.timedelta(hours=1), staff, patient_id="p-second")
    months = selectors.vendor_touch(vendor=vendor)
    assert (sum(m.events for m in months), sum(m.patients for m in months)) == (2, 2)
