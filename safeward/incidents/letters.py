"""Breach notification letters, the mailing list and the HHS report fields
(ADR 1405). Letters are generated per patient from the gateway's recipients
door (audited there as an export of each patient's name and address), each
rendered to PDF with weasyprint and stream-encrypted at rest under VAR_DIR;
the batch writes an export manifest naming every patient and the SHA-256 of
the letters' plaintext, so the letters are accounted for like any export."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from safeward import clock
from safeward.audit.manifests import ManifestDraft, manifest_write
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.crypto import streams
from safeward.crypto.phi import PhiCategory
from safeward.crypto.stores import FileStreamStore
from safeward.detection.triage import TriageError, UnknownObject
from safeward.identity.errors import NotPermitted
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.incidents.models import BreachAssessment, Incident, TimelineEntry
from safeward.incidents.services import timeline_entry

LETTER_AD_PREFIX = b"incidents.letter|"


def _letters_path() -> Path:
    return Path(settings.VAR_DIR) / "incidents" / "letters"


def letters_dir(incident_id: int) -> Path:
    path = _letters_path() / str(incident_id)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _letter_ad(letter_id: uuid.UUID) -> bytes:
    return LETTER_AD_PREFIX + letter_id.bytes


def letter_files_store() -> FileStreamStore:
    return FileStreamStore(
        label="incidents.letter files",
        directory=_letters_path,
        pattern="*/*.swf",
        associated_data=lambda path: _letter_ad(uuid.UUID(path.stem)),
        stream_prefixes=(LETTER_AD_PREFIX,),
        writers=(__name__,),
        phi_categories=(PhiCategory.DEMOGRAPHIC, PhiCategory.CONTACT, PhiCategory.IDENTIFIER),
    )


@dataclass(frozen=True)
class LetterBatch:
    incident_id: int
    letters: int
    undeliverable: int
    directory: Path
    sha256: str


def _assessment(actor: User, incident_id: int) -> BreachAssessment:
    if not actor.has_perm(Perm.INCIDENT_BREACH_MANAGE):
        raise NotPermitted(f"{Perm.INCIDENT_BREACH_MANAGE} is required")
    assessment = BreachAssessment.objects.select_related("incident").filter(incident_id=incident_id).first()
    if assessment is None:
        raise UnknownObject("Compute the breach scope first (the case page, or `safeward incidents scope`).")
    if not assessment.patient_ids:
        raise TriageError("The breach scope names no patient: there is nobody to write to.")
    return assessment


def _letter_html(incident: Incident, recipient: gateway.BreachRecipient, hospital: str) -> str:
    e = html.escape
    lines = "<br>".join(e(line) for line in recipient.address_lines)
    return f"""<html><head><style>
body {{ font-family: sans-serif; font-size: 11pt; margin: 2cm; }}
.address {{ margin: 1cm 0; }}
</style></head><body>
<p>{e(hospital)}</p>
<div class="address">{e(recipient.name)}<br>{lines}</div>
<p>{clock.now().date().isoformat()}</p>
<h1 style="font-size:14pt">Notice of a privacy incident</h1>
<p>Dear {e(recipient.name)},</p>
<p>We are writing to tell you about an incident that may have involved your health information
(our reference {incident.pk}; your record number {e(recipient.mrn)}).</p>
<p><strong>What happened.</strong> {e(incident.summary or incident.title)}</p>
<p><strong>What we are doing.</strong> We contained the incident, are investigating it, and have
taken steps to prevent it from happening again.</p>
<p><strong>What you can do.</strong> Review the statements you receive from your health plan and
providers, and tell us of any service you did not receive.</p>
<p><strong>For more information</strong> call our privacy office toll-free; the call is free of charge.</p>
<p>Sincerely,<br>The Privacy Officer</p>
</body></html>"""


def letters_generate(
    *,
    actor: User,
    session: SessionContext,
    incident_id: int,
    hospital: str = "SafeWard General Hospital",
    progress: Callable[[int], None] | None = None,
) -> LetterBatch:
    """One encrypted PDF per affected patient, and the batch's manifest."""
    from weasyprint import HTML

    assessment = _assessment(actor, incident_id)
    recipients = gateway.breach_letter_recipients(
        actor=actor, session=session, incident_id=incident_id, patient_ids=assessment.patient_ids
    )
    directory = letters_dir(incident_id)
    digest = hashlib.sha256()
    total = 0
    written: list[Path] = []
    try:
        for recipient in recipients:
            pdf = HTML(string=_letter_html(assessment.incident, recipient, hospital)).write_pdf()
            digest.update(pdf)
            total += len(pdf)
            letter_id = uuid.uuid4()
            target = directory / f"{letter_id}.swf"
            with target.open("xb") as handle:
                written.append(target)
                streams.encrypt_stream(io.BytesIO(pdf), handle, associated_data=_letter_ad(letter_id))
            if progress is not None:
                progress(1)
        with transaction.atomic():
            audit_record(
                action=Action.CREATE,
                actor=actor,
                resource_type="Incident",
                resource_id=incident_id,
                purpose=PurposeOfUse.SECURITY,
                detail={"change": "letters", "letters": len(recipients)},
            )
        manifest_write(
            actor=actor,
            draft=ManifestDraft(
                kind="print",
                route="cli.incidents.letters",
                purpose=PurposeOfUse.SECURITY,
                patient_ids=[recipient.patient_id for recipient in recipients],
                sections=("demographics",),
                detail={"incident": str(incident_id), "letters": str(len(recipients))},
            ),
            content=digest.hexdigest().encode(),
        )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return LetterBatch(
        incident_id=incident_id,
        letters=len(recipients),
        undeliverable=sum(1 for recipient in recipients if not recipient.deliverable),
        directory=directory,
        sha256=digest.hexdigest(),
    )


