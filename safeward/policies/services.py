"""Policy library writes. Each takes `actor`, runs in one transaction and
records its audit event there (ADR 0930). The lifecycle of a revision:

    draft -> in review -> approved (by someone other than the author) -> published -> retired

Publishing stores the text's SHA-256 and a PDF snapshot with its own hash,
makes the revision the document's current one, retires the one before and
restarts the review clock. Policies hold no patient data: audit rows name the
document, the revision and the fields that changed."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection.evaluate import POLICY_OVERDUE_CHECK
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.policies import gate, pdf, text
from safeward.policies.models import (
    Acknowledgement,
    AcknowledgementCampaign,
    PolicyDocument,
    PolicyRequirement,
    PolicyRevision,
)

DOCUMENT = "PolicyDocument"
REVISION = "PolicyRevision"
CAMPAIGN = "AcknowledgementCampaign"
ACKNOWLEDGEMENT = "PolicyAcknowledgement"


class PolicyError(Exception):
    """A write refused with a reason the person can act on."""


def _event(
    action: Action,
    actor: User | None,
    resource_type: str,
    resource_id: int,
    *,
    fields: Iterable[str] = (),
    detail: Mapping[str, Any] | None = None,
    actor_username: str = "",
) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_username=actor_username,
        resource_type=resource_type,
        resource_id=resource_id,
        purpose=PurposeOfUse.OPERATIONS,
        fields=fields,
        detail=detail,
    )


def _set_requirements(*, document: PolicyDocument, roles: Iterable[str], positions: Iterable[str]) -> None:
    wanted = {(PolicyRequirement.Kind.ROLE.value, code) for code in roles} | {
        (PolicyRequirement.Kind.POSITION.value, code) for code in positions
    }
    have = set(document.requirements.values_list("kind", "code"))
    for kind, code in have - wanted:
        document.requirements.filter(kind=kind, code=code).delete()
    PolicyRequirement.objects.bulk_create(
        PolicyRequirement(document=document, kind=kind, code=code) for kind, code in sorted(wanted - have)
    )


def document_create(
    *,
    actor: User | None,
    code: str,
    title: str,
    kind: str,
    owner: User,
    review_period_days: int = 365,
    roles: Iterable[str] = (),
    positions: Iterable[str] = (),
) -> PolicyDocument:
    now = clock.now()
    roles, positions = sorted(set(roles)), sorted(set(positions))
    try:
        with transaction.atomic():
            document = PolicyDocument.objects.create(
                code=code,
                title=title,
                kind=kind,
                owner=owner,
                review_period_days=review_period_days,
                created_at=now,
                updated_at=now,
            )
            _set_requirements(document=document, roles=roles, positions=positions)
            _event(
                Action.CREATE,
                actor,
                DOCUMENT,
                document.pk,
                fields=["code", "title", "kind", "owner", "review_period_days", "requirements"],
                detail={"document": code, "owner_id": owner.pk, "roles": roles, "positions": positions},
            )
    except IntegrityError:
        raise PolicyError(f"A document with the code {code!r} exists.") from None
    return document


def document_update(
    *,
    actor: User | None,
    document_id: int,
    title: str,
    kind: str,
    owner: User,
    review_period_days: int,
    roles: Iterable[str],
    positions: Iterable[str],
) -> PolicyDocument:
    roles, positions = sorted(set(roles)), sorted(set(positions))
    with transaction.atomic():
        document = PolicyDocument.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            raise PolicyError("No such document.")
        document.title, document.kind, document.owner = title, kind, owner
        document.review_period_days = review_period_days
        document.updated_at = clock.now()
        document.save(update_fields=["title", "kind", "owner", "review_period_days", "updated_at"])
        _set_requirements(document=document, roles=roles, positions=positions)
        _event(
            Action.UPDATE,
            actor,
            DOCUMENT,
            document.pk,
            fields=["title", "kind", "owner", "review_period_days", "requirements"],
            detail={"owner_id": owner.pk, "roles": roles, "positions": positions},
        )
    return document


def _revision_locked(revision_id: int) -> PolicyRevision:
    revision = (
        PolicyRevision.objects.select_for_update().select_related("document").filter(pk=revision_id).first()
    )
    if revision is None:
        raise PolicyError("No such revision.")
    return revision


def _clean_body(body: str) -> str:
    try:
        clean = text.body_clean(body)
    except ValueError as error:
        raise PolicyError(str(error)) from None
    if not clean.strip():
        raise PolicyError("The text is empty.")
    if len(clean) > text.MAX_BODY:
        raise PolicyError(f"The text is longer than {text.MAX_BODY} characters.")
    return clean


def revision_draft(*, actor: User, document_id: int, body: str, change_summary: str = "") -> PolicyRevision:
    """A new draft of the document (one open revision at a time)."""
    body = _clean_body(body)
    now = clock.now()
    try:
        with transaction.atomic():
            document = PolicyDocument.objects.select_for_update().filter(pk=document_id).first()
            if document is None:
                raise PolicyError("No such document.")
            if document.retired_at is not None:
                raise PolicyError("The document is retired.")
            number = (document.revisions.aggregate(top=Max("number"))["top"] or 0) + 1
            revision = PolicyRevision.objects.create(
                document=document,
                number=number,
                body=body,
                change_summary=change_summary[:500],
                author=actor,
                created_at=now,
                updated_at=now,
            )
            _event(
                Action.CREATE,
                actor,
                REVISION,
                revision.pk,
                fields=["body", "change_summary"],
                detail={"document_id": document.pk, "number": number},
            )
    except IntegrityError:
        raise PolicyError(
            "The document already has a revision in progress: edit, approve or publish it first."
        ) from None
    return revision


def revision_edit(*, actor: User, revision_id: int, body: str, change_summary: str = "") -> PolicyRevision:
    body = _clean_body(body)
    with transaction.atomic():
        revision = _revision_locked(revision_id)
        if revision.state != PolicyRevision.State.DRAFT:
            raise PolicyError("Only a draft can be edited.")
        revision.body, revision.change_summary = body, change_summary[:500]
        revision.updated_at = clock.now()
        revision.save(update_fields=["body", "change_summary", "updated_at"])
        _event(Action.UPDATE, actor, REVISION, revision.pk, fields=["body", "change_summary"])
    return revision


def _transition(
    *,
    actor: User | None,
    revision: PolicyRevision,
    to: str,
    fields: list[str],
    detail: dict[str, Any] | None = None,
) -> None:
    before = revision.state
    revision.state = to
    revision.updated_at = clock.now()
    revision.save(update_fields=["state", "updated_at", *fields])
    _event(
        Action.UPDATE,
        actor,
        REVISION,
        revision.pk,
        fields=["state", *fields],
        detail={"document_id": revision.document_id, "from": before, "to": to, **(detail or {})},
    )


def revision_submit(*, actor: User, revision_id: int) -> PolicyRevision:
    with transaction.atomic():
        revision = _revision_locked(revision_id)
        if revision.state != PolicyRevision.State.DRAFT:
            raise PolicyError("Only a draft can be submitted for review.")
        revision.submitted_at = clock.now()
        _transition(
            actor=actor, revision=revision, to=PolicyRevision.State.IN_REVIEW, fields=["submitted_at"]
        )
    return revision


def revision_approve(*, actor: User, revision_id: int) -> PolicyRevision:
    """A second person approves: never the author."""
    if not actor.has_perm(Perm.POLICY_DOCUMENT_APPROVE):
        raise PolicyError("You may not approve policy revisions.")
    with transaction.atomic():
        revision = _revision_locked(revision_id)
        if revision.state != PolicyRevision.State.IN_REVIEW:
            raise PolicyError("Only a revision in review can be approved.")
        if revision.author_id == actor.pk:
            raise PolicyError("The author cannot approve their own revision: a second person must.")
        revision.approved_by, revision.approved_at = actor, clock.now()
        _transition(
            actor=actor,
            revision=revision,
            to=PolicyRevision.State.APPROVED,
            fields=["approved_by", "approved_at"],
        )
    return revision


def revision_reject(*, actor: User, revision_id: int, reason: str) -> PolicyRevision:
    """Back to draft with the reviewer's reason."""
    reason = reason.strip()
    if not reason:
        raise PolicyError("Say why the revision goes back to its author.")
    if not actor.has_perm(Perm.POLICY_DOCUMENT_APPROVE):
        raise PolicyError("You may not review policy revisions.")
    with transaction.atomic():
        revision = _revision_locked(revision_id)
        if revision.state not in {PolicyRevision.State.IN_REVIEW, PolicyRevision.State.APPROVED}:
            raise PolicyError("Only a revision in review or approved can be sent back.")
        revision.rejection_reason = reason[:500]
        revision.approved_by, revision.approved_at = None, None
        _transition(
            actor=actor,
            revision=revision,
            to=PolicyRevision.State.DRAFT,
            fields=["rejection_reason", "approved_by", "approved_at"],
            detail={"reason": reason[:500]},
        )
    return revision


