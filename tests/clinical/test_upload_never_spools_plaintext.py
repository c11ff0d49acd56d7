"""Issue 11 item 5: an upload over Django's in-memory threshold (2.5 MiB by
default) must not be spooled in plaintext to a temporary file before it is
encrypted. The temporary folder is scanned at the moment the gateway gets
the file (when a spooled copy would exist) and after the request."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from safeward.clinical import gateway, uploads
from tests.clinical.conftest import relate
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

MARKER = b"SPOOL-MARKER-PATIENT-QUIST-7f3a"
BIG_PDF = b"%PDF-1.4\n" + (MARKER + b"\n" + b"0" * 4000 + b"\n") * 900  # about 3.6 MiB


def files_holding_marker(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and MARKER in path.read_bytes():
            found.append(path)
    return found


@pytest.fixture
def temp_dir(settings, tmp_path, monkeypatch):
    folder = tmp_path / "tmp"
    folder.mkdir()
    settings.VAR_DIR = tmp_path / "var"
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_large_upload_never_touches_the_temp_folder_in_plaintext(make_user, patient, temp_dir, monkeypatch):
    assert len(BIG_PDF) > 3 * 1024 * 1024
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    client = Client()
    sign_in(client, doctor)

    seen_while_storing: list[Path] = []
    real_upload = gateway.document_upload

    def upload_and_scan(**kwargs):
        seen_while_storing.extend(files_holding_marker(temp_dir))
        return real_upload(**kwargs)

    monkeypatch.setattr(gateway, "document_upload", upload_and_scan)
    response = client.post(
        f"/clinical/patients/{patient}/documents/",
        {
            "submission": uuid.uuid4().hex,
            "title": "Scanned referral",
            "file": SimpleUploadedFile("referral.pdf", BIG_PDF, content_type="application/pdf"),
        },
    )
    assert response.status_code == 302
    assert seen_while_storing == []
    assert files_holding_marker(temp_dir) == []
    stored = list((temp_dir.parent / "var" / "clinical" / "documents").glob("*.swf"))
    assert len(stored) == 1
    assert MARKER not in stored[0].read_bytes()


def test_any_view_keeps_uploads_in_memory_up_to_the_cap(settings):
    """Every POST parses multipart bodies (the CSRF check reads the form), so
    the project-wide handlers must not spool either, and must stop at the cap."""
    from django.core.files.uploadhandler import TemporaryFileUploadHandler, load_handler

    handlers = [load_handler(path) for path in settings.FILE_UPLOAD_HANDLERS]
    assert handlers
    assert not any(isinstance(handler, TemporaryFileUploadHandler) for handler in handlers)
    assert settings.SAFEWARD_UPLOAD_MAX_BYTES >= uploads.MAX_DOCUMENT_BYTES  # a whole document fits


def test_the_handler_stops_a_request_past_the_cap(settings):
    from django.core.files.uploadhandler import StopFutureHandlers, StopUpload

    from safeward.upload_handlers import CappedMemoryUploadHandler

    settings.SAFEWARD_UPLOAD_MAX_BYTES = 100
    handler = CappedMemoryUploadHandler()
    handler.handle_raw_input(None, {}, 10_000_000, "boundary")
    with pytest.raises(StopFutureHandlers):  # no other handler gets the file
        handler.new_file("file", "a.pdf", "application/pdf", None)
    assert handler.receive_data_chunk(b"x" * 100, 0) is None  # kept in memory
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x", 100)
