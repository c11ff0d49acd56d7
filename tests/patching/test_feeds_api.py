"""Feeds and VEX over REST: OSV, KEV, EPSS and VEX uploaded as multipart
files to the services the feeds page calls (all or nothing, the same
limits), and the VEX exports the page offers."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from safeward.patching import feeds
from safeward.patching.models import Advisory, EpssScore, Finding, KevEntry
from tests.api.test_error_shape import assert_error_shape
from tests.conftest import sign_in
from tests.patching.conftest import HEARTBLEED, KEV

pytestmark = pytest.mark.django_db

URL = "/api/v1/vulns/feeds/"
EPSS = (
    "#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000\n"
    "cve,epss,percentile\nCVE-2014-0160,0.94,0.999\n"
)


def _client(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _upload(client, feed: str, content: bytes, name: str = "feed.json"):
    return client.post(URL, {"feed": feed, "file": SimpleUploadedFile(name, content)})


def test_osv_kev_epss_and_vex_are_imported_with_the_pages_services(engineer, plannable_finding):
    client = _client(engineer)
    osv = _upload(client, "osv", json.dumps([HEARTBLEED]).encode())
    assert osv.status_code == 200, osv.content
    assert osv.json() == {
        "feed": "osv",
        "records": 1,
        "created": 0,
        "updated": 0,
        "unchanged": 1,
        "new_findings": 0,
        "due_dates_moved": None,
        "findings_updated": None,
    }
    kev = _upload(client, "kev", json.dumps(KEV).encode())
    assert kev.status_code == 200
    assert kev.json()["records"] == 1
    assert KevEntry.objects.filter(cve_id="CVE-2014-0160").exists()
    epss = _upload(client, "epss", EPSS.encode(), "epss.csv")
    assert epss.status_code == 200
    assert epss.json()["records"] == 1
    assert EpssScore.objects.filter(cve_id="CVE-2014-0160").exists()

    exported = client.get("/api/v1/vulns/vex/cyclonedx/")
    assert exported.status_code == 200
    document = exported.json()
    assert document["bomFormat"] == "CycloneDX"
    assert document["vulnerabilities"][0]["analysis"]["state"] == "in_triage"
    document["vulnerabilities"][0]["analysis"] = {"state": "exploitable", "response": ["update"]}
    applied = _upload(client, "vex", json.dumps(document).encode())
    assert applied.status_code == 200, applied.content
    assert applied.json()["findings_updated"] == 1
    assert Finding.objects.get().state == "exploitable"
    openvex = client.get("/api/v1/vulns/vex/openvex/", {"state": "exploitable"})
    assert openvex.status_code == 200
    assert openvex.json()["statements"][0]["status"] == "affected"
    assert openvex.json()["author"] == engineer.username


def test_a_bad_file_is_a_400_with_its_reasons_and_nothing_is_saved(engineer):
    client = _client(engineer)
    refused = assert_error_shape(_upload(client, "osv", b'[{"id": "X-1", "affected": ['), 400)
    assert refused["detail"] == "The OSV import was refused; nothing was saved."
    assert refused["errors"]
    assert not Advisory.objects.exists()
    assert_error_shape(_upload(client, "kev", b"{not json"), 400)
    assert not KevEntry.objects.exists()
    assert_error_shape(_upload(client, "epss", b"cve,epss\nCVE-1,x\n", "epss.csv"), 400)
    assert not EpssScore.objects.exists()
    assert_error_shape(_upload(client, "vex", b"[]"), 400)


def test_the_form_fields_are_checked_and_json_is_refused(engineer):
    client = _client(engineer)
    assert "feed" in assert_error_shape(_upload(client, "nvd", b"{}"), 400)["errors"]
    assert "file" in assert_error_shape(client.post(URL, {"feed": "kev"}), 400)["errors"]
    assert_error_shape(client.post(URL, {"feed": "kev"}, content_type="application/json"), 415)


def test_the_feed_cap_is_the_services(engineer, monkeypatch):
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 100)
    refused = assert_error_shape(_upload(_client(engineer), "kev", json.dumps(KEV).encode()), 400)
    assert "too large" in " ".join(refused["errors"])
    assert not KevEntry.objects.exists()


def test_who_may_import_and_export(approver, engineer):
    """The page's permissions: importers import (the compliance officer does not);
    readers export; an unknown format or state is refused."""
    reader = _client(approver)
    assert_error_shape(_upload(reader, "kev", json.dumps(KEV).encode()), 403)
    assert not KevEntry.objects.exists()
    assert reader.get("/api/v1/vulns/vex/openvex/").status_code == 200
    assert_error_shape(reader.get("/api/v1/vulns/vex/spdx/"), 404)
    assert (
        "state"
        in assert_error_shape(reader.get("/api/v1/vulns/vex/cyclonedx/", {"state": "x"}), 400)["errors"]
    )