def revision_publish(*, actor: User | None, revision_id: int) -> PolicyRevision:
    """Publish an approved revision: hash, PDF snapshot, current revision,
    the previous one retired, the review clock restarted."""
    now = clock.now()
    with transaction.atomic():
        revision = _revision_locked(revision_id)
        if revision.state != PolicyRevision.State.APPROVED or revision.approved_by_id is None:
            raise PolicyError("Only an approved revision can be published.")
        if revision.approved_by_id == revision.author_id:  # kept true by revision_approve; checked again
            raise PolicyError("The revision was not approved by a second person.")
        document = PolicyDocument.objects.select_for_update().get(pk=revision.document_id)
        if document.retired_at is not None:
            raise PolicyError("The document is retired.")
        content = text.content_sha256(code=document.code, number=revision.number, body=revision.body)
        snapshot = pdf.revision_pdf(revision=revision, published_at=now, content_sha256=content)
        previous = document.current_revision_id
        if previous is not None:
            PolicyRevision.objects.filter(pk=previous).update(
                state=PolicyRevision.State.RETIRED, retired_at=now, updated_at=now
            )
            _event(
                Action.UPDATE,
                actor,
                REVISION,
                previous,
                fields=["state", "retired_at"],
                detail={"document_id": document.pk, "to": "retired", "superseded_by": revision.pk},
            )
        revision.published_by = actor
        revision.published_at = now
        revision.content_sha256 = content
        revision.pdf = snapshot
        revision.pdf_sha256 = hashlib.sha256(snapshot).hexdigest()
        _transition(
            actor=actor,
            revision=revision,
            to=PolicyRevision.State.PUBLISHED,
            fields=["published_by", "published_at", "content_sha256", "pdf", "pdf_sha256"],
            detail={"content_sha256": content, "pdf_sha256": revision.pdf_sha256},
        )
        document.current_revision = revision
        document.last_reviewed_at = now
        document.updated_at = now
        document.save(update_fields=["current_revision", "last_reviewed_at", "updated_at"])
    return revision


