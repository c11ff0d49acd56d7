"""Assessment campaign reads: lists, a campaign's questions and progress,
per-clause scores, the year-over-year comparison, findings, and
`latest_maturity`, which the framework tables use for entries no control
test covers (ADR 0940)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from safeward import clock
from safeward.assessments.catalogs import catalog
from safeward.assessments.models import Campaign, Evidence, Finding, Question
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.identity.selectors import users_holding


def campaigns_list(*, framework: str = "", status: str = "") -> QuerySet[Campaign]:
    campaigns = Campaign.objects.select_related("assessor", "reviewer")
    if framework:
        campaigns = campaigns.filter(framework=framework)
    if status:
        campaigns = campaigns.filter(status=status)
    return campaigns.annotate(
        question_count=Count("questions", distinct=True),
        answered_count=Count("questions", filter=Q(questions__maturity__isnull=False), distinct=True),
    ).order_by("-year", "name")


def campaign_get(*, campaign_id: int) -> Campaign | None:
    return Campaign.objects.select_related("assessor", "reviewer").filter(pk=campaign_id).first()


def campaign_questions(*, campaign: Campaign) -> list[Question]:
    return list(
        campaign.questions.select_related("answered_by")
        .annotate(
            evidence_count=Count("evidence", distinct=True), finding_count=Count("findings", distinct=True)
        )
        .order_by("position")
    )


def question_get(*, question_id: int) -> Question | None:
    return (
        Question.objects.select_related("campaign", "campaign__assessor", "campaign__reviewer")
        .filter(pk=question_id)
        .first()
    )


def question_evidence(*, question: Question) -> QuerySet[Evidence]:
    """The files' metadata (their encrypted bytes are not loaded)."""
    return question.evidence.defer("content").select_related("uploaded_by").order_by("uploaded_at")


def evidence_get(*, evidence_id: str) -> Evidence | None:
    return (
        Evidence.objects.defer("content").select_related("question__campaign").filter(pk=evidence_id).first()
    )


@dataclass(frozen=True)
class Progress:
    total: int
    answered: int
    mean: float | None  # mean maturity of the answered questions

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 0


def campaign_progress(*, campaign: Campaign) -> Progress:
    values = list(campaign.questions.values_list("maturity", flat=True))
    answered = [value for value in values if value is not None]
    return Progress(len(values), len(answered), round(sum(answered) / len(answered), 2) if answered else None)


@dataclass(frozen=True)
class ClauseScore:
    clause_ref: str
    clause_title: str
    questions: int
    answered: int
    mean: float | None


def clause_scores(*, campaign: Campaign) -> list[ClauseScore]:
    groups: dict[str, list[int | None]] = defaultdict(list)
    titles: dict[str, str] = {}
    for clause_ref, clause_title, maturity in campaign.questions.order_by("position").values_list(
        "clause_ref", "clause_title", "maturity"
    ):
        groups[clause_ref].append(maturity)
        titles[clause_ref] = clause_title
    scores = []
    for clause_ref, values in groups.items():
        answered = [value for value in values if value is not None]
        mean = round(sum(answered) / len(answered), 2) if answered else None
        scores.append(ClauseScore(clause_ref, titles[clause_ref], len(values), len(answered), mean))
    return scores


def previous_campaign(*, campaign: Campaign) -> Campaign | None:
    """The same framework's latest signed-off campaign of an earlier year."""
    return (
        Campaign.objects.filter(
            framework=campaign.framework, status=Campaign.Status.SIGNED_OFF, year__lt=campaign.year
        )
        .order_by("-year", "-reviewer_signed_at")
        .first()
    )


@dataclass(frozen=True)
class Comparison:
    ref: str
    title: str
    previous: float | None
    current: float | None

    @property
    def delta(self) -> float | None:
        if self.previous is None or self.current is None:
            return None
        return round(self.current - self.previous, 2)


@dataclass(frozen=True)
class YearOverYear:
    campaign: Campaign
    previous: Campaign | None
    entries: list[Comparison]
    clauses: list[Comparison]


def year_over_year(*, campaign: Campaign) -> YearOverYear:
    previous = previous_campaign(campaign=campaign)
    before = {q.entry_ref: q.maturity for q in previous.questions.all()} if previous is not None else {}
    questions = list(campaign.questions.order_by("position"))
    entries = [Comparison(q.entry_ref, q.entry_title, before.get(q.entry_ref), q.maturity) for q in questions]
    previous_clauses = (
        {score.clause_ref: score.mean for score in clause_scores(campaign=previous)} if previous else {}
    )
    clauses = [
        Comparison(score.clause_ref, score.clause_title, previous_clauses.get(score.clause_ref), score.mean)
        for score in clause_scores(campaign=campaign)
    ]
    return YearOverYear(campaign, previous, entries, clauses)


def latest_maturity(framework_key: str) -> dict[str, int]:
    """entry ref -> maturity (0-3) from the latest signed-off campaign of the
    framework (by year, then signature); empty when there is none."""
    latest = (
        Campaign.objects.filter(framework=framework_key, status=Campaign.Status.SIGNED_OFF)
        .order_by("-year", "-reviewer_signed_at")
        .first()
    )
    if latest is None:
        return {}
    answered = latest.questions.filter(maturity__isnull=False).values_list("entry_ref", "maturity")
    return {ref: int(maturity) for ref, maturity in answered if maturity is not None}


def findings_list(
    *, status: str = "", campaign_id: int | None = None, overdue_on: dt.date | None = None
) -> QuerySet[Finding]:
    findings = Finding.objects.select_related("owner", "question", "campaign")
    if status:
        findings = findings.filter(status=status)
    if campaign_id is not None:
        findings = findings.filter(campaign_id=campaign_id)
    if overdue_on is not None:
        findings = findings.exclude(status=Finding.Status.CLOSED).filter(due_on__lt=overdue_on)
    return findings.order_by("due_on", "pk")


def findings_open() -> QuerySet[Finding]:
    return findings_list().exclude(status=Finding.Status.CLOSED)


def finding_get(*, finding_id: int) -> Finding | None:
    return Finding.objects.select_related("owner", "question", "campaign").filter(pk=finding_id).first()


def finding_exists(*, finding_id: int) -> bool:
    return Finding.objects.filter(pk=finding_id).exists()


def finding_choices() -> list[tuple[int, str]]:
    return [
        (finding.pk, f"#{finding.pk} {finding.title} ({finding.question.entry_ref})")
        for finding in Finding.objects.select_related("question").order_by("-pk")[:500]
    ]


def assessor_choices() -> QuerySet[User]:
    return users_holding(permission=Perm.ASSESSMENT_CAMPAIGN_MANAGE).order_by("username")


def reviewer_choices() -> QuerySet[User]:
    return users_holding(permission=Perm.ASSESSMENT_RESULT_READ).order_by("username")


def owner_choices() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("username")


def today() -> dt.date:
    return clock.now().date()


def latest_signed_off() -> Campaign | None:
    """The campaign signed off most recently, of any framework."""
    return (
        Campaign.objects.filter(status=Campaign.Status.SIGNED_OFF, reviewer_signed_at__isnull=False)
        .order_by("-reviewer_signed_at")
        .first()
    )


def maturity_every_framework() -> dict[str, int]:
    """`latest_maturity` of every catalogued framework, merged (entry refs carry
    their framework, so they cannot collide): the scoring's maturity source."""
    merged: dict[str, int] = {}
    for key in catalog().frameworks:
        merged.update(latest_maturity(key))
    return merged
