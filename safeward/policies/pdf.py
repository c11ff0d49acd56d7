"""The PDF snapshot of a published revision, made with WeasyPrint from the
same escaped rendering as the page. Stored with its SHA-256 at publication;
a download checks both hashes first (`selectors.revision_snapshot_verify`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.template.loader import render_to_string

from safeward.policies import text

if TYPE_CHECKING:
    from safeward.policies.models import PolicyRevision


def revision_pdf(*, revision: PolicyRevision, published_at: dt.datetime, content_sha256: str) -> bytes:
    from weasyprint import HTML

    html = render_to_string(
        "policies/pdf.html",
        {
            "revision": revision,
            "document": revision.document,
            "published_at": published_at,
            "content_sha256": content_sha256,
            "body": text.render(revision.body),
        },
    )
    # No base URL: the template loads nothing (no images, no stylesheets by URL).
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
