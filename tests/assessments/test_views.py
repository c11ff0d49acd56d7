"""The compliance pages with results: drill-down from the dashboard to a
failing resource, the exception pages (and their bad input), downloads."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.assessments.models import ControlException, ControlRun
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client):
    user = UserFactory(roles=["compliance_officer"], totp_secret=True)
    sign_in(client, user)
    return user


def test_run_all_and_drill_down_to_the_failing_resource(client, officer, registered):
    response = client.post("/compliance/run/", follow=True)
    run = ControlRun.objects.get()
    assert response.redirect_chain[-1][0] == f"/compliance/runs/{run.pk}/"
    assert b"Verified" in response.content
    dashboard = client.get("/compliance/").content.decode()
    assert "HHS 405(d)" in dashboard
    assert "identity.mfa" in dashboard
    framework = client.get("/compliance/frameworks/hicp/").content.decode()
    assert "/compliance/frameworks/hicp/clauses/3/" in framework
    assert "<svg" in framework
    clause = client.get("/compliance/frameworks/hicp/clauses/3/").content.decode()
    assert "3.M.A" in clause
    assert f"/compliance/runs/{run.pk}/controls/identity.mfa/" in clause
    result = client.get(f"/compliance/runs/{run.pk}/controls/identity.mfa/").content.decode()
    assert "user2" in result
    assert "mfa: False" in result
    assert "Request an exception" in result
    snapshot = client.get(f"/compliance/runs/{run.pk}/snapshot.json").json()
    assert snapshot["sha256"] == run.snapshot_sha256
    assert client.get("/").content.decode().count("Compliance dashboard") == 1  # the worklist


def test_exception_pages_request_then_a_second_person_approves(client, officer, registered):
    client.post("/compliance/run/")
    page = client.get(
        "/compliance/exceptions/new/?control_id=identity.mfa&resource_type=account&resource_id=2"
    )
    assert page.status_code == 200
    assert b'value="identity.mfa"' in page.content
    expires = (clock.now().date() + dt.timedelta(days=30)).isoformat()
    body = {
        "control_id": "identity.mfa",
        "resource_type": "account",
        "resource_id": "2",
        "reason": "Kiosk account",
        "expires_on": expires,
    }
    assert client.post("/compliance/exceptions/new/", body).status_code == 302
    exception = ControlException.objects.get()
    own = client.post(f"/compliance/exceptions/{exception.pk}/approve/")
    assert own.status_code == 400
    assert b"second person" in own.content
    sign_in(client, UserFactory(roles=["security_officer"], totp_secret=True))
    assert client.post(f"/compliance/exceptions/{exception.pk}/approve/").status_code == 302
    exception.refresh_from_db()
    assert exception.state == "approved"
    assert client.post(f"/compliance/exceptions/{exception.pk}/revoke/", {"reason": ""}).status_code == 400
    assert (
        client.post(f"/compliance/exceptions/{exception.pk}/revoke/", {"reason": "done"}).status_code == 302
    )


@pytest.mark.parametrize(
    "change",
    [
        {"reason": ""},
        {"expires_on": "not a date"},
        {"expires_on": "2001-01-01"},
        {"resource_id": "404"},
        {"control_id": ""},
        {"reason": "x" * 2001},
    ],
)
def test_bad_exception_requests_get_the_form_back(client, officer, registered, change):
    client.post("/compliance/run/")
    body = {
        "control_id": "identity.mfa",
        "resource_type": "account",
        "resource_id": "2",
        "reason": "Kiosk",
        "expires_on": (clock.now().date() + dt.timedelta(days=3)).isoformat(),
        **change,
    }
    response = client.post("/compliance/exceptions/new/", body)
    assert response.status_code == 400
    assert not ControlException.objects.exists()


def test_downloads(client, officer, registered):
    client.post("/compliance/run/")
    pdf = client.get("/compliance/frameworks/hicp/report.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    csv = client.get("/compliance/frameworks/hicp/clauses.csv")
    assert csv.content.decode().startswith("clause,title,entries")
    oscal = client.get("/compliance/frameworks/hicp/oscal.json").json()
    assert oscal["assessment-results"]["metadata"]["oscal-version"].startswith("1.1")
