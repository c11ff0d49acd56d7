"""Evidence upload over REST (ADR 0942): the same rules as the page — the
assessor of an open campaign uploads a PDF, PNG, JPEG, text or CSV file of
at most 10 MiB as multipart/form-data; it is stored encrypted with its
SHA-256 and audited; every bad input is a clear 4xx with nothing stored and
nothing audited."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from safeward.assessments import campaign_services
from safeward.assessments.models import Evidence
from safeward.audit.models import AuditEvent
from tests.assessments.campaign_helpers import PNG, answer_all, campaign, people
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db

API = "/api/v1/assessments/questions/{}/evidence/"


def client_for(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _uploads() -> int:
    return AuditEvent.objects.filter(resource_type="AssessmentEvidence").count()


def test_the_assessor_uploads_a_file_hashed_encrypted_and_audited():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    client = client_for(assessor)
    response = client.post(API.format(question.pk), {"file": SimpleUploadedFile("Firewall review.png", PNG)})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (body["filename"], body["content_type"], body["size"]) == (
        "Firewall review.png",
        "image/png",
        len(PNG),
    )
    stored = Evidence.objects.get()
    assert stored.question_id == question.pk
    event = AuditEvent.objects.get(resource_type="AssessmentEvidence", resource_id=str(stored.pk))
    assert event.detail["sha256"] == body["sha256"]
    _, data = campaign_services.evidence_open(actor=assessor, evidence_id=str(stored.pk))
    assert data == PNG
    listed = client_for(reviewer).get(API.format(question.pk))
    assert listed.status_code == 200
    assert [row["sha256"] for row in listed.json()] == [body["sha256"]]


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({}, 400, "file"),
        ({"file": SimpleUploadedFile("empty.txt", b"")}, 400, "file"),
        ({"file": SimpleUploadedFile("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00")}, 400, "file"),
        ({"file": SimpleUploadedFile("photo.pdf", PNG)}, 400, "file"),
        ({"file": "not a file"}, 400, "file"),
    ],
    ids=["no-file", "empty", "executable", "wrong-extension", "a-field-not-a-file"],
)
def test_bad_uploads_are_refused_and_store_nothing(data, status, error):
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    response = client_for(assessor).post(API.format(question.pk), data)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert error in body["errors"]
    assert not Evidence.objects.exists()
    assert _uploads() == 0


def test_a_json_body_is_415():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    response = client_for(assessor).post(
        API.format(question.pk), {"file": "x"}, content_type="application/json"
    )
    assert response.status_code == 415
    assert not Evidence.objects.exists()


def test_a_file_over_the_cap_is_413_and_stored_nowhere():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    big = SimpleUploadedFile("big.txt", b"a" * (10 * 1024 * 1024 + 10))
    response = client_for(assessor).post(API.format(question.pk), {"file": big})
    assert response.status_code == 413
    assert "larger than 10 MiB" in response.json()["detail"]
    assert not Evidence.objects.exists()
    assert _uploads() == 0


def test_a_declared_length_over_the_cap_is_413_without_reading_the_body():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    response = client_for(assessor).generic(
        "POST",
        API.format(question.pk),
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(20 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert not Evidence.objects.exists()


def test_only_the_assessor_of_an_open_campaign_uploads():
    assessor, reviewer = people()
    opened = campaign(assessor, reviewer)
    question = opened.questions.first()
    upload = {"file": SimpleUploadedFile("a.txt", b"notes")}
    other = UserFactory(roles=["compliance_officer"], totp_secret=True)
    assert client_for(other).post(API.format(question.pk), upload).status_code == 403
    # The reviewer reads but may not upload (no assessment:campaign:manage).
    assert client_for(reviewer).post(API.format(question.pk), upload).status_code == 403
    assert client_for(assessor).post(API.format(999_999), upload).status_code == 404
    answer_all(assessor, opened, dict.fromkeys([q.entry_ref for q in opened.questions.all()], 2))
    campaign_services.campaign_submit(actor=assessor, campaign_id=opened.pk)
    upload = {"file": SimpleUploadedFile("a.txt", b"notes")}
    assert client_for(assessor).post(API.format(question.pk), upload).status_code == 409
    assert not Evidence.objects.exists()


def test_tokens_need_write_to_upload():
    assessor, reviewer = people()
    question = campaign(assessor, reviewer).questions.first()
    client = Client()
    reader = bearer(token(assessor, "openid fhirUser read"))
    writer = bearer(token(assessor, "openid fhirUser read write"))
    upload = {"file": SimpleUploadedFile("a.csv", b"host,patched\nfw1,yes\n")}
    assert client.post(API.format(question.pk), upload, **reader).status_code == 403
    upload = {"file": SimpleUploadedFile("a.csv", b"host,patched\nfw1,yes\n")}
    created = client.post(API.format(question.pk), upload, **writer)
    assert created.status_code == 201, created.content
    assert created.json()["content_type"] == "text/csv"
    assert client.get(API.format(question.pk), **reader).status_code == 200


def test_the_schema_documents_the_upload():
    assessor, _ = people()
    schema = client_for(assessor).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/assessments/questions/{question_id}/evidence/"]["post"]
    assert operation["operationId"] == "assessment_evidence_upload"
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"201", "400", "403", "413"} <= set(operation["responses"])
