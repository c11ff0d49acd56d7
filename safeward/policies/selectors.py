"""Policy library reads: the library, a document with its revisions, the
review clock, campaign progress, acknowledgements, and the PDF snapshot's
verification."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from safeward import clock
from safeward.identity.models import User
from safeward.policies import text
from safeward.policies.models import (
    Acknowledgement,
    AcknowledgementCampaign,
    PolicyDocument,
    PolicyRequirement,
    PolicyRevision,
)


def documents_list(*, include_unpublished: bool) -> QuerySet[PolicyDocument]:
    documents = PolicyDocument.objects.select_related("owner", "current_revision").order_by("title")
    if not include_unpublished:
        documents = documents.filter(current_revision__isnull=False, retired_at__isnull=True)
    return documents


def document_get(*, document_id: int, include_unpublished: bool) -> PolicyDocument | None:
    return documents_list(include_unpublished=include_unpublished).filter(pk=document_id).first()


def document_by_code(*, code: str) -> PolicyDocument | None:
    return PolicyDocument.objects.select_related("owner", "current_revision").filter(code=code).first()


def document_requirements(*, document: PolicyDocument) -> tuple[list[str], list[str]]:
    """(role codes, position codes) the document is required for."""
    roles: list[str] = []
    positions: list[str] = []
    for kind, code in document.requirements.order_by("kind", "code").values_list("kind", "code"):
        (roles if kind == PolicyRequirement.Kind.ROLE else positions).append(code)
    return roles, positions


def document_revisions(*, document: PolicyDocument, include_unpublished: bool) -> QuerySet[PolicyRevision]:
    revisions = document.revisions.select_related("author", "approved_by", "published_by").defer("pdf")
    if not include_unpublished:
        revisions = revisions.filter(state__in=[PolicyRevision.State.PUBLISHED, PolicyRevision.State.RETIRED])
    return revisions.order_by("-number")


def revision_get(*, revision_id: int, include_unpublished: bool) -> PolicyRevision | None:
    revisions = PolicyRevision.objects.select_related(
        "document", "document__owner", "author", "approved_by", "published_by"
    ).defer("pdf")
    if not include_unpublished:
        revisions = revisions.filter(state__in=[PolicyRevision.State.PUBLISHED, PolicyRevision.State.RETIRED])
    return revisions.filter(pk=revision_id).first()


def revisions_in_review() -> QuerySet[PolicyRevision]:
    return (
        PolicyRevision.objects.filter(
            state__in=[PolicyRevision.State.IN_REVIEW, PolicyRevision.State.APPROVED]
        )
        .select_related("document", "author")
        .defer("pdf")
        .order_by("submitted_at")
    )


def documents_review_overdue(*, now: dt.datetime | None = None) -> list[PolicyDocument]:
    """Published documents past `last review + review period` (the review
    period is per document, so the comparison is made here, over the
    published documents only: a hospital has tens of them)."""
    now = now or clock.now()
    return [
        document
        for document in documents_list(include_unpublished=False)
        if document.next_review_due is not None and document.next_review_due < now
    ]


def documents_review_due_within(*, days: int, now: dt.datetime | None = None) -> list[PolicyDocument]:
    now = now or clock.now()
    horizon = now + dt.timedelta(days=days)
    return [
        document
        for document in documents_list(include_unpublished=False)
        if document.next_review_due is not None and document.next_review_due < horizon
    ]


def audience(*, roles: list[str], positions: list[str]) -> QuerySet[User]:
    """Active accounts holding an active role among `roles` or whose
    workforce position is among `positions`."""
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(role_assignments__status="active", role_assignments__role__code__in=roles)
            | Q(workforce_person__position__code__in=positions, workforce_person__status="active")
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


@dataclass(frozen=True)
class Progress:
    campaign: AcknowledgementCampaign
    acknowledged: list[tuple[User, dt.datetime]]
    outstanding: list[User]

    @property
    def total(self) -> int:
        return len(self.acknowledged) + len(self.outstanding)

    @property
    def percent(self) -> int:
        return round(100 * len(self.acknowledged) / self.total) if self.total else 100

    @property
    def current(self) -> bool:
        return self.campaign.revision.document.current_revision_id == self.campaign.revision_id


def campaigns_list() -> QuerySet[AcknowledgementCampaign]:
    return AcknowledgementCampaign.objects.select_related("revision__document", "created_by").defer(
        "revision__pdf"
    )


def campaign_get(*, campaign_id: int) -> AcknowledgementCampaign | None:
    return campaigns_list().filter(pk=campaign_id).first()


def campaign_progress(*, campaign: AcknowledgementCampaign) -> Progress:
    people = list(audience(roles=list(campaign.roles), positions=list(campaign.positions)))
    done = dict(
        Acknowledgement.objects.filter(
            revision_id=campaign.revision_id, user_id__in=[p.pk for p in people]
        ).values_list("user_id", "acknowledged_at")
    )
    return Progress(
        campaign=campaign,
        acknowledged=[(p, done[p.pk]) for p in people if p.pk in done],
        outstanding=[p for p in people if p.pk not in done],
    )


def campaigns_lagging(*, now: dt.datetime | None = None, limit: int = 10) -> list[Progress]:
    """Campaigns of current revisions with people still to acknowledge,
    the closest due date first."""
    now = now or clock.now()
    found = []
    for campaign in (
        campaigns_list()
        .filter(revision__state=PolicyRevision.State.PUBLISHED)
        .order_by("due_at")[: limit * 3]
    ):
        progress = campaign_progress(campaign=campaign)
        if progress.outstanding:
            found.append(progress)
    return found[:limit]


def acknowledgements_of(*, user: User) -> QuerySet[Acknowledgement]:
    return (
        Acknowledgement.objects.filter(user=user).select_related("revision__document").defer("revision__pdf")
    )


def acknowledgements_list(
    *, document_id: int | None = None, revision_id: int | None = None, username: str = ""
) -> QuerySet[Acknowledgement]:
    found = Acknowledgement.objects.select_related("revision__document", "user").defer("revision__pdf")
    if document_id is not None:
        found = found.filter(revision__document_id=document_id)
    if revision_id is not None:
        found = found.filter(revision_id=revision_id)
    if username:
        found = found.filter(user__username=username)
    return found.order_by("-acknowledged_at", "pk")


def acknowledgement_counts() -> dict[int, int]:
    """revision id -> how many people acknowledged it."""
    return dict(
        Acknowledgement.objects.values("revision_id").annotate(n=Count("pk")).values_list("revision_id", "n")
    )


def acknowledged_user_ids(*, revision_id: int, user_ids: list[int]) -> set[int]:
    return set(
        Acknowledgement.objects.filter(revision_id=revision_id, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )


def revisions_published() -> QuerySet[PolicyRevision]:
    return (
        PolicyRevision.objects.filter(state=PolicyRevision.State.PUBLISHED)
        .select_related("document", "author", "approved_by")
        .defer("pdf")
        .order_by("document__code")
    )


def has_acknowledged(*, user: User, revision_id: int) -> bool:
    return Acknowledgement.objects.filter(user=user, revision_id=revision_id).exists()


@dataclass(frozen=True)
class Snapshot:
    pdf: bytes
    verified: bool
    problem: str


def revision_snapshot_verify(*, revision_id: int) -> Snapshot | None:
    """The published revision's PDF, checked against its stored hash, and
    its text against the content hash (None: no snapshot)."""
    revision = (
        PolicyRevision.objects.select_related("document")
        .filter(pk=revision_id, pdf__isnull=False)
        .exclude(pdf_sha256="")
        .first()
    )
    if revision is None or revision.pdf is None:
        return None
    data = bytes(revision.pdf)
    if hashlib.sha256(data).hexdigest() != revision.pdf_sha256:
        return Snapshot(data, False, "The PDF snapshot no longer matches the hash recorded at publication.")
    content = text.content_sha256(code=revision.document.code, number=revision.number, body=revision.body)
    if content != revision.content_sha256:
        return Snapshot(
            data, False, "The revision's text no longer matches the hash recorded at publication."
        )
    return Snapshot(data, True, "")
