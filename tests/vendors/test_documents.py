"""Agreement documents (ADR 1211): stored stream-encrypted with the hash of
their plaintext, downloadable by the register's readers, every upload and
download audited; bad input refused with nothing stored; a tampered file
refused."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from safeward.audit.models import AuditEvent
from safeward.vendors import documents
from safeward.vendors.models import AgreementDocument
from tests.conftest import sign_in
from tests.vendors.conftest import make_agreement, make_vendor

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n% signed business associate agreement\n" + b"x" * 5000


@pytest.fixture
def agreement(officer):
    return make_agreement(officer, make_vendor(officer))


def _stored_file(document):
    return documents._path() / f"{document.storage_id}.swf"


def test_upload_encrypts_hashes_and_download_returns_the_file(officer, make_user, agreement, client):
    sign_in(client, officer)
    response = client.post(
        f"/vendors/agreements/{agreement.pk}/documents/",
        {"title": "Signed BAA", "file": SimpleUploadedFile("baa.pdf", PDF, content_type="application/pdf")},
    )
    assert response.status_code == 302
    document = AgreementDocument.objects.get(agreement=agreement)
    assert document.sha256 == hashlib.sha256(PDF).hexdigest()
    assert document.size == len(PDF)
    raw = _stored_file(document).read_bytes()
    assert b"business associate" not in raw
    auditor = make_user("auditor")
    sign_in(client, auditor)
    download = client.get(f"/vendors/documents/{document.pk}/")
    assert download.status_code == 200
    assert download.content == PDF
    assert download["X-Content-SHA256"] == document.sha256
    events = AuditEvent.objects.filter(resource_type=documents.RESOURCE, resource_id=str(document.pk))
    assert [(e.action, e.actor_id) for e in events.order_by("id")] == [
        ("create", officer.pk),
        ("read", auditor.pk),
    ]


@pytest.mark.parametrize(
    ("title", "name", "content", "content_type", "field"),
    [
        ("", "baa.pdf", PDF, "application/pdf", "title"),
        ("BAA", "baa.exe", b"MZ", "application/x-msdownload", "file"),
        ("BAA", "baa.pdf", b"", "application/pdf", "file"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    officer, agreement, title, name, content, content_type, field
):
    before = set(documents._path().glob("*.swf")) if documents._path().is_dir() else set()
    with pytest.raises(documents.VendorError) as refused:
        documents.document_add(
            actor=officer,
            agreement=agreement,
            title=title,
            filename=name,
            content_type=content_type,
            source=io.BytesIO(content),
        )
    assert field in refused.value.message_dict
    assert not AgreementDocument.objects.exists()
    after = set(documents._path().glob("*.swf")) if documents._path().is_dir() else set()
    assert after == before


def test_the_upload_page_answers_400_without_a_file(officer, agreement, client):
    sign_in(client, officer)
    assert client.post(f"/vendors/agreements/{agreement.pk}/documents/", {"title": "x"}).status_code == 400


def test_a_tampered_file_is_refused(officer, agreement, client):
    document = documents.document_add(
        actor=officer,
        agreement=agreement,
        title="BAA",
        filename="baa.pdf",
        content_type="application/pdf",
        source=io.BytesIO(PDF),
    )
    path = _stored_file(document)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    path.write_bytes(bytes(data))
    sign_in(client, officer)
    assert client.get(f"/vendors/documents/{document.pk}/").status_code == 409


def test_only_readers_download(make_user, officer, agreement):
    document = documents.document_add(
        actor=officer,
        agreement=agreement,
        title="BAA",
        filename="baa.pdf",
        content_type="application/pdf",
        source=io.BytesIO(PDF),
    )
    with pytest.raises(documents.VendorError):
        documents.document_open(actor=make_user("nurse"), document_id=document.pk)
    with pytest.raises(documents.VendorError):
        documents.document_add(
            actor=make_user("auditor"),
            agreement=agreement,
            title="BAA",
            filename="b.pdf",
            content_type="application/pdf",
            source=io.BytesIO(PDF),
        )
