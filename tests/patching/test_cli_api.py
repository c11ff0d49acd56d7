"""`safeward vulns` and the REST API: imports from files, a report, an
upload refused whole, analysis and approval over the API."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from safeward import clock
from safeward.patching import services
from safeward.patching.models import Finding, Inventory
from tests.conftest import sign_in
from tests.patching.conftest import HEARTBLEED, KEV, openssl

pytestmark = pytest.mark.django_db


def test_the_cli_imports_feeds_and_an_sbom_and_reports(tmp_path, capsys, dmz_asset):
    osv = tmp_path / "osv.json"
    osv.write_text(json.dumps([HEARTBLEED]))
    kev = tmp_path / "kev.json"
    kev.write_text(json.dumps(KEV))
    epss = tmp_path / "epss.csv"
    epss.write_text("#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000\ncve,epss,percentile\n")
    sbom = tmp_path / "engine.cdx.json"
    sbom.write_bytes(openssl())
    call_command("vulns", "import-osv", str(osv))
    call_command("vulns", "import-kev", str(kev))
    call_command("vulns", "import-epss", str(epss))
    call_command("vulns", "import-sbom", str(sbom), "--asset", str(dmz_asset.pk))
    call_command("vulns", "match")
    call_command("vulns", "report", "--json")
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{\n") :])
    assert report["kev"] == 1
    assert report["most_urgent"][0]["advisory"] == "SAFEWARD-2014-0160"
    with pytest.raises(CommandError, match="no file"):
        call_command("vulns", "import-osv", str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"version": "1"}]}')
    with pytest.raises(CommandError, match="name is missing"):
        call_command("vulns", "import-sbom", str(bad), "--asset", str(dmz_asset.pk))
    with pytest.raises(CommandError, match="https"):
        call_command("vulns", "import-kev", "http://example.org/kev.json")


def test_the_api_uploads_triages_and_approves(engineer, approver, dmz_asset, heartbleed):
    client = Client()
    sign_in(client, engineer)
    refused = client.post(
        "/api/v1/vulns/inventories/",
        {"target_kind": "asset", "target_id": dmz_asset.pk, "content": "{oops"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert "Not JSON" in " ".join(refused.json()["errors"])
    assert Inventory.objects.count() == 0
    created = client.post(
        "/api/v1/vulns/inventories/",
        {"target_kind": "asset", "target_id": dmz_asset.pk, "content": openssl().decode()},
        content_type="application/json",
    )
    assert created.status_code == 201
    assert created.json()["created"] == 1
    findings = client.get("/api/v1/vulns/findings/").json()
    assert findings[0]["advisory"]["id"] == "SAFEWARD-2014-0160"
    finding_id = findings[0]["id"]
    analysed = client.put(
        f"/api/v1/vulns/findings/{finding_id}/analysis/",
        {"state": "exploitable", "response": ["update"]},
        content_type="application/json",
    )
    assert analysed.status_code == 200
    assert analysed.json()["state"] == "exploitable"
    exception = services.exception_request(
        actor=engineer,
        finding_id=finding_id,
        decision="accept",
        justification="Upgrade scheduled.",
        controls=[("patching.inventory_current", f"asset:{dmz_asset.pk}")],
        expires_on=clock.now().date() + dt.timedelta(days=7),
    )
    own = client.post(
        f"/api/v1/vulns/exceptions/{exception.pk}/approve/", {}, content_type="application/json"
    )
    assert own.status_code == 403  # the requester is not a second person
    second = Client()
    sign_in(second, approver)
    approved = second.post(
        f"/api/v1/vulns/exceptions/{exception.pk}/approve/", {}, content_type="application/json"
    )
    assert approved.status_code == 200
    assert approved.json()["approved_by"] == approver.username
    assert Finding.objects.get().excepted
    page = second.get(f"/vulns/findings/{finding_id}/")
    assert "Why this date" in page.content.decode()
    assert second.get("/vulns/").status_code == 200


def test_the_import_page_counts_in_words_a_person_reads(engineer, dmz_asset, heartbleed):
    client = Client()
    sign_in(client, engineer)
    sbom = SimpleUploadedFile("engine.cdx.json", openssl(), content_type="application/json")
    response = client.post("/vulns/import/", {"asset": dmz_asset.pk, "file": sbom}, follow=True)
    text = [str(message) for message in response.context["messages"]]
    assert text == ["1 component imported: 1 new finding, 0 reopened, 0 resolved."]
