"""The asset register's control tests (safeward/assets/controls.py): each
fails on a seeded violation and passes without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.assets import discovery_services, services
from safeward.assets.models import DiscoveryFinding, DiscoveryScan, ExportManifest
from safeward.audit.manifests import ManifestDraft, manifest_write
from safeward.compliance import discover
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(control_id: str, now: dt.datetime | None = None) -> dict[str, bool]:
    test = discover()[control_id]
    return {check.label: check.passed for check in test.run(now or clock.now())}


# Each test sees its control pass on a sound resource and fail on the violation.
COVERED_CONTROLS = {
    "assets.review_current": "test_review_current_fails_a_lapsed_or_never_reviewed_asset",
    "assets.owner_assigned": "test_owner_assigned_fails_an_asset_without_owner_or_custodian",
    "assets.phi_findings_triaged": "test_phi_findings_triaged_fails_an_open_finding_past_the_period",
    "assets.manifests_complete": "test_manifests_complete_fails_an_altered_manifest",
}


def test_the_asset_controls_are_declared_with_their_catalog_refs():
    tests = {key: test for key, test in discover().items() if key.startswith("assets.")}
    assert set(tests) == {
        "assets.review_current",
        "assets.owner_assigned",
        "assets.phi_findings_triaged",
        "assets.manifests_complete",
    }
    assert "iso27001-2022:A.5.9" in tests["assets.review_current"].maps
    assert "hipaa:164.310(d)(1)" in tests["assets.phi_findings_triaged"].maps


def test_review_current_fails_a_lapsed_or_never_reviewed_asset(frozen_clock):
    today = clock.now().date()
    current = {
        "last_reviewed_on": today - dt.timedelta(days=10),
        "next_review_due": today + dt.timedelta(days=300),
        "last_assessed_on": today - dt.timedelta(days=10),
        "next_assessment_due": today + dt.timedelta(days=300),
    }
    services.asset_create(actor=None, values={"name": "EHR", "kind": "application", **current})
    assert run("assets.review_current") == {"EHR": True}
    services.asset_create(
        actor=None,
        values={
            "name": "Shared drive",
            "kind": "file_share",
            **current,
            "next_review_due": today - dt.timedelta(days=1),
        },
    )
    services.asset_create(actor=None, values={"name": "Never looked at", "kind": "server"})
    services.asset_create(actor=None, values={"name": "Old", "kind": "server", "review_state": "retired"})
    assert run("assets.review_current") == {"EHR": True, "Shared drive": False, "Never looked at": False}


def test_owner_assigned_fails_an_asset_without_owner_or_custodian(person):
    owner, custodian = person("E1"), person("E2", first="Cy", last="Custodian")
    people = {"owner_person_id": owner.pk, "custodian_person_id": custodian.pk}
    services.asset_create(actor=None, values={"name": "PACS", "kind": "application", **people})
    assert run("assets.owner_assigned") == {"PACS": True}
    services.asset_create(
        actor=None, values={"name": "Mail service", "kind": "saas", "owner_person_id": owner.pk}
    )
    assert run("assets.owner_assigned") == {"PACS": True, "Mail service": False}


def test_phi_findings_triaged_fails_an_open_finding_past_the_period(tmp_path):
    (tmp_path / "export.csv").write_text("name,ssn\nJane Doe,123-45-6789\nJohn Roe,234-56-7890\n")
    discovery_services.scan_run(actor=None, roots=[str(tmp_path)], trigger=DiscoveryScan.Trigger.COMMAND)
    finding = DiscoveryFinding.objects.get()
    label = f"PHI finding {finding.pk} on {finding.asset.name}"
    assert run("assets.phi_findings_triaged", finding.created_at + dt.timedelta(days=6)) == {label: True}
    late = finding.created_at + dt.timedelta(days=8)
    assert run("assets.phi_findings_triaged", late) == {label: False}
    officer = UserFactory(roles=["privacy_officer"], totp_secret=True)
    discovery_services.finding_triage(
        actor=officer, finding_id=finding.pk, action="false_positive", note="Synthetic test data."
    )
    assert run("assets.phi_findings_triaged", late) == {}


def test_manifests_complete_fails_an_altered_manifest():
    manifest = manifest_write(
        actor=None,
        draft=ManifestDraft(kind="csv", route="tests", purpose="HOPERAT", patient_ids=("p-1",)),
        content=b"rows",
    )
    assert isinstance(manifest, ExportManifest)
    label = "csv from tests"
    assert run("assets.manifests_complete") == {label: True}
    ExportManifest.objects.filter(pk=manifest.pk).update(patient_ids=["p-2"])
    assert run("assets.manifests_complete") == {label: False}
    assert run("assets.manifests_complete", clock.now() + dt.timedelta(days=91)) == {}
