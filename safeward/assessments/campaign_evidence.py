"""Evidence files: what is accepted (PDF, PNG, JPEG, plain text or CSV, at
most 10 MiB), decided from the content and the name together, never from
the browser's claim; and a safe name for the download. The bytes are stored
encrypted in the row (`Evidence.content`) with their SHA-256 (ADR 0940)."""

from __future__ import annotations

import codecs
import re
import unicodedata

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

from safeward.assessments.models.campaigns import MAX_EVIDENCE_BYTES

MAX_MEGABYTES = MAX_EVIDENCE_BYTES // (1024 * 1024)
# The multipart envelope around the file (boundaries, the other fields).
MAX_REQUEST_BYTES = MAX_EVIDENCE_BYTES + 64 * 1024

EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/plain": (".txt", ".md", ".log"),
    "text/csv": (".csv",),
}
ACCEPTED = "Evidence must be a PDF, PNG, JPEG, plain-text or CSV file"


class EvidenceRefused(ValueError):
    pass


def _is_text(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), 64 * 1024):
            text = decoder.decode(data[start : start + 64 * 1024])
            if any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sniff(data: bytes, extension: str) -> str | None:
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if _is_text(data):
        return "text/csv" if extension == ".csv" else "text/plain"
    return None


_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|;]+")


def safe_filename(name: str) -> str:
    """The name without directories, control characters, quotes or separators."""
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"\s+", " ", _UNSAFE.sub(" ", base)).strip(" .")
    stem, dot, extension = base.rpartition(".")
    if not dot:
        return base[:200] or "evidence"
    return (stem[: 199 - len(extension)] or "evidence") + "." + extension.lower()


def check_evidence(filename: str, data: bytes) -> tuple[str, str]:
    """(content type, safe file name), or EvidenceRefused with a message for the person uploading."""
    if not data:
        raise EvidenceRefused("The file is empty.")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise EvidenceRefused(f"The file is larger than {MAX_MEGABYTES} MiB.")
    name = safe_filename(filename)
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = _sniff(data, extension)
    if kind is None:
        raise EvidenceRefused(f"{ACCEPTED}; this file is none of them.")
    if extension not in EXTENSIONS[kind]:
        raise EvidenceRefused(
            f"{ACCEPTED}. The content is {kind}, but the name does not end in "
            f"{' or '.join(EXTENSIONS[kind])}."
        )
    return kind, name


class SizeLimitHandler(FileUploadHandler):
    """First in the chain: stops reading an upload once it passes the cap."""

    def __init__(self, request: HttpRequest | None = None, limit: int = MAX_EVIDENCE_BYTES) -> None:
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