def document_review_record(*, actor: User, document_id: int, note: str) -> PolicyDocument:
    """The annual review found the current revision still right: the clock restarts."""
    note = note.strip()
    if not note:
        raise PolicyError("Say what the review found.")
    with transaction.atomic():
        document = PolicyDocument.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            raise PolicyError("No such document.")
        if document.current_revision_id is None or document.retired_at is not None:
            raise PolicyError("Only a document with a published revision can be reviewed.")
        now = clock.now()
        document.last_reviewed_at, document.updated_at = now, now
        document.save(update_fields=["last_reviewed_at", "updated_at"])
        _event(
            Action.UPDATE,
            actor,
            DOCUMENT,
            document.pk,
            fields=["last_reviewed_at"],
            detail={"reviewed": True, "note": note[:500], "revision_id": document.current_revision_id},
        )
    return document


def document_retire(*, actor: User, document_id: int) -> PolicyDocument:
    """The document is withdrawn: its current revision is retired, nobody must acknowledge it."""
    with transaction.atomic():
        document = PolicyDocument.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            raise PolicyError("No such document.")
        if document.retired_at is not None:
            raise PolicyError("The document is already retired.")
        if document.revisions.filter(
            state__in=[PolicyRevision.State.IN_REVIEW, PolicyRevision.State.APPROVED]
        ).exists():
            raise PolicyError("A revision is in review: approve, publish or send it back first.")
        now = clock.now()
        PolicyRevision.objects.filter(document=document, state=PolicyRevision.State.PUBLISHED).update(
            state=PolicyRevision.State.RETIRED, retired_at=now, updated_at=now
        )
        document.retired_at, document.updated_at = now, now
        document.save(update_fields=["retired_at", "updated_at"])
        _event(
            Action.UPDATE,
            actor,
            DOCUMENT,
            document.pk,
            fields=["retired_at"],
            detail={"retired": True, "revision_id": document.current_revision_id},
        )
    return document


