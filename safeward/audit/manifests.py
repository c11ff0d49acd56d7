"""Export manifests: everything that lets patient data leave SafeWard (a
print, a CSV, a report, a document download, a bulk or paged pull) says who
took it, when, for what purpose, to which destination, which patients and
sections it holds and the SHA-256 of the bytes that left.

The exports live in several apps (audit's report, detection's and
incidents' breach scopes, clinical's print and downloads) that all sit below
the asset register, so the writer is registered here, at the bottom of the
app graph, by the assets app (`AssetsConfig.ready`): the exporting code
calls `manifest_response` on its response and never imports assets. With no
writer registered an export fails (closed), like an audit write.

A streamed response is hashed as it streams; its manifest is written when
the stream ends, and when a download is cut short the manifest says so
(`complete=False`) with the hash of what did leave. A DRF response (a FHIR
bundle, a REST body) is rendered after the view returns: its manifest is
written by a post-render callback, from the bytes the renderer produced
(ADR 0811)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import SimpleTemplateResponse

# The audit trail sits below identity (ADR 0566): the actor is Django's base user.
User = AbstractBaseUser


@dataclass(frozen=True)
class ManifestDraft:
    """What is known before the bytes are: the route, why, and what it holds."""

    kind: str  # "print", "csv", "report", "document", "fhir", "api"
    route: str  # the URL name of the exporting route
    purpose: str  # a PurposeOfUse code
    # A list may still grow while a stream runs (a report names its patients as it goes).
    patient_ids: Sequence[str] = ()
    sections: tuple[str, ...] = ()
    destination_asset_id: int | None = None
    # The OAuth client that pulled it (an API or FHIR pull); the register maps it to its asset.
    client_id: str = ""
    detail: dict[str, str] = field(default_factory=dict)


class ManifestWriter(Protocol):
    def __call__(
        self, *, actor: User | None, draft: ManifestDraft, sha256: str, byte_count: int, complete: bool
    ) -> object: ...


class ManifestWriterMissing(RuntimeError):
    pass


_writer: list[ManifestWriter] = []


def register_manifest_writer(writer: ManifestWriter) -> None:
    _writer[:] = [writer]


def manifest_write(
    *, actor: User | None, draft: ManifestDraft, content: bytes, complete: bool = True
) -> object:
    if not _writer:
        raise ManifestWriterMissing("No export manifest writer is registered: the export is refused.")
    return _writer[0](
        actor=actor,
        draft=draft,
        sha256=hashlib.sha256(content).hexdigest(),
        byte_count=len(content),
        complete=complete,
    )


def _hashed(chunks: Iterable[bytes | str], *, actor: User | None, draft: ManifestDraft) -> Iterator[bytes]:
    digest = hashlib.sha256()
    sent = 0
    complete = False
    try:
        for chunk in chunks:
            data = chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
            digest.update(data)
            sent += len(data)
            yield data
        complete = True
    finally:
        _writer[0](actor=actor, draft=draft, sha256=digest.hexdigest(), byte_count=sent, complete=complete)


def request_client_id(request: object) -> str:
    """The OAuth client a bearer-token request came from ("" for a browser session)."""
    application = getattr(getattr(request, "auth", None), "application", None)
    return str(getattr(application, "client_id", "") or "")


def manifest_response[R: HttpResponse | StreamingHttpResponse](
    response: R, *, actor: User | None, draft: ManifestDraft
) -> R:
    """Manifest what this response sends: its content now, or its stream as it goes."""
    if not _writer:
        raise ManifestWriterMissing("No export manifest writer is registered: the export is refused.")
    if isinstance(response, StreamingHttpResponse):
        response.streaming_content = _hashed(response.streaming_content, actor=actor, draft=draft)  # type: ignore[arg-type]
    elif isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        # Written when the bytes exist; a writer that fails fails the response (closed).
        def written(rendered: SimpleTemplateResponse) -> None:
            manifest_write(actor=actor, draft=draft, content=rendered.content)

        response.add_post_render_callback(written)
    else:
        manifest_write(actor=actor, draft=draft, content=response.content)
    return response