LETTER_BATCH = 100  # letters per downloaded PDF: one print run, one envelope-stuffing session


def letter_batch_count(assessment: BreachAssessment) -> int:
    return -(-len(assessment.patient_ids) // LETTER_BATCH)


@dataclass(frozen=True)
class BatchPdf:
    pdf: bytes
    patient_ids: list[str]
    letters: int


def letters_batch_pdf(*, actor: User, session: SessionContext, incident_id: int, batch: int) -> BatchPdf:
    """Batch `batch` (from 1) of the case's letters as one PDF, a page per
    patient, for the web download (ADR 1411). The recipients of this batch
    only are read through the gateway (its EXPORT event indexes each); the
    case's trail and timeline record the download, and the caller manifests it."""
    from weasyprint import HTML

    assessment = _assessment(actor, incident_id)
    if not 1 <= batch <= letter_batch_count(assessment):
        raise UnknownObject("No such batch of letters.")
    wanted = sorted(assessment.patient_ids)[(batch - 1) * LETTER_BATCH : batch * LETTER_BATCH]
    recipients = gateway.breach_letter_recipients(
        actor=actor, session=session, incident_id=incident_id, patient_ids=wanted
    )
    if not recipients:
        raise TriageError("None of this batch's patients could be found: there is nobody to write to.")
    hospital = "SafeWard General Hospital"
    # Each letter rendered on its own (its own first page), then the pages joined into one file.
    documents = [
        HTML(string=_letter_html(assessment.incident, recipient, hospital)).render()
        for recipient in recipients
    ]
    pdf = documents[0].copy([page for document in documents for page in document.pages]).write_pdf()
    with transaction.atomic():
        audit_record(
            action=Action.EXPORT,
            actor=actor,
            resource_type="Incident",
            resource_id=incident_id,
            purpose=PurposeOfUse.SECURITY,
            detail={"change": "letters_download", "batch": batch, "letters": len(recipients)},
        )
        timeline_entry(
            incident=assessment.incident,
            kind=TimelineEntry.Kind.BREACH,
            text=f"Notification letters, batch {batch} ({len(recipients)} letters), downloaded",
            actor=actor,
            for_report=True,
        )
    return BatchPdf(pdf=pdf, patient_ids=[r.patient_id for r in recipients], letters=len(recipients))


def letter_associated_data(path: Path) -> bytes:
    """What a letter file was encrypted with (the mail house's tooling decrypts with the key ring)."""
    return _letter_ad(uuid.UUID(path.stem))


MAILING_COLUMNS = ("patient_id", "mrn", "name", "address", "state", "deliverable")


def mailing_list(*, actor: User, session: SessionContext, incident_id: int) -> Iterator[str]:
    """The mailing list as CSV lines, manifested (the caller writes them where the operator asked)."""
    assessment = _assessment(actor, incident_id)
    recipients = gateway.breach_letter_recipients(
        actor=actor, session=session, incident_id=incident_id, patient_ids=assessment.patient_ids
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(MAILING_COLUMNS)
    for recipient in recipients:
        writer.writerow(
            [
                recipient.patient_id,
                recipient.mrn,
                _csv_safe(recipient.name),
                _csv_safe(" / ".join(recipient.address_lines)),
                recipient.state,
                "yes" if recipient.deliverable else "no",
            ]
        )
    content = buffer.getvalue()
    manifest_write(
        actor=actor,
        draft=ManifestDraft(
            kind="csv",
            route="cli.incidents.mailing-list",
            purpose=PurposeOfUse.SECURITY,
            patient_ids=[recipient.patient_id for recipient in recipients],
            sections=("demographics",),
            detail={"incident": str(incident_id)},
        ),
        content=content.encode(),
    )
    yield from content.splitlines(keepends=True)


def _csv_safe(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def hhs_report_fields(assessment: BreachAssessment) -> dict[str, str]:
    """The fields of HHS OCR's breach portal form, from the case (no patient data)."""
    incident = assessment.incident
    discovery = assessment.discovery_override_at or assessment.discovered_at
    kind = {
        "lost_device": "Loss / Theft",
        "snooping": "Unauthorized Access/Disclosure",
        "misdirected": "Unauthorized Access/Disclosure",
        "ransomware": "Hacking/IT Incident",
        "credential": "Hacking/IT Incident",
        "vendor": "Hacking/IT Incident",
        "physical": "Theft",
    }.get(incident.category, "Other")
    return {
        "breach_start_date": assessment.window_start.date().isoformat(),
        "breach_end_date": assessment.window_end.date().isoformat(),
        "discovery_date": discovery.date().isoformat() if discovery else "",
        "approximate_individuals_affected": str(assessment.affected),
        "type_of_breach": kind,
        "location_of_breached_information": "Electronic Medical Record",
        "business_associate_involved": "yes" if incident.category == "vendor" else "no",
        "individual_notice_provided": (
            assessment.individuals_notified_at.date().isoformat()
            if assessment.individuals_notified_at
            else ""
        ),
        "substitute_notice_required": "yes" if assessment.stale_contacts >= 10 else "no",
        "media_notice_required": "yes"
        if any(n > 500 for s, n in assessment.by_state.items() if s != "unknown")
        else "no",
        "safeguards_and_actions": incident.lessons_learned,
        "states_of_residence": ", ".join(f"{s}: {n}" for s, n in sorted(assessment.by_state.items())),
    }
