"""The asset register in a real browser: a privacy officer sees the lapsed
assets on the dashboard, opens the asset list, filters it and opens an
asset's page with its dependency graph, then follows the graph to the next
asset. The page fixture fails on any console error (a CSP violation from the
SVG would be one). Screenshots: test-artifacts/screenshots/assets-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.assets import services
from tests.e2e.conftest import nav_click
from tests.e2e.test_clinical import sign_in_browser
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _register() -> None:
    today = clock.now().date()
    reviewed = {"review_state": "reviewed", "next_review_due": today + dt.timedelta(days=200)}
    database = services.asset_create(
        actor=None,
        values={"name": "EHR database", "kind": "database", "classification": "highly_sensitive",
                "phi_categories": ["clinical", "identifier"], **reviewed},
    )  # fmt: skip
    ehr = services.asset_create(
        actor=None,
        values={"name": "EHR", "kind": "application", "classification": "highly_sensitive",
                "clinical_services": ["Emergency", "Inpatient wards"], **reviewed},
        depends_on_ids=[database.pk],
    )  # fmt: skip
    for name, kind in (("PACS", "application"), ("Lab interface", "integration_endpoint")):
        services.asset_create(
            actor=None,
            values={"name": name, "kind": kind, "classification": "highly_sensitive", **reviewed},
            depends_on_ids=[ehr.pk],
        )
    services.asset_create(
        actor=None,
        values={"name": "E-mail formatting service", "kind": "saas", "hosting": "cloud",
                "classification": "highly_sensitive", "phi_categories": ["contact", "demographic"],
                "last_assessed_on": today - dt.timedelta(days=730),
                "next_assessment_due": today - dt.timedelta(days=365)},
        depends_on_ids=[ehr.pk],
    )  # fmt: skip
    services.asset_create(
        actor=None, values={"name": "Intranet", "kind": "server", "classification": "internal"}
    )
    services.assets_register_self(actor=None)


def test_privacy_officer_opens_the_register_and_an_assets_graph(page, live_server, screenshot):
    _register()
    officer = UserFactory(
        username="privacy.po", first_name="Priya", roles=["privacy_officer"], totp_secret=True
    )
    sign_in_browser(page, officer)
    panel = page.locator("#assets-lapsed")
    assert "E-mail formatting service" in panel.inner_text()
    screenshot(page, "assets-dashboard")

    nav_click(page, "Asset register")
    page.wait_for_selector("h1:has-text('Information assets')")
    table = page.locator("#assets")
    assert "SafeWard database" in table.inner_text()
    assert "assessment lapsed" in table.locator("tr", has_text="E-mail formatting service").inner_text()
    page.get_by_label("Classification").select_option("internal")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**classification=internal**")
    assert "Intranet" in table.inner_text()
    assert "EHR database" not in table.inner_text()
    page.get_by_label("Classification").select_option("")
    page.get_by_role("button", name="Filter").click()
    screenshot(page, "assets-list")

    page.get_by_role("link", name="EHR", exact=True).click()
    page.wait_for_selector("h1:has-text('EHR')")
    graph = page.locator("#dependency-graph svg")
    assert graph.is_visible()
    assert graph.locator("g.node").count() == 5
    assert graph.locator("line.edge").count() == 4
    assert "Handling rules for Highly Sensitive" in page.content()
    screenshot(page, "assets-detail-graph")

    graph.locator("a", has_text="EHR database").click()
    page.wait_for_selector("h1:has-text('EHR database')")
    assert page.locator("#dependency-graph g.node").count() == 5
    screenshot(page, "assets-detail-database")


def test_privacy_officer_links_an_oauth_client_and_finds_its_pull_by_hash(page, live_server, screenshot):
    """An OAuth client is linked to the asset it is on the asset's form; a
    pull by that client is manifested with the asset as its destination and
    found on the manifest page by its hash (ADR 0811)."""
    import hashlib

    from safeward.audit.manifests import ManifestDraft, manifest_write
    from safeward.fhir import clients

    admin = UserFactory(username="it.admin", roles=["it_admin"], totp_secret=True)
    application = clients.client_register(
        actor=admin,
        name="Growth charts",
        owner=admin,
        grant="authorization-code",
        client_type="public",
        scopes="launch/patient patient/*.rs",
        redirect_uris="https://app.example.test/callback",
        expires_at=clock.now() + dt.timedelta(days=365),
    ).registration.application
    asset = services.asset_create(
        actor=None,
        values={"name": "Growth chart app", "kind": "application", "hosting": "vendor",
                "classification": "highly_sensitive"},
    )  # fmt: skip
    officer = UserFactory(username="privacy.po", roles=["privacy_officer"], totp_secret=True)
    sign_in_browser(page, officer)
    page.goto(f"/assets/{asset.pk}/edit/")
    page.get_by_label("OAuth clients it is").select_option(application.client_id)
    screenshot(page, "assets-link-client-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("h1:has-text('Growth chart app')")
    assert f"Growth charts ({application.client_id})" in page.locator("#asset-clients").inner_text()
    screenshot(page, "assets-detail-client")

    body = b'{"resourceType": "Bundle", "type": "searchset"}'
    manifest_write(
        actor=officer,
        draft=ManifestDraft(
            kind="fhir",
            route="fhir:search",
            purpose="TREAT",
            patient_ids=("p-1",),
            client_id=application.client_id,
        ),
        content=body,
    )
    page.goto("/assets/manifests/")
    page.get_by_label("SHA-256 of the file").fill(hashlib.sha256(body).hexdigest())
    page.get_by_role("button", name="Look up").click()
    results = page.locator("#manifest-results")
    results.wait_for()
    assert "Growth chart app" in results.inner_text()
    assert application.client_id in results.inner_text()
    screenshot(page, "assets-manifest-client")
