"""Workforce reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Max, Min, Q, QuerySet

from safeward import clock
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.workforce.models import (
    AgreementDocument,
    AgreementSignature,
    Person,
    Position,
    RecoveryItem,
    ReviewCampaign,
    ReviewItem,
    Termination,
    TrainingAssignment,
    TrainingCompletion,
    TrainingCourse,
)


@dataclass(frozen=True)
class Gate:
    key: str
    label: str
    passed: bool


def agreement_current() -> AgreementDocument | None:
    return (
        AgreementDocument.objects.filter(published_at__lte=clock.now())
        .order_by("-published_at", "-pk")
        .first()
    )


def agreement_versions() -> QuerySet[AgreementDocument]:
    """Every published version, newest first, with how many signed each."""
    return AgreementDocument.objects.annotate(signed=Count("signatures")).order_by("-published_at", "-pk")


def person_signature_current(*, person: Person) -> AgreementSignature | None:
    current = agreement_current()
    if current is None:
        return None
    return (
        AgreementSignature.objects.filter(person=person, document=current, document_sha256=current.sha256)
        .order_by("-signed_at")
        .first()
    )


def onboarding_gates(*, person: Person) -> list[Gate]:
    """Every gate the account must pass before it is activated: the current
    confidentiality agreement signed, each onboarding course completed."""
    current = agreement_current()
    gates = [
        Gate(
            "agreement",
            f"sign the confidentiality agreement v{current.version}"
            if current
            else "sign the confidentiality agreement (none is published yet)",
            current is not None and person_signature_current(person=person) is not None,
        )
    ]
    done = set(TrainingCompletion.objects.filter(person=person).values_list("course_id", flat=True))
    for course in TrainingCourse.objects.filter(required_for_onboarding=True).order_by("title"):
        gates.append(
            Gate(f"training:{course.code}", f"complete the training {course.title}", course.pk in done)
        )
    return gates


def training_course_by_code(*, code: str) -> TrainingCourse | None:
    return TrainingCourse.objects.filter(code=code).first()


def training_courses_for_onboarding() -> QuerySet[TrainingCourse]:
    return TrainingCourse.objects.filter(required_for_onboarding=True).order_by("title")


def people_list(*, query: str = "", status: str = "") -> QuerySet[Person]:
    now = clock.now()
    people = Person.objects.select_related("position", "department", "manager", "user").annotate(
        overdue=Count(
            "training_assignments",
            filter=Q(training_assignments__completed_at__isnull=True, training_assignments__due_at__lt=now),
        ),
    )
    if query:
        people = people.filter(
            Q(last_name__icontains=query) | Q(first_name__icontains=query) | Q(employee_number__iexact=query)
        )
    if status:
        people = people.filter(status=status)
    return people.order_by("last_name", "first_name")


def person_by_employee_number(*, employee_number: str) -> Person | None:
    return (
        Person.objects.select_related("position", "department", "manager", "user")
        .filter(employee_number=employee_number)
        .first()
    )


def person_training(*, person: Person) -> QuerySet[TrainingAssignment]:
    return TrainingAssignment.objects.filter(person=person).select_related("course").order_by("-due_at")


def training_overdue(*, now: dt.datetime | None = None) -> QuerySet[Person]:
    now = now or clock.now()
    return (
        Person.objects.filter(status=Person.Status.ACTIVE)
        .annotate(
            overdue_since=Min(
                "training_assignments__due_at",
                filter=Q(
                    training_assignments__completed_at__isnull=True, training_assignments__due_at__lt=now
                ),
            )
        )
        .filter(overdue_since__isnull=False)
        .order_by("overdue_since")
    )


def terminations_upcoming() -> QuerySet[Termination]:
    return (
        Termination.objects.filter(status=Termination.Status.SCHEDULED)
        .select_related("person")
        .order_by("effective_at")
    )


def terminations_recent(*, limit: int = 20) -> list[Termination]:
    return list(
        Termination.objects.filter(status=Termination.Status.APPLIED)
        .select_related("person")
        .order_by("-applied_at")[:limit]
    )


def recovery_items_open() -> QuerySet[RecoveryItem]:
    """Badges and devices to get back from leavers; facilities and the asset
    register read this list."""
    return RecoveryItem.objects.filter(status=RecoveryItem.Status.OPEN).select_related("termination__person")


def review_campaigns() -> QuerySet[ReviewCampaign]:
    return ReviewCampaign.objects.annotate(
        total=Count("items"),
        pending=Count("items", filter=Q(items__decision=ReviewItem.Decision.PENDING)),
        escalated=Count("items", filter=Q(items__escalation_level__gt=0)),
    ).order_by("-created_at")


def review_items_for(*, user: User) -> QuerySet[ReviewItem]:
    """The pending items this person may decide: their own queue, plus the
    HR queue for those who manage workforce records. Never their own roles."""
    queue = Q(reviewer=user)
    if user.has_perm(Perm.WORKFORCE_PERSON_MANAGE):
        queue |= Q(reviewer__isnull=True)
    return (
        ReviewItem.objects.filter(queue, decision=ReviewItem.Decision.PENDING)
        .exclude(person__user=user)
        .select_related("person", "campaign")
        .order_by("due_at", "person__last_name", "role_code")
    )


def review_report(*, campaign: ReviewCampaign) -> QuerySet[ReviewItem]:
    """For auditors: every item, who decided it, when, after how many escalations."""
    return (
        ReviewItem.objects.filter(campaign=campaign)
        .select_related("person", "reviewer", "first_reviewer", "decided_by")
        .order_by("person__last_name", "person__first_name", "role_code")
    )


def accounts_without_person() -> QuerySet[User]:
    """Accounts no workforce record governs (bootstrap and service accounts)."""
    return User.objects.filter(workforce_person__isnull=True, is_active=True).order_by("username")


def person_for_user(*, user: User) -> Person | None:
    return Person.objects.filter(user=user).first()


# --- Reads for the control tests (issue 18, workforce/controls.py; ADR 0920).
# Grouped statements over indexed columns, never one per person.


@dataclass(frozen=True)
class TrainingStanding:
    person_id: int
    employee_number: str
    username: str
    overdue_since: dt.datetime | None  # the oldest due date passed without completion
    overdue: int  # assignments past due and not completed


def training_standing(*, now: dt.datetime) -> list[TrainingStanding]:
    """Every active person with their overdue training, in one grouped statement."""
    overdue = Q(training_assignments__completed_at__isnull=True, training_assignments__due_at__lt=now)
    return [
        TrainingStanding(pk, number, username or "", since, count)
        for pk, number, username, since, count in Person.objects.filter(status=Person.Status.ACTIVE)
        .annotate(
            overdue_since=Min("training_assignments__due_at", filter=overdue),
            overdue=Count("training_assignments", filter=overdue),
        )
        .order_by("pk")
        .values_list("pk", "employee_number", "user__username", "overdue_since", "overdue")
    ]


@dataclass(frozen=True)
class ReviewStanding:
    person_id: int
    employee_number: str
    user_id: int
    username: str
    activated_at: dt.datetime | None
    last_decided_at: dt.datetime | None  # the newest decided review item of the person
    overdue: int  # pending items past their due time
    oldest_overdue_due_at: dt.datetime | None


def review_standing(*, user_ids: set[int], now: dt.datetime) -> list[ReviewStanding]:
    """Active people whose accounts are among `user_ids` (those holding
    roles), with their access-review history: two grouped statements."""
    people = list(
        Person.objects.filter(status=Person.Status.ACTIVE, user__isnull=False)
        .order_by("pk")
        .values_list("pk", "employee_number", "user_id", "user__username", "activated_at")
    )
    people = [row for row in people if row[2] in user_ids]
    pending = Q(decision=ReviewItem.Decision.PENDING)
    late = pending & Q(due_at__lt=now)
    history: dict[int, tuple[dt.datetime | None, int, dt.datetime | None]] = {}
    ids = [row[0] for row in people]
    for start in range(0, len(ids), 500):
        for person_id, decided, overdue, oldest in (
            ReviewItem.objects.filter(person_id__in=ids[start : start + 500])
            .values("person_id")
            .annotate(
                decided=Max("decided_at", filter=~pending),
                overdue=Count("pk", filter=late),
                oldest=Min("due_at", filter=late),
            )
            .values_list("person_id", "decided", "overdue", "oldest")
        ):
            history[person_id] = (decided, overdue, oldest)
    return [
        ReviewStanding(pk, number, user_id, username, activated, *history.get(pk, (None, 0, None)))
        for pk, number, user_id, username, activated in people
    ]


@dataclass(frozen=True)
class Leaver:
    person_id: int
    employee_number: str
    user_id: int
    status: str
    access_ends_at: dt.datetime | None
    terminated_at: dt.datetime | None

    @property
    def ended_at(self) -> dt.datetime | None:
        """The moment access ended: the planned end, else the applied termination."""
        return self.access_ends_at or self.terminated_at


def leavers_with_accounts(*, now: dt.datetime) -> list[Leaver]:
    """People with an account whose access has ended: terminated, or the
    end moment passed (termination not applied yet)."""
    return [
        Leaver(*row)
        for row in Person.objects.filter(user__isnull=False)
        .filter(Q(status=Person.Status.TERMINATED) | Q(access_ends_at__lte=now))
        .order_by("pk")
        .values_list("pk", "employee_number", "user_id", "status", "access_ends_at", "terminated_at")
    ]


def active_accounts_people() -> list[tuple[int, str, int | None]]:
    """(user id, username, person id or None) of every active account."""
    return list(
        User.objects.filter(is_active=True)
        .order_by("pk")
        .values_list("pk", "username", "workforce_person__pk")
    )


def position_choices() -> list[tuple[str, str]]:
    """(code, title) of every position, by title, for pickers (the policy library)."""
    return list(Position.objects.order_by("title").values_list("code", "title"))


def person_position_code_sql(*, user_column: str) -> str:
    """A SQL subquery for the position code of the person behind the account
    in `user_column` (for the policy acknowledgement gate's one statement per
    request, which correlates it): workforce keeps the knowledge of its tables."""
    person, position = Person._meta.db_table, Position._meta.db_table
    return (
        f"SELECT wpos.code FROM {person} wp JOIN {position} wpos ON wpos.id = wp.position_id"  # noqa: S608 - table names from model metadata and a column of the caller's statement
        f" WHERE wp.user_id = {user_column}"
    )


def person_position_roles(*, user_id: int) -> list[str]:
    """The default role codes of the position of the person behind an account."""
    found = (
        Person.objects.filter(user_id=user_id, position__isnull=False)
        .values_list("position__default_roles", flat=True)
        .first()
    )
    return [str(code) for code in found] if isinstance(found, list) else []


@dataclass(frozen=True)
class PersonBrief:
    """What other apps (facilities) need to know of a person: no HR detail."""

    person_id: int
    user_id: int | None
    name: str
    status: str
    position_code: str


def people_brief(*, person_ids: Iterable[int]) -> dict[int, PersonBrief]:
    rows = Person.objects.filter(pk__in=list(person_ids)).values_list(
        "pk", "user_id", "first_name", "last_name", "status", "position__code"
    )
    return {
        pk: PersonBrief(pk, user_id, f"{first} {last}", status, position or "")
        for pk, user_id, first, last, status, position in rows
    }
