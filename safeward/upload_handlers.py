"""Uploaded files stay in memory, never in a temporary file (issue 11 item 5).

Django's default handlers spool any upload over FILE_UPLOAD_MAX_MEMORY_SIZE
to a plaintext temporary file before a view sees it, and every POST parses
its multipart body (the CSRF check reads the form), so a clinical document
would sit unencrypted on disk until the gateway encrypted it. This handler
keeps each file in memory and stops reading a request once its files pass
SAFEWARD_UPLOAD_MAX_BYTES (the document cap, 25 MiB), which bounds the
memory one request can take. ADR 0537."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload


class CappedMemoryUploadHandler(MemoryFileUploadHandler):
    """Every file of a request in memory, up to SAFEWARD_UPLOAD_MAX_BYTES in total."""

    def handle_raw_input(
        self,
        input_data: Any,
        META: Any,  # noqa: N803 - Django's parameter name
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        self.activated = True  # whatever the size: there is no spooling handler behind this one
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.SAFEWARD_UPLOAD_MAX_BYTES:
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
