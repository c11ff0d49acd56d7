"""Assessment campaign writes (ADR 0940). Each takes `actor`, runs in one
transaction with its audit event, and refuses with `CampaignError` (the
person can fix the input) or `NotYours` (someone else's step: the assessor
answers and signs first, then the reviewer, two different people).
A signed-off campaign is read-only; its findings keep moving to closure."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from django.db import transaction

from safeward import clock
from safeward.assessments import campaign_catalog
from safeward.assessments.campaign_evidence import EvidenceRefused, check_evidence
from safeward.assessments.models import Campaign, Evidence, Finding, Maturity, Question, Severity
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.crypto.errors import IntegrityError as CryptoIntegrityError
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import users_holding

__all__ = ["CampaignError", "EvidenceRefused", "EvidenceTampered", "NotYours"]

MIN_YEAR, MAX_YEAR = 2000, 2100


class CampaignError(Exception):
    """A write refused with a reason the person can act on."""


class NotYours(CampaignError):
    """The step belongs to another person (the campaign's assessor or reviewer)."""


class EvidenceTampered(CampaignError):
    """The stored file no longer matches the SHA-256 recorded at upload."""


def _audit(
    action: Action,
    actor: User | None,
    resource: str,
    pk: object,
    *,
    fields: Iterable[str] = (),
    **detail: object,
) -> None:
    audit_record(
        action=action,
        actor=actor,
        resource_type=resource,
        resource_id=str(pk),
        purpose=PurposeOfUse.OPERATIONS,
        fields=sorted(fields),
        detail=detail,
    )


def _user(user_id: int, *, permission: Perm, what: str) -> User:
    user = users_holding(permission=permission).filter(pk=user_id).first()
    if user is None:
        raise CampaignError(f"The {what} must be an active account that may {_ABILITY[permission]}.")
    return user


_ABILITY = {
    Perm.ASSESSMENT_CAMPAIGN_MANAGE: "run assessments",
    Perm.ASSESSMENT_RESULT_READ: "read assessment results",
}


def _campaign_for_update(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignError("No such campaign.")
    return campaign


def _question_for_update(question_id: int) -> tuple[Question, Campaign]:
    question = Question.objects.filter(pk=question_id).first()
    if question is None:
        raise CampaignError("No such question.")
    campaign = _campaign_for_update(question.campaign_id)
    return Question.objects.select_for_update().get(pk=question_id), campaign


def _require_open(campaign: Campaign, actor: User | None) -> None:
    if campaign.status != Campaign.Status.OPEN:
        raise CampaignError(
            "The campaign is signed off and read-only."
            if campaign.read_only
            else "The assessor has signed the campaign; the reviewer can return it to change answers."
        )
    if actor is None or actor.pk != campaign.assessor_id:
        raise NotYours("Only the campaign's assessor answers its questions.")


def campaign_create(
    *,
    actor: User | None,
    name: str,
    framework: str,
    year: int,
    assessor_id: int,
    reviewer_id: int,
    entry_refs: Iterable[str] = (),
    scope_note: str = "",
) -> Campaign:
    """A campaign over the whole framework, or over `entry_refs` when given."""
    name = name.strip()
    if not name or len(name) > 200:
        raise CampaignError("A campaign needs a name of at most 200 characters.")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise CampaignError(f"The year must be between {MIN_YEAR} and {MAX_YEAR}.")
    if assessor_id == reviewer_id:
        raise CampaignError("The assessor and the reviewer must be two different people.")
    if not campaign_catalog.framework_entries(framework):
        raise CampaignError("Unknown framework, or one with no catalog entries to assess.")
    refs = list(entry_refs)
    try:
        chosen = (
            campaign_catalog.entries(framework, refs)
            if refs
            else campaign_catalog.framework_entries(framework)
        )
    except campaign_catalog.UnknownEntry as error:
        raise CampaignError(str(error)) from None
    assessor = _user(assessor_id, permission=Perm.ASSESSMENT_CAMPAIGN_MANAGE, what="assessor")
    reviewer = _user(reviewer_id, permission=Perm.ASSESSMENT_RESULT_READ, what="reviewer")
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            framework=framework,
            year=year,
            scope_note=scope_note.strip(),
            assessor=assessor,
            reviewer=reviewer,
            created_by=actor,
            created_at=clock.now(),
        )
        Question.objects.bulk_create(
            Question(
                campaign=campaign,
                position=position,
                entry_ref=entry.ref,
                entry_title=entry.title[:500],
                clause_ref=entry.clause_ref,
                clause_title=entry.clause_title[:500],
            )
            for position, entry in enumerate(chosen)
        )
        _audit(
            Action.CREATE,
            actor,
            "AssessmentCampaign",
            campaign.pk,
            fields=["name", "framework", "year", "assessor", "reviewer"],
            framework=framework,
            year=year,
            questions=len(chosen),
            assessor=assessor.username,
            reviewer=reviewer.username,
        )
    return campaign


def question_answer(*, actor: User | None, question_id: int, maturity: int, notes: str = "") -> Question:
    if maturity not in Maturity.values:
        raise CampaignError("The maturity is 0, 1, 2 or 3.")
    with transaction.atomic():
        question, campaign = _question_for_update(question_id)
        _require_open(campaign, actor)
        changed = [
            name
            for name, value in (("maturity", maturity), ("notes", notes.strip()))
            if getattr(question, name) != value
        ]
        question.maturity = maturity
        question.notes = notes.strip()
        question.answered_by = actor
        question.answered_at = clock.now()
        question.save()
        _audit(
            Action.UPDATE,
            actor,
            "AssessmentQuestion",
            question.pk,
            fields=changed,
            campaign=campaign.pk,
            entry=question.entry_ref,
            maturity=maturity,
        )
    return question


def evidence_add(*, actor: User | None, question_id: int, filename: str, data: bytes) -> Evidence:
    """Store an evidence file encrypted, with the SHA-256 of its bytes."""
    content_type, safe_name = check_evidence(filename, data)
    with transaction.atomic():
        question, campaign = _question_for_update(question_id)
        _require_open(campaign, actor)
        assert actor is not None
        digest = hashlib.sha256(data).hexdigest()
        evidence = Evidence(
            question=question,
            filename=safe_name,
            content_type=content_type,
            size=len(data),
            sha256=digest,
            uploaded_by=actor,
            uploaded_at=clock.now(),
        )
        evidence.content = data
        evidence.save()
        _audit(
            Action.CREATE,
            actor,
            "AssessmentEvidence",
            evidence.pk,
            campaign=campaign.pk,
            entry=question.entry_ref,
            sha256=digest,
            size=len(data),
            content_type=content_type,
        )
    return evidence


def evidence_open(*, actor: User | None, evidence_id: str) -> tuple[Evidence, bytes]:
    """The file and its bytes, after checking them against the recorded SHA-256
    (a mismatch is refused and audited as an error)."""
    evidence = Evidence.objects.select_related("question").filter(pk=evidence_id).first()
    if evidence is None:
        raise CampaignError("No such evidence file.")
    try:
        data = bytes(evidence.content.reveal())  # evidence is no patient data (PhiCategory.NOT_PHI)
    except CryptoIntegrityError:  # the ciphertext itself was edited
        data = b""
    intact = bool(data) and hashlib.sha256(data).hexdigest() == evidence.sha256
    with transaction.atomic():
        audit_record(
            action=Action.EXPORT,
            outcome=Outcome.SUCCESS if intact else Outcome.ERROR,
            actor=actor,
            resource_type="AssessmentEvidence",
            resource_id=str(evidence.pk),
            purpose=PurposeOfUse.OPERATIONS,
            detail={"sha256": evidence.sha256, "verified": intact, "campaign": evidence.question.campaign_id},
        )
    if not intact:
        raise EvidenceTampered(
            "The stored file does not match the SHA-256 recorded at upload; it was altered."
        )
    return evidence, data


def campaign_submit(*, actor: User | None, campaign_id: int) -> Campaign:
    """The assessor's signature: every question answered, then the reviewer's turn."""
    with transaction.atomic():
        campaign = _campaign_for_update(campaign_id)
        _require_open(campaign, actor)
        unanswered = campaign.questions.filter(maturity__isnull=True).count()
        if unanswered:
            raise CampaignError(
                f"{unanswered} question(s) have no maturity yet; answer every question first."
            )
        campaign.status = Campaign.Status.SUBMITTED
        campaign.assessor_signed_at = clock.now()
        campaign.save(update_fields=["status", "assessor_signed_at"])
        _audit(Action.UPDATE, actor, "AssessmentCampaign", campaign.pk, fields=["status"], status="submitted")
    return campaign


def _require_reviewer(campaign: Campaign, actor: User | None) -> None:
    if campaign.status != Campaign.Status.SUBMITTED:
        raise CampaignError(
            "The campaign is already signed off."
            if campaign.read_only
            else "The assessor has not signed the campaign yet."
        )
    if actor is None or actor.pk != campaign.reviewer_id:
        raise NotYours("Only the campaign's reviewer signs it off.")
    if actor.pk == campaign.assessor_id:  # the constraint makes this impossible; refuse anyway
        raise NotYours("The reviewer cannot be the assessor.")


def campaign_sign_off(*, actor: User | None, campaign_id: int) -> Campaign:
    with transaction.atomic():
        campaign = _campaign_for_update(campaign_id)
        _require_reviewer(campaign, actor)
        campaign.status = Campaign.Status.SIGNED_OFF
        campaign.reviewer_signed_at = clock.now()
        campaign.save(update_fields=["status", "reviewer_signed_at"])
        _audit(
            Action.UPDATE, actor, "AssessmentCampaign", campaign.pk, fields=["status"], status="signed_off"
        )
    return campaign


def campaign_return(*, actor: User | None, campaign_id: int, reason: str) -> Campaign:
    """The reviewer sends a submitted campaign back to the assessor, with a reason."""
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise CampaignError("Say why the campaign goes back (at most 2000 characters).")
    with transaction.atomic():
        campaign = _campaign_for_update(campaign_id)
        _require_reviewer(campaign, actor)
        campaign.status = Campaign.Status.OPEN
        campaign.assessor_signed_at = None
        campaign.returned_reason = reason
        campaign.save(update_fields=["status", "assessor_signed_at", "returned_reason"])
        _audit(Action.UPDATE, actor, "AssessmentCampaign", campaign.pk, fields=["status"], status="returned")
    return campaign


def _finding_values(title: str, severity: str, due_on: dt.date | None) -> str:
    title = title.strip()
    if not title or len(title) > 200:
        raise CampaignError("A finding needs a title of at most 200 characters.")
    if severity not in Severity.values:
        raise CampaignError("Unknown severity.")
    if due_on is None:
        raise CampaignError("A finding needs a due date.")
    return title


def finding_create(
    *,
    actor: User | None,
    question_id: int,
    title: str,
    severity: str,
    owner_id: int,
    due_on: dt.date | None,
    description: str = "",
) -> Finding:
    title = _finding_values(title, severity, due_on)
    assert due_on is not None
    owner = User.objects.filter(pk=owner_id, is_active=True).first()
    if owner is None:
        raise CampaignError("The owner must be an active account.")
    with transaction.atomic():
        question, campaign = _question_for_update(question_id)
        if campaign.read_only:
            raise CampaignError("The campaign is signed off; record new findings in this year's campaign.")
        now = clock.now()
        finding = Finding.objects.create(
            campaign=campaign,
            question=question,
            title=title,
            description=description.strip(),
            severity=severity,
            owner=owner,
            due_on=due_on,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        _audit(
            Action.CREATE,
            actor,
            "AssessmentFinding",
            finding.pk,
            fields=["title", "description", "severity", "owner", "due_on"],
            campaign=campaign.pk,
            entry=question.entry_ref,
            severity=severity,
            owner=owner.username,
            due_on=due_on.isoformat(),
        )
    return finding


def finding_update(
    *,
    actor: User | None,
    finding_id: int,
    status: str,
    owner_id: int,
    due_on: dt.date | None,
    resolution: str = "",
) -> Finding:
    """Move a finding on (open, in progress, closed); closing needs the resolution."""
    if status not in Finding.Status.values:
        raise CampaignError("Unknown status.")
    if due_on is None:
        raise CampaignError("A finding needs a due date.")
    resolution = resolution.strip()
    if status == Finding.Status.CLOSED and not resolution:
        raise CampaignError("Say how the finding was resolved before closing it.")
    owner = User.objects.filter(pk=owner_id, is_active=True).first()
    if owner is None:
        raise CampaignError("The owner must be an active account.")
    with transaction.atomic():
        finding = Finding.objects.select_for_update().filter(pk=finding_id).first()
        if finding is None:
            raise CampaignError("No such finding.")
        values = {"status": status, "owner_id": owner.pk, "due_on": due_on, "resolution": resolution}
        changed = sorted(name for name, value in values.items() if getattr(finding, name) != value)
        for name, value in values.items():
            setattr(finding, name, value)
        now = clock.now()
        finding.updated_at = now
        finding.closed_at = now if status == Finding.Status.CLOSED else None
        finding.save()
        _audit(
            Action.UPDATE,
            actor,
            "AssessmentFinding",
            finding.pk,
            fields=[name.removesuffix("_id") for name in changed],
            status=status,
            owner=owner.username,
            due_on=due_on.isoformat(),
        )
    return finding
