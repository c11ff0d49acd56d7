"""The vendor security questionnaire through a single-use link (ADR 1213).

The vendor manager sends the questionnaire (questions.py) to a contact at the
vendor: the link carries 32 random bytes (256 bits, unguessable); only their
SHA-256 is stored, the link expires, and it works once: answering marks it
used in the same transaction that stores the answers. The contact needs no
account and reaches nothing else. Evidence files are stream-encrypted as
agreement documents are, with their hash. The score and the tier come from
the answers and the vendor's data and access; a second person signs the
review off. A tampered, expired or used link is refused and audited. No PHI
anywhere: the questions are about the vendor's controls."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.crypto.stores import FileStreamStore
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.vendors import dates, link_code, questions, sealed_files, selectors
from safeward.vendors.models import Questionnaire, QuestionnaireEvidence, Vendor
from safeward.vendors.services import REASSESS_MONTHS, RISK_TIERS, VendorError

RESOURCE = link_code.RESOURCE
LINK_ACTOR = link_code.LINK_ACTOR
DEFAULT_DAYS = 14
MAX_DAYS = 30
MAX_COMMENT = 1000
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
EVIDENCE_TYPES = {"application/pdf", "image/png", "image/jpeg", "text/plain"}
AD_PREFIX = b"vendors.questionnaire_evidence|"


class LinkRefused(Exception):
    """A link that is not (or no longer) valid. `status` is the HTTP status
    the page answers with; `reason` is recorded in the audit trail."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _audit(
    actor: User | None,
    questionnaire: Questionnaire,
    event: str,
    action: Action = Action.UPDATE,
    **detail: Any,
) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_username="" if actor is not None else LINK_ACTOR,
        resource_type=RESOURCE,
        resource_id=questionnaire.pk,
        detail={"event": event, "vendor_id": questionnaire.vendor_id, **detail},
    )


# --- staff side --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    questionnaire: Questionnaire
    link: str  # shown once to the sender and e-mailed to the contact; never stored


def questionnaire_send(
    *,
    actor: User | None,
    vendor: Vendor,
    contact_name: str,
    contact_email: str,
    days: int = DEFAULT_DAYS,
    link_for: Callable[[str], str],
) -> Sent:
    """Send the questionnaire to a contact at the vendor: a new single-use
    link valid `days` days. `link_for` turns the token into the link (the
    page's absolute URL)."""
    if actor is not None and not actor.has_perm(Perm.VENDOR_VENDOR_MANAGE):
        raise VendorError({"actor": [f"{Perm.VENDOR_VENDOR_MANAGE} is required."]})
    errors: dict[str, list[str]] = {}
    contact_name = " ".join((contact_name or "").split())
    if not contact_name or len(contact_name) > 120:
        errors["contact_name"] = ["Give the contact's name (at most 120 characters)."]
    contact_email = (contact_email or "").strip()
    try:
        validate_email(contact_email)
        if len(contact_email) > 200:
            raise ValidationError("too long")
    except ValidationError:
        errors["contact_email"] = ["Give the contact's e-mail address."]
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        errors["days"] = [f"The link is valid 1 to {MAX_DAYS} days."]
    if vendor.status != Vendor.Status.ACTIVE:
        errors["vendor"] = ["Only an active vendor is sent a questionnaire."]
    if errors:
        raise VendorError(errors)
    token = secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        questionnaire = Questionnaire.objects.create(
            vendor=vendor,
            template=questions.TEMPLATE,
            contact_name=contact_name,
            contact_email=contact_email,
            token_sha256=token_hash(token),
            expires_at=now + dt.timedelta(days=days),
            sent_by=actor,
            sent_at=now,
        )
        _audit(
            actor,
            questionnaire,
            "questionnaire_sent",
            Action.CREATE,
            expires_at=questionnaire.expires_at.isoformat(),
        )
    link = link_for(token)
    send_mail(
        subject=f"Security questionnaire from the hospital for {vendor.name}",
        message=(
            f"Dear {contact_name},\n\nplease answer our security questionnaire for {vendor.name}. "
            f"The link works once and until {questionnaire.expires_at:%Y-%m-%d %H:%M} UTC:\n\n{link}\n\n"
            "It needs no account. Do not forward it."
        ),
        from_email=None,
        recipient_list=[contact_email],
    )
    return Sent(questionnaire=questionnaire, link=link)


