"""Downtime mode: planned downtime needs a second person; while active, every
write on every interface (web, REST API, FHIR) answers 503 except signing in
and out and ending the downtime; a banner shows on every page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver

from safeward.continuity import services
from safeward.continuity.models import Downtime
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.security.test_url_permissions import walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(roles=["it_admin"], totp_secret=True)


@pytest.fixture
def officer():
    return UserFactory(roles=["security_officer"], totp_secret=True)


def test_planned_downtime_needs_a_second_person(admin, officer):
    downtime = services.downtime_declare(actor=admin, kind="planned", reason="Database upgrade")
    assert downtime.state == Downtime.State.PENDING
    with pytest.raises(services.DowntimeRefused, match="second person"):
        services.downtime_confirm(actor=admin, downtime=downtime)
    confirmed = services.downtime_confirm(actor=officer, downtime=downtime)
    assert confirmed.state == Downtime.State.ACTIVE
    assert confirmed.confirmed_by == officer
    with pytest.raises(services.DowntimeRefused):
        services.downtime_declare(actor=officer, kind="unplanned", reason="again")


def test_bad_declarations_are_refused(admin, client):
    with pytest.raises(services.DowntimeRefused):
        services.downtime_declare(actor=admin, kind="sometimes", reason="x")
    with pytest.raises(services.DowntimeRefused):
        services.downtime_declare(actor=admin, kind="unplanned", reason="   ")
    sign_in(client, admin)
    for data in (
        {},
        {"kind": "planned"},
        {"kind": "never", "reason": "x"},
        {"kind": "planned", "reason": "x" * 301},
    ):
        assert client.post("/continuity/downtime/declare/", data).status_code == 400
    assert not Downtime.objects.exists()


def _write_paths() -> list[str]:
    """One concrete path per route of the URLconf (placeholders filled)."""
    import re

    paths = []
    for pattern, _name, _callback in walk(get_resolver()):
        path = "/" + re.sub(
            r"<(?:(\w+):)?\w+>", lambda m: "1" if m.group(1) in {"int", None} else "x", pattern
        )
        path = path.replace("^", "").replace("$", "")
        paths.append(path)
    return sorted(set(paths))


def test_every_write_on_every_interface_answers_503_during_downtime(admin, officer):
    client = Client()
    sign_in(client, admin)
    services.downtime_declare(actor=admin, kind="unplanned", reason="EHR outage")
    page = client.get("/continuity/")
    assert page.status_code == 200
    assert b"downtime-banner" in page.content
    refused = []
    open_paths = []
    for path in _write_paths():
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(path)
            if response.status_code == 503:
                refused.append(path)
            else:
                open_paths.append((method, path, response.status_code))
    allowed_prefixes = ("/accounts/", "/o/token/", "/o/revoke_token/", "/continuity/downtime/1/end/")
    unexpected = [item for item in open_paths if not item[1].startswith(allowed_prefixes)]
    assert not unexpected, unexpected[:10]
    assert any(p.startswith("/api/v1/") for p in refused)
    assert any(p.startswith("/fhir/") for p in refused)
    api = client.post("/api/v1/clinical/patients/", {}, content_type="application/json")
    assert api.status_code == 503
    assert api["Content-Type"] == "application/problem+json"
    assert "read-only" in api.json()["detail"]
    fhir = client.post("/fhir/Patient", "{}", content_type="application/fhir+json")
    assert fhir.status_code == 503


def test_the_downtime_ends_and_writes_come_back(admin):
    client = Client()
    sign_in(client, admin)
    downtime = services.downtime_declare(actor=admin, kind="unplanned", reason="EHR outage")
    assert client.post("/continuity/downtime/declare/", {}).status_code == 503
    response = client.post(f"/continuity/downtime/{downtime.pk}/end/")
    assert response.status_code == 302
    assert Downtime.objects.get().state == Downtime.State.ENDED
    assert client.post("/continuity/downtime/declare/", {}).status_code == 400
    assert b"downtime-banner" not in client.get("/continuity/").content
