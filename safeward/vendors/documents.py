"""Agreement documents (ADR 1211): a signed BAA or contract, encrypted as it
streams in with the crypto app's stream encryption (as incident evidence
is), its SHA-256 taken over the plaintext; the file is bound to its row by
the associated data, registered with the crypto app so key rotation moves
it, and checked against the hash on every download. Upload and download
each write an audit event in the same transaction."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.crypto.stores import FileStreamStore
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.vendors import sealed_files
from safeward.vendors.models import Agreement, AgreementDocument
from safeward.vendors.services import VendorError

AD_PREFIX = b"vendors.agreement_document|"
MAX_BYTES = 50 * 1024 * 1024
CONTENT_TYPES = {"application/pdf", "image/png", "image/jpeg", "text/plain"}
RESOURCE = "VendorAgreementDocument"


def _path() -> Path:
    return Path(settings.VAR_DIR) / "vendors" / "agreements"


def _ad(storage_id: uuid.UUID) -> bytes:
    return AD_PREFIX + storage_id.bytes


def document_files_store() -> FileStreamStore:
    """Registered with the crypto app (VendorsConfig.ready) so key rotation moves the files."""
    return FileStreamStore(
        label="vendors.agreement documents",
        directory=_path,
        pattern="*.swf",
        associated_data=lambda path: _ad(uuid.UUID(path.stem)),
        stream_prefixes=(AD_PREFIX,),
        writers=(sealed_files.__name__,),  # the module that encrypts into it
        phi_categories=(),  # signed agreements: names of the parties, no patient data
    )


def _require(actor: User | None, perm: Perm) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise VendorError({"actor": [f"{perm} is required."]})


def document_add(
    *,
    actor: User | None,
    agreement: Agreement,
    title: str,
    filename: str,
    content_type: str,
    source: IO[bytes],
) -> AgreementDocument:
    _require(actor, Perm.VENDOR_VENDOR_MANAGE)
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise VendorError({"title": ["Give the document a title of at most 200 characters."]})
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        raise VendorError({"file": ["Upload a PDF, PNG, JPEG or plain-text file."]})
    filename = Path(filename or "agreement.pdf").name[:200] or "agreement.pdf"
    sealed = sealed_files.write_encrypted(
        source,
        folder=_path(),
        ad_prefix=AD_PREFIX,
        limit=MAX_BYTES,
        too_large={"file": ["Agreement documents are limited to 50 MiB."]},
    )
    try:
        if sealed.size == 0:
            raise VendorError({"file": ["The file is empty."]})
        with transaction.atomic():
            document = AgreementDocument.objects.create(
                agreement=agreement,
                title=title,
                filename=filename,
                content_type=content_type,
                size=sealed.size,
                sha256=sealed.sha256,
                storage_id=sealed.storage_id,
                uploaded_at=clock.now(),
                uploaded_by=actor,
            )
            _audit(actor, Action.CREATE, document)
    except BaseException:
        sealed.path.unlink(missing_ok=True)
        raise
    return document


def document_open(*, actor: User | None, document_id: int) -> tuple[AgreementDocument, bytes]:
    """Decrypt a document, verify its hash, and record the download."""
    _require(actor, Perm.VENDOR_VENDOR_READ)
    document = AgreementDocument.objects.select_related("agreement").filter(pk=document_id).first()
    if document is None:
        raise VendorError({"document": ["No such document."]})
    content = sealed_files.read_verified(
        folder=_path(),
        ad_prefix=AD_PREFIX,
        storage_id=document.storage_id,
        sha256=document.sha256,
        field="document",
    )
    with transaction.atomic():
        _audit(actor, Action.READ, document, download=True)
    return document, content


def _audit(actor: User | None, action: Action, document: AgreementDocument, **extra: object) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_username="" if actor is not None else "system:vendors",
        resource_type=RESOURCE,
        resource_id=document.pk,
        detail={
            "agreement_id": document.agreement_id,
            "sha256": document.sha256,
            "size": document.size,
            **extra,
        },
    )
