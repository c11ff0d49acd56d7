"""The asset REST API: the same checks as the pages, errors in the API's one
shape, read and write tokens, and the all-or-nothing import."""

from __future__ import annotations

import pytest

from safeward.assets import services
from safeward.assets.models import Asset
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db


@pytest.fixture
def keeper(client):
    user = UserFactory(roles=["it_admin"], totp_secret=True)
    sign_in(client, user)
    return user


def test_register_read_list_and_replace(client, keeper):
    database = services.asset_create(actor=None, values={"name": "LIS database", "kind": "database"})
    body = {
        "name": "Lab interface",
        "kind": "integration_endpoint",
        "classification": "highly_sensitive",
        "phi_categories": ["clinical", "identifier"],
        "clinical_services": ["Laboratory"],
        "depends_on": [database.pk],
        "rto_minutes": 60,
        "rpo_minutes": 5,
    }
    created = client.post("/api/v1/assets/", body, content_type="application/json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["depends_on"] == [database.pk]
    assert data["clinical_services"] == ["Laboratory"]
    assert data["origin"] == "manual"
    listed = client.get("/api/v1/assets/", {"kind": "integration_endpoint"}).json()
    assert [a["name"] for a in listed] == ["Lab interface"]
    replaced = client.put(
        f"/api/v1/assets/{data['id']}/", {"name": "Lab interface", "kind": "integration_endpoint"},
        content_type="application/json",
    )  # fmt: skip
    assert replaced.status_code == 200
    assert replaced.json()["depends_on"] == []
    assert client.get(f"/api/v1/assets/{data['id']}/").json()["phi_categories"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "database"}, "name"),
        ({"name": "X", "kind": "spaceship"}, "kind"),
        ({"name": "X", "kind": "database", "phi_categories": ["gossip"]}, "phi_categories"),
        ({"name": "X", "kind": "database", "owner_person_id": 424242}, "owner_person_id"),
        ({"name": "X", "kind": "database", "depends_on": [424242]}, "depends_on"),
        ({"name": "X", "kind": "database", "rpo_minutes": 5}, "rto_minutes"),
        ({"name": "X", "kind": "database", "record_count_estimate": -1}, "record_count_estimate"),
        ({"name": "X", "kind": "database", "next_review_due": "soon"}, "next_review_due"),
    ],
)
def test_bad_input_is_a_clear_400_and_nothing_is_saved(client, keeper, body, field):
    response = client.post("/api/v1/assets/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input."
    assert field in response.json()["errors"]
    assert "gossip" not in response.content.decode()
    assert not Asset.objects.filter(name="X").exists()


def test_unknown_filters_and_missing_assets(client, keeper):
    assert client.get("/api/v1/assets/", {"kind": "spaceship"}).status_code == 400
    assert client.get("/api/v1/assets/999999/").json() == {"detail": "No such record."}
    services.asset_create(actor=None, values={"name": "Taken", "kind": "server"})
    duplicate = client.post(
        "/api/v1/assets/", {"name": "Taken", "kind": "server"}, content_type="application/json"
    )
    assert duplicate.status_code == 400
    assert "name" in duplicate.json()["errors"]


def test_safewards_own_store_keeps_its_computed_classification(client, keeper):
    services.assets_register_self(actor=None)
    database = Asset.objects.get(system_key="safeward.database")
    response = client.put(
        f"/api/v1/assets/{database.pk}/",
        {"name": database.name, "kind": "database", "classification": "public", "phi_categories": []},
        content_type="application/json",
    )
    assert response.status_code == 200
    database.refresh_from_db()
    assert database.classification == "highly_sensitive"
    assert "identifier" in database.phi_categories


def test_import_all_or_nothing(client, keeper):
    refused = client.post(
        "/api/v1/assets/import/",
        {"csv": "name,kind\nA,server\nB,spaceship\n"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"line": 3, "reason": "kind: Select a valid choice."}]
    assert not Asset.objects.exists()
    applied = client.post(
        "/api/v1/assets/import/", {"csv": "name,kind\nA,server\nB,saas\n"}, content_type="application/json"
    )
    assert applied.json() == {"applied": True, "created": 2, "updated": 0, "errors": []}


def test_a_read_token_reads_and_a_write_token_writes(client):
    officer = UserFactory(roles=["security_officer"], totp_secret=True)
    reader = bearer(token(officer, "openid read"))
    writer = bearer(token(officer, "openid read write"))
    assert client.get("/api/v1/assets/", **reader).status_code == 200
    body = {"name": "PACS", "kind": "application"}
    assert client.post("/api/v1/assets/", body, content_type="application/json", **reader).status_code == 403
    assert client.post("/api/v1/assets/", body, content_type="application/json", **writer).status_code == 201


def test_readers_cannot_write(client):
    auditor = UserFactory(roles=["auditor"], totp_secret=True)
    sign_in(client, auditor)
    assert client.get("/api/v1/assets/").status_code == 200
    response = client.post(
        "/api/v1/assets/", {"name": "X", "kind": "server"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not Asset.objects.exists()
