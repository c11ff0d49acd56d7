"""Campaign pages and REST API: the whole flow through the forms, bad input
on every form and endpoint (a clear 4xx and nothing half-saved), evidence
upload limits, download with the hash checked, and who may sign."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from safeward.assessments.models import Campaign, Evidence, Finding, Question
from tests.assessments.campaign_helpers import ENTRIES, PNG, answer_all, campaign, people, signed_off
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
A = "/compliance/assessments/"


def client_for(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def test_open_a_campaign_through_the_form():
    assessor, reviewer = people()
    client = client_for(assessor)
    page = client.get(A + "new/")
    assert page.status_code == 200
    assert b"iso27001-2022" in page.content
    response = client.post(
        A + "new/",
        {
            "name": "ISO 27001 Annex A 2026",
            "framework": "iso27001-2022",
            "year": 2026,
            "assessor": assessor.pk,
            "reviewer": reviewer.pk,
            "entry_refs": "iso27001-2022:A.5.1, iso27001-2022:A.8.1",
        },
    )
    created = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{A}{created.pk}/"
    assert created.questions.count() == 2
    assert b"Sign as assessor" in client.get(f"{A}{created.pk}/").content


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reviewer": "same"}, b"different person"),
        ({"entry_refs": "iso27001-2022:Z.1"}, b"not an assessable entry"),
        ({"framework": "bogus"}, b"Select a valid choice"),
        ({"year": "1800"}, b"greater than or equal to 2000"),
        ({"name": ""}, b"This field is required"),
        ({"assessor": "999999"}, b"Select a valid choice"),
    ],
)
def test_bad_campaign_forms_are_refused_and_nothing_is_saved(change, message):
    assessor, reviewer = people()
    data = {
        "name": "ISO",
        "framework": "iso27001-2022",
        "year": 2026,
        "assessor": assessor.pk,
        "reviewer": reviewer.pk,
        "entry_refs": "",
    }
    data.update({key: (assessor.pk if value == "same" else value) for key, value in change.items()})
    response = client_for(assessor).post(A + "new/", data)
    assert response.status_code == 400
    assert message in response.content
    assert not Campaign.objects.exists()


def test_answer_upload_sign_and_sign_off_through_the_pages():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    first, *rest = opened.questions.order_by("position")
    client = client_for(assessor)
    page = client.get(f"{A}questions/{first.pk}/")
    assert b"Measured and managed" in page.content
    assert b"Upload evidence" in page.content
    response = client.post(
        f"{A}questions/{first.pk}/answer/", {"maturity": "2", "notes": "Policy v3", "next": "1"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{A}questions/{rest[0].pk}/"
    upload = SimpleUploadedFile("policy.pdf", b"%PDF-1.7 policy", content_type="application/pdf")
    response = client.post(f"{A}questions/{first.pk}/evidence/", {"file": upload})
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    assert evidence.sha256 == hashlib.sha256(b"%PDF-1.7 policy").hexdigest()
    for question in rest:
        client.post(f"{A}questions/{question.pk}/answer/", {"maturity": "1"})
    assert client.post(f"{A}{opened.pk}/submit/").status_code == 302
    # the assessor cannot sign off their own work
    assert client.post(f"{A}{opened.pk}/sign-off/").status_code == 403
    # a reader who is not the named reviewer cannot either
    auditor = UserFactory(roles=["auditor"], totp_secret=True)
    refused = client_for(auditor).post(f"{A}{opened.pk}/sign-off/")
    assert refused.status_code == 403
    assert b"Only the campaign&#x27;s reviewer" in refused.content
    reviewer_client = client_for(reviewer)
    download = reviewer_client.get(f"{A}evidence/{evidence.pk}/")
    assert download.status_code == 200
    assert download.content == b"%PDF-1.7 policy"
    assert download["X-Content-SHA256"] == evidence.sha256
    assert download["Content-Disposition"] == 'attachment; filename="policy.pdf"'
    assert reviewer_client.post(f"{A}{opened.pk}/sign-off/").status_code == 302
    opened.refresh_from_db()
    assert opened.status == Campaign.Status.SIGNED_OFF
    # read-only now: the page offers no answer form and a POST is refused
    assert b"Save and next" not in client.get(f"{A}questions/{first.pk}/").content
    refused = client.post(f"{A}questions/{first.pk}/answer/", {"maturity": "3"})
    assert refused.status_code == 400
    assert b"read-only" in refused.content
    assert Question.objects.get(pk=first.pk).maturity == 2


def test_the_reviewer_returns_a_campaign_from_the_page():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    answer_all(assessor, opened, dict.fromkeys(ENTRIES, 1))
    client_for(assessor).post(f"{A}{opened.pk}/submit/")
    client = client_for(reviewer)
    assert client.post(f"{A}{opened.pk}/return/", {"reason": ""}).status_code == 400
    assert client.post(f"{A}{opened.pk}/return/", {"reason": "Add evidence to A.8.1"}).status_code == 302
    opened.refresh_from_db()
    assert opened.status == "open"
    assert b"Add evidence to A.8.1" in client_for(assessor).get(f"{A}{opened.pk}/").content


def test_submitting_with_unanswered_questions_is_refused_with_the_reason():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    response = client_for(assessor).post(f"{A}{opened.pk}/submit/")
    assert response.status_code == 400
    assert b"3 question(s) have no maturity" in response.content


@pytest.mark.parametrize(
    "data", [{}, {"maturity": "4"}, {"maturity": "x"}, {"maturity": "1", "notes": "n" * 5001}]
)
def test_bad_answers_are_refused(data):
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    assert client_for(assessor).post(f"{A}questions/{question.pk}/answer/", data).status_code == 400
    assert Question.objects.get(pk=question.pk).maturity is None


def test_another_compliance_officer_cannot_answer_someone_elses_campaign():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    other = UserFactory(roles=["compliance_officer"], totp_secret=True)
    response = client_for(other).post(f"{A}questions/{question.pk}/answer/", {"maturity": "3"})
    assert response.status_code == 403
    assert Question.objects.get(pk=question.pk).maturity is None


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", b"none of them"),
        ("photo.pdf", PNG, b"does not end in .png"),
        ("empty.txt", b"", b"empty"),
    ],
)
def test_wrong_evidence_is_refused_with_a_reason(name, data, message):
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    response = client_for(assessor).post(
        f"{A}questions/{question.pk}/evidence/", {"file": SimpleUploadedFile(name, data)}
    )
    assert response.status_code == 400
    assert message in response.content
    assert not Evidence.objects.exists()


def test_evidence_over_the_cap_is_refused_before_it_is_stored():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    big = SimpleUploadedFile("big.txt", b"a" * (10 * 1024 * 1024 + 10))
    response = client_for(assessor).post(f"{A}questions/{question.pk}/evidence/", {"file": big})
    assert response.status_code == 413
    assert b"larger than 10 MiB" in response.content
    assert not Evidence.objects.exists()


def test_a_declared_length_over_the_cap_is_refused_without_reading_the_body():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    response = client_for(assessor).generic(
        "POST",
        f"{A}questions/{question.pk}/evidence/",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(20 * 1024 * 1024),
    )
    assert response.status_code == 413


def test_evidence_upload_checks_csrf_after_the_size_guard():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    client = Client(enforce_csrf_checks=True)
    sign_in(client, assessor)
    response = client.post(
        f"{A}questions/{question.pk}/evidence/", {"file": SimpleUploadedFile("a.txt", b"ok")}
    )
    assert response.status_code == 403
    assert not Evidence.objects.exists()


def test_an_altered_file_is_not_served():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    client_for(assessor).post(
        f"{A}questions/{question.pk}/evidence/", {"file": SimpleUploadedFile("a.png", PNG)}
    )
    evidence = Evidence.objects.get()
    evidence.content = PNG + b"x"
    evidence.save()
    response = client_for(reviewer).get(f"{A}evidence/{evidence.pk}/")
    assert response.status_code == 409
    assert b"altered" in response.content


def test_findings_through_the_pages_with_bad_input():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    client = client_for(assessor)
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    good = {"title": "No annual policy review", "severity": "high", "owner": assessor.pk, "due_on": due}
    for bad in (
        {**good, "title": ""},
        {**good, "severity": "urgent"},
        {**good, "owner": "999999"},
        {**good, "due_on": "soon"},
    ):
        assert client.post(f"{A}questions/{question.pk}/findings/", bad).status_code == 400
    assert not Finding.objects.exists()
    assert client.post(f"{A}questions/{question.pk}/findings/", good).status_code == 302
    finding = Finding.objects.get()
    page = client.get(f"{A}findings/")
    assert b"No annual policy review" in page.content
    closing = {"status": "closed", "owner": assessor.pk, "due_on": due, "resolution": ""}
    refused = client.post(f"{A}findings/{finding.pk}/edit/", closing)
    assert refused.status_code == 400
    assert b"resolved" in refused.content
    assert (
        client.post(f"{A}findings/{finding.pk}/edit/", {**closing, "resolution": "Reviewed"}).status_code
        == 302
    )
    assert Finding.objects.get().status == "closed"


def test_the_year_over_year_page():
    assessor, reviewer = people()
    signed_off(assessor, reviewer, year=2025, scores=dict(zip(ENTRIES, (1, 3, 2), strict=True)))
    current = campaign(assessor, reviewer, year=2026)
    answer_all(assessor, current, dict(zip(ENTRIES, (2, 2, 2), strict=True)))
    page = client_for(reviewer).get(f"{A}{current.pk}/compare/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "against 2025" in text
    assert "▲ +1" in text
    assert "▼ -1" in text


# --- the REST API ----------------------------------------------------------------------------------
API = "/api/v1/assessments/"
JSON = "application/json"


def test_the_api_flow_and_its_refusals():
    assessor, reviewer = people()
    client = client_for(assessor)
    bad = client.post(API + "campaigns/", {"name": "x"}, content_type="application/json")
    assert bad.status_code == 400
    same = client.post(
        API + "campaigns/",
        {
            "name": "x",
            "framework": "iso27001-2022",
            "year": 2026,
            "assessor": assessor.pk,
            "reviewer": assessor.pk,
        },
        content_type="application/json",
    )
    assert same.status_code == 400
    assert "reviewer" in same.json()["errors"]
    created = client.post(
        API + "campaigns/",
        {
            "name": "API campaign",
            "framework": "iso27001-2022",
            "year": 2026,
            "assessor": assessor.pk,
            "reviewer": reviewer.pk,
            "entry_refs": list(ENTRIES[:2]),
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert [q["entry_ref"] for q in body["questions"]] == list(ENTRIES[:2])
    for question in body["questions"]:
        assert (
            client.post(
                f"{API}questions/{question['id']}/answer/", {"maturity": 5}, content_type="application/json"
            ).status_code
            == 400
        )
        assert (
            client.post(
                f"{API}questions/{question['id']}/answer/", {"maturity": 3}, content_type="application/json"
            ).status_code
            == 200
        )
    assert client.post(f"{API}campaigns/{body['id']}/sign-off/", content_type=JSON).status_code == 409
    assert client.post(f"{API}campaigns/{body['id']}/submit/", content_type=JSON).status_code == 200
    assert client.post(f"{API}campaigns/{body['id']}/sign-off/", content_type=JSON).status_code == 403
    assert client.post(f"{API}campaigns/{body['id']}/submit/", content_type=JSON).status_code == 409
    signed = client_for(reviewer).post(f"{API}campaigns/{body['id']}/sign-off/", content_type=JSON)
    assert signed.status_code == 200
    assert signed.json()["status"] == "signed_off"
    maturity = client.get(f"{API}maturity/iso27001-2022/").json()
    assert maturity == {"framework": "iso27001-2022", "maturity": dict.fromkeys(ENTRIES[:2], 3)}
    assert client.get(f"{API}maturity/bogus/").status_code == 404
    assert client.get(API + "campaigns/?status=bogus").status_code == 400
    assert client.get(f"{API}campaigns/{body['id']}/compare/").json()["previous"] is None
    assert client.get(API + "findings/?status=bogus").status_code == 400


def test_api_findings():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    client = client_for(assessor)
    url = f"{API}questions/{question.pk}/findings/"
    assert client.post(url, {"title": "x"}, content_type="application/json").status_code == 400
    created = client.post(
        url,
        {"title": "Old firewall rules", "severity": "moderate", "owner": reviewer.pk, "due_on": "2027-01-31"},
        content_type="application/json",
    )
    assert created.status_code == 201
    assert created.json()["entry_ref"] == ENTRIES[0]
    finding_url = f"{API}findings/{created.json()['id']}/"
    refused = client.put(
        finding_url,
        {"status": "closed", "owner": reviewer.pk, "due_on": "2027-01-31"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    done = client.put(
        finding_url,
        {"status": "closed", "owner": reviewer.pk, "due_on": "2027-01-31", "resolution": "Cleaned up"},
        content_type="application/json",
    )
    assert done.status_code == 200
    assert done.json()["status"] == "closed"
    assert client_for(reviewer).put(finding_url, {}, content_type="application/json").status_code == 403
