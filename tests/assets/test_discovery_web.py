"""The PHI discovery pages and REST API: scan a registered share, open the
finding, triage it; bad input gets a clear 4xx and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from safeward.assets import discovery_services as services
from safeward.assets.models import DiscoveryFinding, DiscoveryScan
from safeward.demo.share_files import write_csv
from tests.assets.test_discovery_scan import import_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def share(tmp_path, settings):
    settings.SAFEWARD_DISCOVERY_QUARANTINE = tmp_path / "quarantine"
    import_patient("HOSP-20001", birth=dt.date(1960, 1, 1))
    import_patient("HOSP-20002", birth=dt.date(1961, 1, 1))
    root = tmp_path / "share"
    root.mkdir()
    write_csv(root / "list.csv", ["mrn", "name"], [["HOSP-20001", "A Doe"], ["HOSP-20002", "B Doe"]])
    return services.register_discovered_share(actor=None, path=str(root))


@pytest.fixture
def officer(signed_in):
    return signed_in("privacy_officer")


def test_scan_button_then_finding_then_remediate(officer, share):
    client, _ = officer
    queue = client.get("/assets/discovery/")
    assert queue.status_code == 200
    assert share.name in queue.content.decode()
    response = client.post("/assets/discovery/scan/", {"asset": share.pk})
    scan = DiscoveryScan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/assets/discovery/scans/{scan.pk}/"
    assert "list.csv" in client.get(response["Location"]).content.decode()
    finding = DiscoveryFinding.objects.get()
    page = client.get(f"/assets/discovery/findings/{finding.pk}/").content.decode()
    assert "Holds 2 of our patients" in page
    assert "HOSP-20001" not in page
    response = client.post(
        f"/assets/discovery/findings/{finding.pk}/triage/", {"action": "remediate", "remediation": "moved"}
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == DiscoveryFinding.Status.REMEDIATED
    assert not Path(finding.path).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "false_positive", "note": ""}, "Say why"),
        ({"action": "remediate", "remediation": ""}, "Choose how"),
        ({"action": "nonsense"}, "Select a valid choice"),
        ({"action": "confirm", "note": "x" * 600}, "at most 500"),
    ],
)
def test_bad_triage_form_is_refused_and_changes_nothing(officer, share, data, message):
    client, _ = officer
    services.share_scan(actor=officer[1], asset_id=share.pk)
    finding = DiscoveryFinding.objects.get()
    response = client.post(f"/assets/discovery/findings/{finding.pk}/triage/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == DiscoveryFinding.Status.OPEN


@pytest.mark.parametrize("data", [{}, {"asset": "abc"}, {"asset": 999_999}])
def test_bad_scan_request(officer, share, data):
    client, _ = officer
    assert client.post("/assets/discovery/scan/", data).status_code == 400
    assert not DiscoveryScan.objects.exists()


def test_unknown_status_filter(officer):
    client, _ = officer
    assert client.get("/assets/discovery/?status=bogus").status_code == 400


# --- REST API ----------------------------------------------------------------------------------------
def test_api_scan_list_read_triage(officer, share):
    client, _ = officer
    response = client.post(
        f"/api/v1/discovery/shares/{share.pk}/scan/", "{}", content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["findings_opened"] == 1
    (row,) = client.get("/api/v1/discovery/findings/").json()
    assert row["patients_matched"] == 2
    assert row["encrypted"] is False
    assert "patient_ids" not in row
    assert client.get(f"/api/v1/discovery/findings/{row['id']}/").json()["sha256"] == row["sha256"]
    triaged = client.post(
        f"/api/v1/discovery/findings/{row['id']}/triage/",
        json.dumps({"action": "false_positive", "note": "Synthetic data."}),
        content_type="application/json",
    )
    assert triaged.status_code == 200
    assert triaged.json()["status"] == "false_positive"
    again = client.post(
        f"/api/v1/discovery/findings/{row['id']}/triage/",
        json.dumps({"action": "confirm"}),
        content_type="application/json",
    )
    assert again.status_code == 409
    assert "already" in again.json()["detail"]
    assert client.get("/api/v1/discovery/findings/?status=false_positive").json()[0]["id"] == row["id"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"action": "explode"},
        {"action": "remediate", "remediation": "burn"},
        {"action": "false_positive"},
        {"action": "confirm", "note": "x" * 501},
    ],
)
def test_api_bad_triage_input(officer, share, body):
    client, user = officer
    services.share_scan(actor=user, asset_id=share.pk)
    finding = DiscoveryFinding.objects.get()
    response = client.post(
        f"/api/v1/discovery/findings/{finding.pk}/triage/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code in (400, 409)
    assert response.json()["detail"]
    finding.refresh_from_db()
    assert finding.status == DiscoveryFinding.Status.OPEN


def test_api_bad_status_filter(officer):
    client, _ = officer
    response = client.get("/api/v1/discovery/findings/?status=bogus")
    assert response.status_code == 400
    assert response.json()["errors"]["status"]


def test_openapi_documents_the_discovery_api(officer):
    client, _ = officer
    schema = client.get("/api/schema/?format=json").json()
    operations = {
        op["operationId"] for item in schema["paths"].values() for op in item.values() if "operationId" in op
    }
    assert {"discovery_findings_list", "discovery_finding_triage", "discovery_share_scan"} <= operations
