"""The case page and its forms: each bad input answers a clear 4xx and saves
nothing; good input lands on the case (issue 19)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safeward.incidents import case_services
from safeward.incidents.models import CustodyEvent, Evidence, Incident, Task, TimelineEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def case(make_user):
    officer = make_user("security_officer")
    return case_services.incident_create(actor=officer, title="Case", category="snooping", severity="high")


def test_open_a_case_by_hand_and_its_bad_input(signed_in):
    client, _ = signed_in("security_officer")
    assert client.get("/incidents/new/").status_code == 200
    bad = [
        {},
        {"title": "x", "category": "aliens", "severity": "low"},
        {"title": "x", "category": "other", "severity": "meh"},
        {"title": "x" * 201, "category": "other", "severity": "low"},
        {"title": "x", "category": "other", "severity": "low", "is_exercise": "on"},  # no scenario
    ]
    for data in bad:
        response = client.post("/incidents/new/", data)
        assert response.status_code == 400, data
    assert Incident.objects.count() == 0
    response = client.post(
        "/incidents/new/", {"title": "Laptop", "category": "lost_device", "severity": "high"}
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Confirm whether the device was encrypted" in page
    assert "Breach clock" in page


BAD_POSTS = [
    ("status/", {"status": "bogus"}),
    ("status/", {"status": "new"}),  # already new
    ("assign/", {"category": "aliens"}),
    ("assign/", {"category": "other", "owner": "abc"}),
    ("assign/", {"category": "other", "owner": "99999999"}),
    ("timeline/", {}),
    ("timeline/", {"occurred_at": "yesterday", "time_zone": "UTC", "text": "x"}),
    ("timeline/", {"occurred_at": "2026-01-01 10:00", "time_zone": "Mars/Base", "text": "x"}),
    ("timeline/", {"occurred_at": "2999-01-01 10:00", "time_zone": "UTC", "text": "x"}),
    ("follow-ups/", {"title": ""}),
    ("lessons/", {"lessons": "x" * 5001}),
    ("exercise/", {"kind": "inject", "text": "x"}),  # not an exercise
    ("exercise/", {"kind": "dance", "text": "x"}),
    ("evidence/", {"title": "no file"}),
    ("contain/", {"action": "nope", "target": "x"}),
    ("contain/", {"action": "account_lock", "target": "no-such-user"}),
    ("breach/", {}),
    ("breach/", {"window_start": "2026-01-02 00:00", "window_end": "2026-01-01 00:00", "usernames": "x"}),
    ("breach/", {"window_start": "2026-01-01 00:00", "window_end": "2026-01-02 00:00"}),
    ("breach/", {"window_start": "2026-01-01 00:00", "window_end": "2026-01-02 00:00", "file_hashes": "zz"}),
]


def test_every_case_form_refuses_bad_input_with_a_reason(signed_in, case):
    client, _ = signed_in("security_officer")
    entries = TimelineEntry.objects.count()
    tasks = Task.objects.count()
    for suffix, data in BAD_POSTS:
        response = client.post(f"/incidents/{case.pk}/{suffix}", data)
        assert 400 <= response.status_code < 500, (suffix, data, response.status_code)
        assert "Not saved." in response.content.decode(), (suffix, data)
    assert TimelineEntry.objects.count() == entries
    assert Task.objects.count() == tasks
    assert Evidence.objects.count() == 0
    case.refresh_from_db()
    assert case.status == "new"


def test_breach_forms_refuse_bad_input(signed_in, case):
    client, _ = signed_in("privacy_officer")
    assert client.post(f"/incidents/{case.pk}/breach/discovery/", {"discovered_at": "x"}).status_code == 400
    # No breach clock yet.
    assert client.post(f"/incidents/{case.pk}/breach/risk/", {}).status_code == 400
    assert client.post(f"/incidents/{case.pk}/breach/notified/", {"which": "press"}).status_code == 400
    assert client.post(f"/incidents/{case.pk}/breach/notified/", {"which": "hhs"}).status_code == 404


def test_the_case_page_flow_for_the_security_officer(signed_in, case, make_user):
    client, _ = signed_in("security_officer")
    suspect = make_user("nurse")
    assert client.post(f"/incidents/{case.pk}/status/", {"status": "triage"}).status_code == 302
    assert (
        client.post(
            f"/incidents/{case.pk}/contain/", {"action": "account_lock", "target": suspect.username}
        ).status_code
        == 302
    )
    note = {
        "occurred_at": "2026-01-01 10:00",
        "time_zone": "Europe/Paris",
        "text": "Called HR",
        "for_report": "on",
    }
    assert client.post(f"/incidents/{case.pk}/timeline/", note).status_code == 302
    upload = SimpleUploadedFile("log.txt", b"line one\n", content_type="text/plain")
    assert (
        client.post(f"/incidents/{case.pk}/evidence/", {"title": "Access log", "file": upload}).status_code
        == 302
    )
    evidence = Evidence.objects.get()
    download = client.get(f"/incidents/evidence/{evidence.pk}/download/")
    assert download.status_code == 200
    assert download.content == b"line one\n"
    assert client.post(f"/incidents/evidence/{evidence.pk}/verify/").status_code == 302
    assert list(CustodyEvent.objects.values_list("action", flat=True)) == [
        "acquired",
        "downloaded",
        "verified",
    ]
    from safeward.assets.models import ExportManifest

    assert ExportManifest.objects.filter(route="incidents:evidence_download").exists()
    Evidence.objects.filter(pk=evidence.pk).update(sha256="1" * 64)
    assert client.get(f"/incidents/evidence/{evidence.pk}/download/").status_code == 409
    task = Task.objects.filter(incident=case).first()
    assert client.post(f"/incidents/tasks/{task.pk}/done/", {"done": "on"}).status_code == 302
    task.refresh_from_db()
    assert task.done_at is not None
    page = client.get(f"/incidents/{case.pk}/").content.decode()
    assert "Lock an account" in page
    assert "Europe/Paris" in page
    api = client.get(f"/api/v1/incidents/{case.pk}/").json()
    assert api["status"] == "triage"
    assert any(entry["kind"] == "containment" for entry in api["timeline"])
    assert client.get("/api/v1/incidents/?status=bogus").status_code == 400
    assert client.get("/api/v1/incidents/?before=x").status_code == 400