def questionnaire_sign_off(*, actor: User, questionnaire_id: int, note: str = "") -> Questionnaire:
    """The review, signed off by someone other than the sender."""
    if not actor.has_perm(Perm.VENDOR_ASSESSMENT_REVIEW):
        raise VendorError({"actor": [f"{Perm.VENDOR_ASSESSMENT_REVIEW} is required."]})
    note = " ".join((note or "").split())
    if len(note) > 500:
        raise VendorError({"note": ["At most 500 characters."]})
    with transaction.atomic():
        questionnaire = Questionnaire.objects.select_for_update().filter(pk=questionnaire_id).first()
        if questionnaire is None:
            raise VendorError({"questionnaire": ["No such questionnaire."]})
        if questionnaire.status != Questionnaire.Status.ANSWERED:
            raise VendorError(
                {"questionnaire": ["Only an answered questionnaire waiting for review is signed off."]}
            )
        if questionnaire.sent_by_id == actor.pk:
            raise VendorError({"actor": ["The review is signed off by a second person, not the sender."]})
        questionnaire.status = Questionnaire.Status.SIGNED_OFF
        questionnaire.reviewed_by = actor
        questionnaire.reviewed_at = clock.now()
        questionnaire.review_note = note
        questionnaire.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        _audit(
            actor,
            questionnaire,
            "questionnaire_signed_off",
            score=questionnaire.score,
            tier=questionnaire.tier,
        )
    return questionnaire


def link_state(questionnaire: Questionnaire, now: dt.datetime | None = None) -> str:
    if questionnaire.status != Questionnaire.Status.SENT:
        return "used"
    return "expired" if questionnaire.expires_at <= (now or clock.now()) else "open"


# --- the vendor's side (no account) ---------------------------------------------------------


def _refuse(questionnaire: Questionnaire | None, status: int, reason: str, message: str) -> LinkRefused:
    with transaction.atomic():
        audit_record(
            action=Action.ACCESS_DENIED,
            outcome=Outcome.DENIED,
            actor_username=LINK_ACTOR,
            resource_type=RESOURCE,
            resource_id=questionnaire.pk if questionnaire is not None else "",
            detail={"event": "questionnaire_link_refused", "reason": reason},
        )
    return LinkRefused(status, reason, message)


def questionnaire_by_token(*, token: str) -> Questionnaire:
    """The questionnaire a link opens, or LinkRefused (audited): 404 for a
    link that matches nothing (mistyped or tampered), 410 for one expired or
    already used."""
    if not token or len(token) > 100:
        raise _refuse(None, 404, "unknown", "This link is not valid. Check that it was copied whole.")
    questionnaire = (
        Questionnaire.objects.select_related("vendor").filter(token_sha256=token_hash(token)).first()
    )
    if questionnaire is None:
        raise _refuse(None, 404, "unknown", "This link is not valid. Check that it was copied whole.")
    state = link_state(questionnaire)
    if state == "used":
        raise _refuse(
            questionnaire, 410, "used", "This questionnaire has already been answered: the link works once."
        )
    if state == "expired":
        raise _refuse(
            questionnaire,
            410,
            "expired",
            "This link has expired. Ask your contact at the hospital for a new one.",
        )
    return questionnaire


@dataclass(frozen=True)
class Upload:
    question: str
    filename: str
    content_type: str
    source: IO[bytes]


