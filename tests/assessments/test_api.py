"""The compliance REST API under the compliance officer: trigger, list,
read, framework tables, results, exceptions, and bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/compliance"


@pytest.fixture
def officer(client):
    user = UserFactory(roles=["compliance_officer"], totp_secret=True)
    sign_in(client, user)
    return user


def test_trigger_list_read_and_verify(client, officer, registered):
    created = client.post(f"{API}/runs/", {"only": ["identity.mfa"]}, content_type="application/json")
    assert created.status_code == 201, created.json()
    run = created.json()
    assert run["controls_total"] == 1
    assert run["actor"] == officer.username
    assert len(run["snapshot_sha256"]) == 64
    assert [r["id"] for r in client.get(f"{API}/runs/").json()] == [run["id"]]
    detail = client.get(f"{API}/runs/{run['id']}/").json()
    assert detail["verified"] is True
    assert detail["results"][0]["outcome"] == "fail"
    result = client.get(f"{API}/runs/{run['id']}/controls/identity.mfa/").json()
    assert [(r["resource_id"], r["evidence"]["mfa"]) for r in result["failing"]] == [("2", False)]
    table = client.get(f"{API}/frameworks/hicp/").json()
    assert table["key"] == "hicp"
    assert table["total"]["failing"] >= 1
    assert client.get(f"{API}/frameworks/nonsense/").status_code == 404
    assert client.get(f"{API}/runs/{run['id']}/controls/nope.none/").status_code == 404


def test_bad_trigger_input_is_a_400_and_runs_nothing(client, officer, registered):
    for body in ({"only": ["nope.none"]}, {"only": "identity.mfa"}, {"only": ["x" * 200]}):
        response = client.post(f"{API}/runs/", body, content_type="application/json")
        assert response.status_code == 400, body
    assert client.get(f"{API}/runs/").json() == []


def test_exceptions_request_approve_revoke(client, officer, registered):
    client.post(f"{API}/runs/", {}, content_type="application/json")
    body = {
        "control_id": "identity.mfa",
        "resource_type": "account",
        "resource_id": "2",
        "reason": "Kiosk",
        "expires_on": (clock.now().date() + dt.timedelta(days=10)).isoformat(),
    }
    created = client.post(f"{API}/exceptions/", body, content_type="application/json")
    assert created.status_code == 201, created.json()
    exception = created.json()["id"]
    own = client.post(f"{API}/exceptions/{exception}/approve/", content_type="application/json")
    assert own.status_code == 409
    assert "second person" in own.json()["detail"]
    second = UserFactory(roles=["compliance_officer"], totp_secret=True)
    sign_in(client, second)
    assert (
        client.post(f"{API}/exceptions/{exception}/approve/", content_type="application/json").json()["state"]
        == "approved"
    )
    assert (
        client.post(f"{API}/exceptions/{exception}/revoke/", {}, content_type="application/json").status_code
        == 400
    )
    revoked = client.post(
        f"{API}/exceptions/{exception}/revoke/", {"reason": "gone"}, content_type="application/json"
    )
    assert revoked.json()["state"] == "revoked"
    assert revoked.json()["revoked_by"] == second.username
    assert (
        client.post(
            "/api/v1/compliance/exceptions/999999/approve/", content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(f"{API}/exceptions/", {"state": "bogus"}).status_code == 400
    assert len(client.get(f"{API}/exceptions/", {"state": "revoked"}).json()) == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"reason": ""}, 400),
        ({"expires_on": "tomorrow"}, 400),
        ({"expires_on": "2001-01-01"}, 409),
        ({"resource_id": "404"}, 409),
    ],
)
def test_bad_exception_requests(client, officer, registered, change, status):
    client.post(f"{API}/runs/", {}, content_type="application/json")
    body = {
        "control_id": "identity.mfa",
        "resource_type": "account",
        "resource_id": "2",
        "reason": "Kiosk",
        "expires_on": (clock.now().date() + dt.timedelta(days=10)).isoformat(),
        **change,
    }
    assert client.post(f"{API}/exceptions/", body, content_type="application/json").status_code == status
    assert client.get(f"{API}/exceptions/").json() == []


def test_readers_cannot_write(client, registered):
    sign_in(client, UserFactory(roles=["auditor"], totp_secret=True))
    assert client.get(f"{API}/runs/").status_code == 200
    assert client.post(f"{API}/runs/", {}, content_type="application/json").status_code == 403
