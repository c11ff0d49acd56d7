"""The asset pages: filters, the detail with its drawn dependency graph and
handling rules, registering and editing (bad input: clear errors, nothing
saved), reviews and the CSV import through the page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safeward.assets import services
from safeward.assets.models import Asset, AssetDependency
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client):
    user = UserFactory(roles=["privacy_officer"], totp_secret=True)
    sign_in(client, user)
    return user


def _asset(name: str, depends_on=(), **values) -> Asset:
    return services.asset_create(
        actor=None,
        values={"name": name, "kind": Asset.Kind.APPLICATION, **values},
        depends_on_ids=[a.pk for a in depends_on],
    )


def test_the_list_filters_and_refuses_unknown_filters(client, officer):
    _asset("EHR", classification="highly_sensitive")
    _asset("Intranet", classification="internal", kind=Asset.Kind.SERVER)
    page = client.get("/assets/", {"classification": "internal"}).content.decode()
    assert "Intranet" in page
    assert "EHR" not in page
    assert "Handling rules for Highly Sensitive" in page
    assert client.get("/assets/", {"kind": "server"}).content.decode().count("Intranet") >= 1
    for bad in ({"kind": "spaceship"}, {"classification": "secret"}, {"review_state": "x"}, {"q": "x" * 81}):
        response = client.get("/assets/", bad)
        assert response.status_code == 400
        assert 'role="alert"' in response.content.decode()


def test_the_detail_draws_the_dependency_graph(client, officer):
    database = _asset("EHR database", kind=Asset.Kind.DATABASE, classification="highly_sensitive")
    ehr = _asset("EHR", depends_on=[database], classification="highly_sensitive")
    portal = _asset("Patient portal", depends_on=[ehr])
    page = client.get(f"/assets/{ehr.pk}/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page
    for other in (database, ehr, portal):
        assert f'href="/assets/{other.pk}/"' in page
    assert page.count('class="edge"') == 2
    assert "<script" not in page.split('id="dependency-graph"')[1].split("</svg>")[0]
    assert "style=" not in page.split('id="dependency-graph"')[1].split("</svg>")[0]
    assert "Handling rules for Highly Sensitive" in page


def test_registering_an_asset_with_bad_input_saves_nothing(client, officer):
    response = client.post(
        "/assets/new/",
        {
            "name": "",
            "kind": "spaceship",
            "hosting": "cloud",
            "encrypted_at_rest": "yes",
            "encrypted_in_transit": "maybe",
            "criticality": "high",
            "rpo_minutes": "15",
            "last_reviewed_on": "2026-05-01",
            "next_review_due": "2026-04-01",
            "phi_categories": ["clinical", "gossip"],
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page
    assert "Select a valid choice." in page
    assert "must come after the last one" in page
    assert "recovery time objective" in page
    assert not Asset.objects.exists()


def test_registering_and_editing_an_asset(client, officer, person):
    owner = person()
    database = _asset("PACS database", kind=Asset.Kind.DATABASE)
    response = client.post(
        "/assets/new/",
        {
            "name": "PACS",
            "kind": "application",
            "owner_person_id": str(owner.pk),
            "hosting": "on_premises",
            "classification": "highly_sensitive",
            "phi_categories": ["clinical", "demographic"],
            "encrypted_at_rest": "yes",
            "encrypted_at_rest_evidence": "SAN encryption report 2026-03",
            "encrypted_in_transit": "yes",
            "criticality": "critical",
            "rto_minutes": "240",
            "rpo_minutes": "15",
            "clinical_services": "Radiology, Emergency, Radiology",
            "depends_on": [str(database.pk)],
        },
    )
    assert response.status_code == 302
    pacs = Asset.objects.get(name="PACS")
    assert pacs.owner_person_id == owner.pk
    assert pacs.phi_categories == ["clinical", "demographic"]
    assert pacs.clinical_services == ["Radiology", "Emergency"]
    assert AssetDependency.objects.filter(asset=pacs, depends_on=database).exists()
    page = client.get(f"/assets/{pacs.pk}/").content.decode()
    assert "Dana Owner" in page
    response = client.post(
        f"/assets/{pacs.pk}/edit/",
        {"name": "PACS", "kind": "application", "hosting": "vendor", "vendor_name": "Imaging Co",
         "encrypted_at_rest": "yes", "encrypted_in_transit": "yes", "criticality": "critical"},
    )  # fmt: skip
    assert response.status_code == 302
    pacs.refresh_from_db()
    assert pacs.hosting == "vendor"
    assert not AssetDependency.objects.filter(asset=pacs).exists()


def test_an_asset_cannot_depend_on_itself_through_the_form(client, officer):
    asset = _asset("Loop")
    response = client.post(
        f"/assets/{asset.pk}/edit/",
        {"name": "Loop", "kind": "application", "hosting": "on_premises", "encrypted_at_rest": "unknown",
         "encrypted_in_transit": "unknown", "criticality": "low", "depends_on": [str(asset.pk)]},
    )  # fmt: skip
    assert response.status_code == 400
    assert not AssetDependency.objects.exists()


def test_recording_a_review_and_refusing_a_past_date(client, officer, frozen_clock):
    asset = _asset("Shared drive", kind=Asset.Kind.FILE_SHARE)
    bad = client.post(f"/assets/{asset.pk}/review/", {"kind": "review", "next_due": "2020-01-01"})
    assert bad.status_code == 400
    assert "must be in the future" in bad.content.decode()
    assert (
        client.post(f"/assets/{asset.pk}/review/", {"kind": "audit", "next_due": "2027-01-01"}).status_code
        == 400
    )
    asset.refresh_from_db()
    assert asset.last_reviewed_on is None
    ok = client.post(f"/assets/{asset.pk}/review/", {"kind": "assessment", "next_due": "2027-11-01"})
    assert ok.status_code == 302
    asset.refresh_from_db()
    assert str(asset.next_assessment_due) == "2027-11-01"


def test_the_import_page_applies_all_or_nothing(client, officer):
    bad = b"name,kind\nEHR,application\nPACS,spaceship\n"
    response = client.post("/assets/import/", {"file": SimpleUploadedFile("a.csv", bad, "text/csv")})
    assert response.status_code == 400
    assert "<td>3</td><td>kind: Select a valid choice.</td>" in response.content.decode()
    assert not Asset.objects.exists()
    good = b"name,kind,depends_on\nEHR,application,EHR database\nEHR database,database,\n"
    response = client.post("/assets/import/", {"file": SimpleUploadedFile("a.csv", good, "text/csv")})
    assert response.status_code == 302
    assert set(Asset.objects.values_list("name", flat=True)) == {"EHR", "EHR database"}