def campaign_create(
    *,
    actor: User,
    document_id: int,
    name: str,
    roles: Iterable[str],
    positions: Iterable[str],
    due_at: dt.datetime,
) -> AcknowledgementCampaign:
    """Ask the holders of `roles` and the people in `positions` to
    acknowledge the document's current revision by `due_at`."""
    roles, positions = sorted(set(roles)), sorted(set(positions))
    if not roles and not positions:
        raise PolicyError("Choose at least one role or position.")
    now = clock.now()
    if due_at <= now:
        raise PolicyError("The due date must be in the future.")
    with transaction.atomic():
        document = PolicyDocument.objects.filter(pk=document_id).first()
        if document is None:
            raise PolicyError("No such document.")
        if document.current_revision_id is None or document.retired_at is not None:
            raise PolicyError("The document has no published revision to acknowledge.")
        campaign = AcknowledgementCampaign.objects.create(
            revision_id=document.current_revision_id,
            name=name.strip()[:200] or f"{document.title}: acknowledgement",
            roles=roles,
            positions=positions,
            due_at=due_at,
            created_by=actor,
            created_at=now,
        )
        _event(
            Action.CREATE,
            actor,
            CAMPAIGN,
            campaign.pk,
            fields=["revision", "roles", "positions", "due_at"],
            detail={
                "document_id": document.pk,
                "revision_id": campaign.revision_id,
                "roles": roles,
                "positions": positions,
                "due_at": due_at.isoformat(),
            },
        )
    return campaign


def acknowledgement_record(*, actor: User, revision_id: int) -> Acknowledgement:
    """`actor` has read and understood the revision, which must be the
    document's current one. Restores at once what the gate had removed."""
    with transaction.atomic():
        revision = PolicyRevision.objects.select_related("document").filter(pk=revision_id).first()
        if revision is None or revision.state != PolicyRevision.State.PUBLISHED:
            raise PolicyError("This revision is not in force: acknowledge the current one.")
        if revision.document.current_revision_id != revision.pk or revision.document.retired_at is not None:
            raise PolicyError("This revision is not in force: acknowledge the current one.")
        if Acknowledgement.objects.filter(revision=revision, user=actor).exists():
            raise PolicyError("You have already acknowledged this revision.")
        acknowledgement = Acknowledgement.objects.create(
            revision=revision,
            user=actor,
            acknowledged_at=clock.now(),
            content_sha256=revision.content_sha256,
        )
        _event(
            Action.CREATE,
            actor,
            ACKNOWLEDGEMENT,
            acknowledgement.pk,
            detail={
                "document_id": revision.document_id,
                "revision_id": revision.pk,
                "content_sha256": revision.content_sha256,
                "statement": "I have read and understood",
            },
        )
    gate.forget_state(actor)
    return acknowledgement


def snapshot_download_record(*, actor: User, revision_id: int, verified: bool) -> None:
    """The PDF was handed out (or refused because its hash no longer matches)."""
    from safeward.audit.vocabulary import Outcome

    with transaction.atomic():
        audit_record(
            action=Action.EXPORT if verified else Action.AUDIT_VERIFY,
            outcome=Outcome.SUCCESS if verified else Outcome.ERROR,
            actor=actor,
            resource_type=REVISION,
            resource_id=revision_id,
            purpose=PurposeOfUse.OPERATIONS,
            detail={"snapshot": "pdf", "verified": verified},
        )


def policies_sweep_overdue(*, now: dt.datetime | None = None) -> int:
    """One event per document whose review is overdue (the detection rule
    `policy_review_overdue` raises one alert per document, naming its owner;
    the daily repeats join it). Returns how many are overdue."""
    from safeward.policies.selectors import documents_review_overdue

    overdue = documents_review_overdue(now=now)
    with transaction.atomic():
        for document in overdue:
            due = document.next_review_due
            _event(
                Action.EXECUTE,
                None,
                DOCUMENT,
                document.pk,
                actor_username="safeward policies overdue --sweep",
                detail={
                    "check": POLICY_OVERDUE_CHECK,
                    "owner_id": document.owner_id,
                    "owner_username": document.owner.username,
                    "due": due.date().isoformat() if due else "",
                },
            )
    return len(overdue)
