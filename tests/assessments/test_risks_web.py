"""Risk register pages and REST API: the register with its heat map and
overdue reviews, recording, editing and reviewing risks, and bad input on
every form and endpoint (a clear 4xx, nothing saved)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from safeward import clock
from safeward.assessments.models import Risk
from safeward.assets import services as asset_services
from tests.assessments.campaign_helpers import people, risk
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
R = "/compliance/risks/"
API = "/api/v1/risks/"


def client_for(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def form_data(who, **changes):
    data = {
        "title": "Unpatched legacy infusion pumps",
        "threat_source": "adversarial",
        "threat_event": "Malware spreads to pumps on the clinical VLAN.",
        "vulnerability": "Vendor-locked Windows XP controllers.",
        "likelihood": "3",
        "impact": "5",
        "treatment": "mitigate",
        "treatment_plan": "Isolate the pumps in their own segment.",
        "owner": str(who.pk),
        "residual_likelihood": "2",
        "residual_impact": "5",
        "review_due": (clock.now().date() + dt.timedelta(days=90)).isoformat(),
        "status": "open",
    }
    data.update(changes)
    return data


def test_the_register_shows_the_heat_map_and_overdue_reviews():
    owner, _ = people()
    risk(owner, title="Ransomware", review_due=clock.now().date() - dt.timedelta(days=2))
    page = client_for(owner).get(R)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="heatmap"' in text
    assert 'id="residual-heatmap"' in text
    assert "1 review overdue" in text
    assert "20 Critical" in text


def test_record_edit_and_review_a_risk_through_the_pages():
    owner, _ = people()
    asset = asset_services.asset_create(actor=owner, values={"name": "Infusion pumps", "kind": "server"})
    client = client_for(owner)
    assert client.get(f"{R}new/?asset={asset.pk}").status_code == 200
    response = client.post(f"{R}new/", {**form_data(owner), "asset_ids": [str(asset.pk)]})
    created = Risk.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{R}{created.pk}/"
    assert created.asset_ids == [asset.pk]
    assert created.inherent_score == 15
    detail = client.get(f"{R}{created.pk}/").content.decode()
    assert "Infusion pumps" in detail
    assert "15 High" in detail
    assert client.get(f"{R}{created.pk}/edit/").status_code == 200
    assert (
        client.post(f"{R}{created.pk}/edit/", form_data(owner, impact="4", residual_impact="4")).status_code
        == 302
    )
    assert Risk.objects.get().inherent_score == 12
    assert client.post(f"{R}{created.pk}/review/", {"next_review_due": "2000-01-01"}).status_code == 400
    next_due = (clock.now().date() + dt.timedelta(days=120)).isoformat()
    assert client.post(f"{R}{created.pk}/review/", {"next_review_due": next_due}).status_code == 302
    assert Risk.objects.get().last_reviewed_on == clock.now().date()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, b"This field is required"),
        ({"likelihood": "6"}, b"Select a valid choice"),
        ({"residual_likelihood": "4"}, b"cannot be higher than the inherent likelihood"),
        ({"treatment": "pray"}, b"Select a valid choice"),
        ({"owner": "999999"}, b"Select a valid choice"),
        ({"review_due": "next year"}, b"Enter a valid date"),
        ({"asset_ids": ["999999"]}, b"Select a valid choice"),
        ({"control_ids": ["nope.nothing"]}, b"Select a valid choice"),
        ({"finding_ids": ["999999"]}, b"Select a valid choice"),
        ({"treatment_plan": ""}, b"This field is required"),
    ],
)
def test_bad_risk_forms_are_refused_and_nothing_is_saved(changes, message):
    owner, _ = people()
    response = client_for(owner).post(f"{R}new/", form_data(owner, **changes))
    assert response.status_code == 400
    assert message in response.content
    assert not Risk.objects.exists()


def test_bad_filters_are_refused():
    owner, _ = people()
    client = client_for(owner)
    assert client.get(R + "?status=bogus").status_code == 400
    assert client.get(R + "?q=" + "x" * 81).status_code == 400
    assert client.get(R + "?level=high&overdue=1").status_code == 200


def api_body(who, **changes):
    body = {
        "title": "Lost unencrypted laptop",
        "threat_source": "accidental",
        "threat_event": "A laptop with exported spreadsheets is left on a train.",
        "vulnerability": "No full-disk encryption on the billing laptops.",
        "likelihood": 3,
        "impact": 4,
        "treatment": "mitigate",
        "treatment_plan": "BitLocker on every laptop; block exports to local disk.",
        "owner": who.pk,
        "residual_likelihood": 1,
        "residual_impact": 4,
        "review_due": (clock.now().date() + dt.timedelta(days=60)).isoformat(),
    }
    body.update(changes)
    return body


def test_the_risk_api():
    owner, _ = people()
    client = client_for(owner)
    json = "application/json"
    for bad in (
        api_body(owner, likelihood=9),
        api_body(owner, residual_impact=5),
        api_body(owner, owner=999_999),
        {},
    ):
        assert client.post(API, bad, content_type=json).status_code == 400
    assert not Risk.objects.exists()
    created = client.post(API, api_body(owner), content_type=json)
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["inherent_score"], body["inherent_level"], body["residual_level"]) == (12, "high", "low")
    url = f"{API}{body['id']}/"
    assert client.get(url).json()["title"] == "Lost unencrypted laptop"
    assert client.put(url, api_body(owner, status="closed"), content_type=json).json()["status"] == "closed"
    assert client.put(url, api_body(owner, likelihood=0), content_type=json).status_code == 400
    assert (
        client.post(f"{url}review/", {"next_review_due": "1999-01-01"}, content_type=json).status_code == 409
    )
    assert client.get(API + "?level=bogus").status_code == 400
    cells = client.get(API + "heat-map/").json()
    assert len(cells) == 25
    assert sum(cell["count"] for cell in cells) == 0
    assert client.get(f"{API}999999/").status_code == 404
    auditor = UserFactory(roles=["auditor"], totp_secret=True)
    reader = client_for(auditor)
    assert reader.get(API).status_code == 200
    assert reader.post(API, api_body(owner), content_type=json).status_code == 403
