"""The vendor pages, API and command: the register, bad input refused on every
form with the field named and nothing saved, termination from the page."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from safeward.vendors import services
from safeward.vendors.models import Agreement, Credential, Vendor
from tests.conftest import sign_in
from tests.vendors.conftest import make_agreement, make_vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_client(client, officer):
    sign_in(client, officer)
    return client


def test_register_a_vendor_an_agreement_and_a_credential(officer_client, officer, make_user):
    response = officer_client.post(
        "/vendors/new/",
        {
            "name": "Scribe Co",
            "legal_name": "Scribe Co LLC",
            "owner": officer.pk,
            "phi_categories": ["clinical_notes"],
            "phi_volume": "medium",
        },
    )
    assert response.status_code == 302
    vendor = Vendor.objects.get()
    today = services.today()
    response = officer_client.post(
        f"/vendors/{vendor.pk}/agreements/new/",
        {
            "kind": "baa",
            "reference": "BAA-7",
            "covers_phi": "on",
            "start_date": today.isoformat(),
            "end_date": (today + dt.timedelta(days=200)).isoformat(),
            "renewal": "express",
            "renewal_months": 12,
            "notice_days": 60,
            "breach_notice_days": 30,
            "end_of_term": "destroy",
        },
    )
    assert response.status_code == 302
    agreement = Agreement.objects.get()
    staff = make_user("vendor")
    response = officer_client.post(
        f"/vendors/{vendor.pk}/credentials/new/",
        {"kind": "account", "agreement": agreement.pk, "username": staff.username},
    )
    assert response.status_code == 302
    page = officer_client.get(f"/vendors/{vendor.pk}/")
    assert b"BAA-7" in page.content
    assert staff.username.encode() in page.content
    listing = officer_client.get("/vendors/")
    assert b"Scribe Co" in listing.content
    assert b"in 200 days" in listing.content


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("/vendors/new/", {"name": "", "legal_name": "x", "phi_volume": "none"}, "name"),
        ("/vendors/new/", {"name": "A", "legal_name": "x", "phi_volume": "lots"}, "phi_volume"),
        (
            "/vendors/new/",
            {"name": "A", "legal_name": "x", "phi_volume": "none", "phi_categories": ["dna"]},
            "phi_categories",
        ),
    ],
)
def test_bad_vendor_input_is_refused(officer_client, officer, path, data, field):
    response = officer_client.post(path, {"owner": officer.pk, **data})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Vendor.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"breach_notice_days": 61}, "breach_notice_days"),
        ({"end_date": "2000-01-01"}, "end_date"),
        ({"start_date": "not a date"}, "start_date"),
        ({"kind": "baa", "covers_phi": ""}, "covers_phi"),
        ({"reference": ""}, "reference"),
        ({"renewal_months": 0}, "renewal_months"),
    ],
)
def test_bad_agreement_input_is_refused(officer_client, officer, data, field):
    vendor = make_vendor(officer)
    today = services.today()
    form = {
        "kind": "baa",
        "reference": "B",
        "covers_phi": "on",
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=9)).isoformat(),
        "renewal": "express",
        "renewal_months": 12,
        "notice_days": 60,
        "breach_notice_days": 30,
        "end_of_term": "destroy",
        **data,
    }
    response = officer_client.post(f"/vendors/{vendor.pk}/agreements/new/", form)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Agreement.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "account", "username": "nobody"}, "username"),
        ({"kind": "oauth_client"}, "client"),
        ({"kind": "remote_support", "label": ""}, "label"),
        ({"kind": "account", "agreement": 999999}, "agreement"),
    ],
)
def test_bad_credential_input_is_refused(officer_client, officer, data, field):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    response = officer_client.post(
        f"/vendors/{vendor.pk}/credentials/new/", {"agreement": agreement.pk, **data}
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Credential.objects.exists()


def test_terminate_and_suspend_need_a_reason(officer_client, officer):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    assert officer_client.post(f"/vendors/agreements/{agreement.pk}/terminate/", {}).status_code == 400
    assert officer_client.post(f"/vendors/{vendor.pk}/suspend/", {"reason": ""}).status_code == 400
    response = officer_client.post(f"/vendors/agreements/{agreement.pk}/terminate/", {"reason": "ended"})
    assert response.status_code == 302
    assert (
        officer_client.post(f"/vendors/agreements/{agreement.pk}/terminate/", {"reason": "x"}).status_code
        == 409
    )


def test_api_lists_and_suspends(officer_client, officer):
    vendor = make_vendor(officer)
    make_agreement(officer, vendor)
    listing = officer_client.get("/api/v1/vendors/")
    assert listing.status_code == 200
    assert listing.json()[0]["name"] == "Scribe Co"
    detail = officer_client.get(f"/api/v1/vendors/{vendor.pk}/").json()
    assert detail["agreements"][0]["reference"] == "BAA-1"
    assert (
        officer_client.post(
            f"/api/v1/vendors/{vendor.pk}/suspend/", {}, content_type="application/json"
        ).status_code
        == 400
    )
    done = officer_client.post(
        f"/api/v1/vendors/{vendor.pk}/suspend/", {"reason": "incident"}, content_type="application/json"
    )
    assert done.status_code == 200
    assert done.json()["credentials"] == 0
    again = officer_client.post(
        f"/api/v1/vendors/{vendor.pk}/suspend/", {"reason": "incident"}, content_type="application/json"
    )
    assert again.status_code == 400


def test_the_command(officer, make_user):
    vendor = make_vendor(officer)
    agreement = make_agreement(officer, vendor)
    services.credential_bind_account(
        actor=officer, vendor=vendor, agreement=agreement, user=make_user("vendor")
    )
    out = StringIO()
    call_command("vendors", "list", stdout=out)
    assert "Scribe Co" in out.getvalue()
    out = StringIO()
    call_command("vendors", "check", stdout=out)
    assert "0 agreement(s) lapsed" in out.getvalue()
    out = StringIO()
    call_command("vendors", "terminate", str(agreement.pk), "--reason", "contract ended", stdout=out)
    assert "1 credential(s) ended, 1 account(s) disabled" in out.getvalue()
    with pytest.raises(CommandError, match="already ended"):
        call_command("vendors", "terminate", str(agreement.pk), "--reason", "again")
    with pytest.raises(CommandError, match="No such vendor"):
        call_command("vendors", "suspend", "Nobody", "--reason", "x")
    call_command("vendors", "suspend", "scribe co", "--reason", "incident", stdout=StringIO())
    assert Vendor.objects.get().status == "suspended"