def _answers_clean(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    errors: dict[str, list[str]] = {}
    answers: dict[str, dict[str, Any]] = {}
    for question in questions.QUESTIONS:
        value = raw.get(f"answer_{question.code}")
        comment = " ".join(str(raw.get(f"comment_{question.code}", "") or "").split())
        try:
            score = int(str(value))
        except ValueError:
            score = -1
        if str(value).strip() not in {"0", "1", "2", "3"} or not 0 <= score <= 3:
            errors[f"answer_{question.code}"] = ["Choose an answer from 0 to 3."]
        if len(comment) > MAX_COMMENT:
            errors[f"comment_{question.code}"] = [f"At most {MAX_COMMENT} characters."]
        answers[question.code] = {"score": score, "comment": comment}
    if errors:
        raise VendorError(errors)
    return answers


def assess(answers: Mapping[str, Mapping[str, Any]], inherent_tier: str) -> tuple[int, str]:
    """The score (percent of the weighted points) and the residual tier: the
    inherent tier (from the vendor's data and access) one step up when the
    score is under 50 % and one more when a critical question is answered 0;
    one step down at 85 % or more with no critical 0."""
    points = sum(questions.BY_CODE[code].weight * answer["score"] for code, answer in answers.items())
    score = round(100 * points / questions.MAX_POINTS)
    critical_gap = any(
        questions.BY_CODE[code].critical and answer["score"] == 0 for code, answer in answers.items()
    )
    step = (
        (1 if score < 50 else 0) + (1 if critical_gap else 0) - (1 if score >= 85 and not critical_gap else 0)
    )
    index = min(len(RISK_TIERS) - 1, max(0, RISK_TIERS.index(inherent_tier) + step))
    return score, RISK_TIERS[index]


def questionnaire_answer(
    *, token: str, pass_token: str | None, data: Mapping[str, Any], uploads: Sequence[Upload] = ()
) -> Questionnaire:
    """Store the vendor's answers and evidence and use the link up, all or
    nothing. `pass_token` is what the e-mailed code gave the browser (ADR
    1214): without it nothing is stored. A second submission (a double
    click, a replay) finds the link used."""
    questionnaire = questionnaire_by_token(token=token)
    if not link_code.pass_valid(questionnaire, pass_token):
        raise _refuse(
            questionnaire, 403, "not_verified", "Enter the code we e-mailed you before sending the answers."
        )
    answers = _answers_clean(data)
    errors: dict[str, list[str]] = {}
    for upload in uploads:
        if upload.question not in questions.BY_CODE:
            errors["evidence"] = ["Evidence belongs to a question of the questionnaire."]
        elif (upload.content_type or "").split(";")[0].strip().lower() not in EVIDENCE_TYPES:
            errors[f"evidence_{upload.question}"] = ["Attach a PDF, PNG, JPEG or plain-text file."]
    if len(uploads) > len(questions.QUESTIONS):
        errors["evidence"] = ["At most one file per question."]
    if errors:
        raise VendorError(errors)
    inherent = selectors.vendor_summary(vendor=questionnaire.vendor).inherent_risk
    score, tier = assess(answers, inherent)
    now = clock.now()
    written: list[Path] = []
    try:
        with transaction.atomic():
            used = Questionnaire.objects.filter(
                pk=questionnaire.pk, status=Questionnaire.Status.SENT, expires_at__gt=now
            ).update(
                status=Questionnaire.Status.ANSWERED,
                answered_at=now,
                answers=answers,
                score=score,
                tier=tier,
                next_assessment_on=dates.add_months(now.date(), REASSESS_MONTHS[tier]),
            )
            if used != 1:  # answered (or expired) since it was opened: single use
                raise LinkRefused(
                    410, "used", "This questionnaire has already been answered: the link works once."
                )
            for upload in uploads:
                written.append(_evidence_store(questionnaire, upload, now))
            questionnaire.refresh_from_db()
            _audit(
                None,
                questionnaire,
                "questionnaire_answered",
                score=score,
                tier=tier,
                inherent_tier=inherent,
                evidence=len(uploads),
            )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return questionnaire


# --- evidence files ---------------------------------------------------------------------------


def _path() -> Path:
    return Path(settings.VAR_DIR) / "vendors" / "questionnaire-evidence"


def _ad(storage_id: uuid.UUID) -> bytes:
    return AD_PREFIX + storage_id.bytes


def evidence_files_store() -> FileStreamStore:
    """Registered with the crypto app (VendorsConfig.ready) so key rotation moves the files."""
    return FileStreamStore(
        label="vendors.questionnaire evidence",
        directory=_path,
        pattern="*.swf",
        associated_data=lambda path: _ad(uuid.UUID(path.stem)),
        stream_prefixes=(AD_PREFIX,),
        writers=(sealed_files.__name__,),  # the module that encrypts into it
        phi_categories=(),  # policies and certificates of the vendor: no patient data
    )


def _evidence_store(questionnaire: Questionnaire, upload: Upload, now: dt.datetime) -> Path:
    sealed = sealed_files.write_encrypted(
        upload.source,
        folder=_path(),
        ad_prefix=AD_PREFIX,
        limit=MAX_EVIDENCE_BYTES,
        too_large={"evidence": ["Evidence files are limited to 10 MiB each."]},
    )
    try:
        if sealed.size == 0:
            raise VendorError({f"evidence_{upload.question}": ["The file is empty."]})
        QuestionnaireEvidence.objects.create(
            questionnaire=questionnaire,
            question=upload.question,
            filename=Path(upload.filename or "evidence").name[:200] or "evidence",
            content_type=upload.content_type.split(";")[0].strip().lower(),
            size=sealed.size,
            sha256=sealed.sha256,
            storage_id=sealed.storage_id,
            uploaded_at=now,
        )
    except BaseException:
        sealed.path.unlink(missing_ok=True)
        raise
    return sealed.path


def evidence_open(*, actor: User, evidence_id: int) -> tuple[QuestionnaireEvidence, bytes]:
    """Decrypt an evidence file, verify its hash, and record the download."""
    if not actor.has_perm(Perm.VENDOR_VENDOR_READ):
        raise VendorError({"actor": [f"{Perm.VENDOR_VENDOR_READ} is required."]})
    evidence = QuestionnaireEvidence.objects.select_related("questionnaire").filter(pk=evidence_id).first()
    if evidence is None:
        raise VendorError({"evidence": ["No such file."]})
    content = sealed_files.read_verified(
        folder=_path(),
        ad_prefix=AD_PREFIX,
        storage_id=evidence.storage_id,
        sha256=evidence.sha256,
        field="evidence",
    )
    with transaction.atomic():
        _audit(
            actor,
            evidence.questionnaire,
            "questionnaire_evidence_read",
            evidence_id=evidence.pk,
            sha256=evidence.sha256,
        )
    return evidence, content
