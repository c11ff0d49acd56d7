"""Document uploads from the browser: a size cap enforced while the body is
read, the file's type decided from its content (never from the browser's
claim alone), and a safe download filename. No PHI is logged here.

The gateway (`document_upload`) checks the size and type again and stores
the file encrypted; this module makes sure what it is given is what the
person meant to upload, with a clear message when it is not (ADR 0531)."""

from __future__ import annotations

import codecs
import re
import unicodedata
from typing import IO, Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils.http import content_disposition_header

from safeward.clinical.gateway._writes import DOCUMENT_TYPES
from safeward.clinical.gateway._writes import MAX_DOCUMENT_BYTES as GATEWAY_MAX_BYTES

MAX_DOCUMENT_BYTES = GATEWAY_MAX_BYTES  # the gateway's cap, checked here before the body is read
# The multipart envelope around the file (boundaries, the other fields).
ENVELOPE_BYTES = 64 * 1024
MAX_REQUEST_BYTES = MAX_DOCUMENT_BYTES + ENVELOPE_BYTES
MAX_MEGABYTES = MAX_DOCUMENT_BYTES // (1024 * 1024)

EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/plain": (".txt",),
}
KIND_NAMES = {
    "application/pdf": "a PDF",
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
    "text/plain": "a plain-text file",
}
assert set(EXTENSIONS) == DOCUMENT_TYPES


class TooLarge(Exception):
    pass


class SizeLimitHandler(FileUploadHandler):
    """First in the chain: stops reading an upload as soon as it passes the
    cap (also when the client sent no or a false Content-Length; a declared
    length over the cap is refused by the view before parsing starts)."""

    def __init__(self, request: Any = None, limit: int = MAX_DOCUMENT_BYTES) -> None:
        super().__init__(request)
        self.limit = limit
        self.seen = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.seen += len(raw_data)
        if self.seen > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _is_text(source: IO[bytes]) -> bool:
    """UTF-8 without NUL or other control characters than tab/newline/CR/FF."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    source.seek(0)
    try:
        while block := source.read(64 * 1024):
            text = decoder.decode(block)
            if any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        source.seek(0)
    return True


def sniff(source: IO[bytes]) -> str | None:
    """The document type by content: PDF, PNG, JPEG or UTF-8 plain text."""
    source.seek(0)
    head = source.read(16)
    source.seek(0)
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if _is_text(source):
        return "text/plain"
    return None


def check_upload(name: str, size: int, source: IO[bytes]) -> str:
    """The content type to store, or ValueError with a message for the person
    uploading (the message names the file's kind, never its content)."""
    allowed = "Only PDF, PNG, JPEG and plain-text (.txt) files are accepted"
    if size <= 0:
        raise ValueError("The file is empty.")
    if size > MAX_DOCUMENT_BYTES:
        raise ValueError(f"The file is larger than {MAX_MEGABYTES} MiB.")
    kind = sniff(source)
    if kind is None:
        raise ValueError(f"{allowed}; this file is none of them.")
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in EXTENSIONS[kind]:
        raise ValueError(
            f"{allowed}. The file's content is {KIND_NAMES[kind]}, but its name does not end in "
            f"{' or '.join(EXTENSIONS[kind])}: rename it or choose the right file."
        )
    return kind


_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|;]+")


def download_filename(title: str, content_type: str) -> str:
    """A file name for Content-Disposition: the title without control
    characters, quotes or path separators, with the extension of its type."""
    base = unicodedata.normalize("NFC", title or "")
    base = _UNSAFE.sub(" ", base)
    base = re.sub(r"\s+", " ", base).strip(" .")[:80] or "document"
    return base + EXTENSIONS.get(content_type, (".bin",))[0]


def attachment_header(title: str, content_type: str) -> str:
    """`attachment; filename="..."` (ASCII) or `filename*=utf-8''...` (RFC 6266)."""
    header = content_disposition_header(as_attachment=True, filename=download_filename(title, content_type))
    assert header is not None
    return header
