"""Workforce writes. Each service takes the acting user (None: the command
line or the worker), checks its workforce permission, changes state and
records its audit event in the same transaction.

Account changes go through `safeward.identity.services`. Role grants on a
position change are requested *as the HR officer* (so privileged roles stay
pending for a second approver and nobody grants themselves anything); the
account-level cut-offs of a termination (disable, end sessions, revoke OAuth
tokens, revoke roles) run as the system (`actor=None`), authorised by the
workforce permission checked here and attributed by this app's own audit
event in the same transaction.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.identity import services as identity_services
from safeward.identity.errors import InvalidState, NotPermitted, SeparationOfDuties
from safeward.identity.models import Department, Role, RoleAssignment, User
from safeward.identity.permissions import Perm
from safeward.identity.roles import BY_CODE
from safeward.workforce import extensions, policy, selectors
from safeward.workforce.models import (
    AgreementDocument,
    AgreementSignature,
    IssuedItem,
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

PERSON = "WorkforcePerson"


class OnboardingIncomplete(InvalidState):
    """The person has not passed every onboarding gate."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("Onboarding is not complete: " + "; ".join(missing) + ".")


def _require(actor: User | None, perm: Perm) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise NotPermitted(f"{perm} is required")


def _audit_person(
    *,
    actor: User | None,
    person: Person,
    event: str,
    action: Action = Action.UPDATE,
    outcome: Outcome = Outcome.SUCCESS,
    reason: str = "",
    fields: list[str] | None = None,
    **detail: str | int | bool | list[str] | None,
) -> None:
    audit_record(
        action=action,
        outcome=outcome,
        actor=actor,
        resource_type=PERSON,
        resource_id=person.pk,
        reason=reason,
        fields=fields or [],
        detail={"event": event, "user_id": person.user_id, **detail},
    )


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def end_of_last_day(end_date: dt.date) -> dt.datetime:
    """Access ends at midnight after the last working day, in the hospital's time zone."""
    zone = timezone.get_default_timezone()
    return dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time.min, tzinfo=zone)


# --- Positions --------------------------------------------------------------


def _check_role_codes(codes: list[str]) -> list[str]:
    unknown = sorted(set(codes) - set(BY_CODE))
    if unknown:
        raise InvalidState("Unknown role code(s): " + ", ".join(unknown))
    return sorted(set(codes))


@transaction.atomic
def position_save(*, actor: User | None, code: str, title: str, default_roles: list[str]) -> Position:
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    roles = _check_role_codes(default_roles)
    position, created = Position.objects.update_or_create(
        code=code, defaults={"title": title, "default_roles": roles}
    )
    audit_record(
        action=Action.CREATE if created else Action.UPDATE,
        actor=actor,
        resource_type="WorkforcePosition",
        resource_id=position.pk,
        detail={"position": code, "default_roles": roles},
    )
    return position


# --- People -----------------------------------------------------------------


@transaction.atomic
def person_create(
    *,
    actor: User | None,
    employee_number: str,
    first_name: str,
    last_name: str,
    start_date: dt.date,
    kind: str = Person.Kind.EMPLOYEE,
    department: Department | None = None,
    position: Position | None = None,
    manager: Person | None = None,
    end_date: dt.date | None = None,
) -> Person:
    """A new person in onboarding; the required onboarding courses are assigned at once."""
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    person = Person(
        employee_number=employee_number,
        first_name=first_name,
        last_name=last_name,
        kind=kind,
        department=department,
        position=position,
        manager=manager,
        start_date=start_date,
    )
    person.full_clean()
    person.save()
    _audit_person(
        actor=actor,
        person=person,
        event="person_create",
        action=Action.CREATE,
        fields=["employee_number", "name", "kind", "department", "position", "manager", "start_date"],
        position=position.code if position else None,
    )
    for course in TrainingCourse.objects.filter(required_for_onboarding=True):
        training_assign(actor=None, person=person, course=course)
    if end_date is not None:
        termination_schedule(
            actor=actor, person=person, effective_at=end_of_last_day(end_date), reason="end date"
        )
    return person


@transaction.atomic
def person_update(
    *,
    actor: User | None,
    person: Person,
    first_name: str | None = None,
    last_name: str | None = None,
    kind: str | None = None,
    department: Department | None = None,
    manager: Person | None = None,
    clear_manager: bool = False,
) -> Person:
    """Details that do not change access. Position changes go through
    `person_position_change`, end dates through `termination_schedule`."""
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = Person.objects.select_for_update().get(pk=person.pk)
    changed: list[str] = []
    for field, value in (
        ("first_name", first_name),
        ("last_name", last_name),
        ("kind", kind),
        ("department", department),
        ("manager", manager),
    ):
        if value is not None and getattr(locked, field) != value:
            setattr(locked, field, value)
            changed.append(field)
    if clear_manager and locked.manager_id is not None:
        locked.manager = None
        changed.append("manager")
    if locked.manager_id is not None and locked.manager_id == locked.pk:
        raise InvalidState("A person cannot be their own manager.")
    if changed:
        locked.full_clean()
        locked.save(update_fields=changed)
        _audit_person(actor=actor, person=locked, event="person_update", fields=changed)
    return locked


@transaction.atomic
def person_account_create(
    *, actor: User | None, person: Person, username: str, email: str = "", drill: bool = False
) -> User:
    """The person's account, created disabled: it is enabled by `person_activate`
    once the onboarding gates pass."""
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = Person.objects.select_for_update().get(pk=person.pk)
    if locked.user_id is not None:
        raise InvalidState("This person already has an account.")
    if locked.status == Person.Status.TERMINATED:
        raise InvalidState("A terminated person gets no account.")
    if User.objects.filter(username=username).exists():
        raise InvalidState("This username is taken.")
    user = identity_services.user_create(
        actor=None,
        username=username,
        first_name=locked.first_name,
        last_name=locked.last_name,
        email=email,
        department=locked.department,
        job_title=locked.position.title if locked.position else "",
        drill=drill,
    )
    identity_services.user_deactivate(actor=None, user=user, reason="onboarding: gates not yet passed")
    locked.user = user
    locked.save(update_fields=["user"])
    person.user = user
    _audit_person(actor=actor, person=locked, event="account_create", action=Action.CREATE)
    return user


@transaction.atomic
def person_account_link(*, actor: User | None, person: Person, user: User) -> Person:
    """Put an account that no workforce record governs yet (a bootstrap or
    demo account, `selectors.accounts_without_person`) under this person's
    record. From then on the record decides the account's access: until the
    person is activated, the account is refused."""
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = Person.objects.select_for_update().get(pk=person.pk)
    if locked.user_id is not None:
        raise InvalidState("This person already has an account.")
    if locked.status == Person.Status.TERMINATED:
        raise InvalidState("A terminated person gets no account.")
    if actor is not None and actor.pk == user.pk:
        raise SeparationOfDuties("You cannot link your own account.")
    if Person.objects.filter(user=user).exists():
        raise InvalidState("This account belongs to another person's record.")
    locked.user = user
    locked.save(update_fields=["user"])
    person.user = user
    policy.forget_state(user)
    _audit_person(actor=actor, person=locked, event="account_link")
    return locked


def person_activate(*, actor: User | None, person: Person) -> Person:
    """Pass the onboarding gates: enable the account and grant the position's
    roles. A refusal is audited (in its own transaction) and raised."""
    try:
        return _person_activate(actor=actor, person=person)
    except OnboardingIncomplete as refused:
        with transaction.atomic():
            _audit_person(
                actor=actor,
                person=person,
                event="activation_refused",
                outcome=Outcome.DENIED,
                missing=refused.missing,
            )
        raise


@transaction.atomic
def _person_activate(*, actor: User | None, person: Person) -> Person:
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = (
        Person.objects.select_for_update(of=("self",)).select_related("position", "user").get(pk=person.pk)
    )
    if locked.status != Person.Status.ONBOARDING:
        raise InvalidState("Only a person in onboarding can be activated.")
    if locked.user is None:
        raise InvalidState("Create the person's account first.")
    if actor is not None and actor.pk == locked.user_id:
        raise SeparationOfDuties("You cannot activate your own account.")
    missing = [gate.label for gate in selectors.onboarding_gates(person=locked) if not gate.passed]
    if missing:
        raise OnboardingIncomplete(missing)
    now = clock.now()
    locked.status = Person.Status.ACTIVE
    locked.activated_at = now
    locked.save(update_fields=["status", "activated_at"])
    if not locked.user.is_active:  # a linked account may be enabled already
        identity_services.user_activate(actor=None, user=locked.user, reason="onboarding gates passed")
    granted = _grant_roles(
        actor=actor, user=locked.user, codes=_position_roles(locked.position), reason="onboarding"
    )
    _audit_person(actor=actor, person=locked, event="account_activate", roles_granted=granted)
    policy.forget_state(locked.user)
    person.status, person.activated_at = locked.status, locked.activated_at
    return locked


def _position_roles(position: Position | None) -> list[str]:
    return sorted(position.default_roles) if position is not None else []


def _grant_roles(*, actor: User | None, user: User, codes: list[str], reason: str) -> list[str]:
    granted = []
    held = {assignment.role.code for assignment in _open_assignments(user)}
    for role in Role.objects.filter(code__in=codes).exclude(code__in=held).order_by("code"):
        identity_services.role_request(actor=actor, user=user, role=role, reason=reason)
        granted.append(role.code)
    return granted


def _open_assignments(user: User) -> list[RoleAssignment]:
    return list(
        RoleAssignment.objects.filter(
            user=user, status__in=[RoleAssignment.Status.ACTIVE, RoleAssignment.Status.PENDING]
        ).select_related("role")
    )


@transaction.atomic
def person_position_change(
    *, actor: User | None, person: Person, position: Position, reason: str = ""
) -> Person:
    """Move a person to a new position: every role not in the new position's
    mapping is revoked (none of the old is left behind), the missing ones are
    requested (privileged ones wait for a second approver). Audited with
    before and after."""
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = (
        Person.objects.select_for_update(of=("self",)).select_related("position", "user").get(pk=person.pk)
    )
    if locked.status == Person.Status.TERMINATED:
        raise InvalidState("A terminated person cannot change position.")
    before_position = locked.position.code if locked.position else None
    before_roles: list[str] = []
    revoked: list[str] = []
    granted: list[str] = []
    wanted = _position_roles(position)
    locked.position = position
    locked.save(update_fields=["position"])
    if locked.user is not None:
        open_assignments = _open_assignments(locked.user)
        before_roles = sorted(a.role.code for a in open_assignments)
        if locked.status == Person.Status.ACTIVE:
            for assignment in open_assignments:
                if assignment.role.code not in wanted:
                    identity_services.role_revoke(
                        actor=None, assignment=assignment, reason=f"position change to {position.code}"
                    )
                    revoked.append(assignment.role.code)
            granted = _grant_roles(
                actor=actor,
                user=locked.user,
                codes=[c for c in wanted if c not in before_roles],
                reason=f"position change to {position.code}",
            )
        policy.forget_state(locked.user)
    for _name, hook in sorted(extensions.person_change_hooks().items()):
        hook(person=locked, event="position_change", reason=f"position change to {position.code}")
    after_roles = sorted((set(before_roles) - set(revoked)) | set(granted))
    _audit_person(
        actor=actor,
        person=locked,
        event="position_change",
        reason=reason,
        fields=["position"],
        position_before=before_position,
        position_after=position.code,
        roles_before=before_roles,
        roles_after=after_roles,
        roles_revoked=sorted(revoked),
        roles_requested=granted,
    )
    person.position = position
    return locked


# --- Agreements -------------------------------------------------------------


def document_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@transaction.atomic
def agreement_publish(*, actor: User | None, version: str, title: str, body: str) -> AgreementDocument:
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    if AgreementDocument.objects.filter(version=version).exists():
        raise InvalidState("This version exists already; publish a new version instead.")
    document = AgreementDocument.objects.create(
        version=version, title=title, body=body, sha256=document_hash(body), published_at=clock.now()
    )
    audit_record(
        action=Action.CREATE,
        actor=actor,
        resource_type="WorkforceAgreement",
        resource_id=document.pk,
        detail={"version": version, "sha256": document.sha256},
    )
    return document


@transaction.atomic
def agreement_sign(
    *,
    actor: User | None,
    person: Person,
    document: AgreementDocument,
    signer_name: str,
) -> AgreementSignature:
    """Record an electronic signature of the current agreement. The person
    signs for themselves (method "self"), or HR records a signature given in
    person before the account exists (method "witnessed")."""
    if actor is not None and actor.pk == person.user_id:
        method = AgreementSignature.Method.SELF
    else:
        _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
        method = AgreementSignature.Method.WITNESSED
    current = selectors.agreement_current()
    if current is None or current.pk != document.pk:
        raise InvalidState("Only the current version of the agreement can be signed.")
    if document_hash(document.body) != document.sha256:
        raise InvalidState("The agreement text does not match its recorded hash; it cannot be signed.")
    signer_name = signer_name.strip()
    if not signer_name:
        raise InvalidState("The signer must type their name.")
    signature = AgreementSignature.objects.create(
        person=person,
        document=document,
        document_version=document.version,
        document_sha256=document.sha256,
        signer_name=signer_name[:160],
        signed_at=clock.now(),
        method=method,
        recorded_by=actor,
    )
    _audit_person(
        actor=actor,
        person=person,
        event="agreement_sign",
        action=Action.CREATE,
        version=document.version,
        sha256=document.sha256,
        method=str(method),
    )
    return signature


# --- Training ---------------------------------------------------------------


@transaction.atomic
def training_course_save(
    *,
    actor: User | None,
    code: str,
    title: str,
    description: str = "",
    required_for_onboarding: bool = False,
    days_to_complete: int = 30,
    refresher_months: int = 12,
) -> TrainingCourse:
    _require(actor, Perm.WORKFORCE_TRAINING_MANAGE)
    course, created = TrainingCourse.objects.update_or_create(
        code=code,
        defaults={
            "title": title,
            "description": description,
            "required_for_onboarding": required_for_onboarding,
            "days_to_complete": days_to_complete,
            "refresher_months": refresher_months,
        },
    )
    audit_record(
        action=Action.CREATE if created else Action.UPDATE,
        actor=actor,
        resource_type="WorkforceCourse",
        resource_id=course.pk,
        detail={"course": code, "required_for_onboarding": required_for_onboarding},
    )
    return course


@transaction.atomic
def training_assign(
    *,
    actor: User | None,
    person: Person,
    course: TrainingCourse,
    due_at: dt.datetime | None = None,
    refresher: bool = False,
) -> TrainingAssignment:
    _require(actor, Perm.WORKFORCE_TRAINING_MANAGE)
    existing = TrainingAssignment.objects.filter(
        person=person, course=course, completed_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    now = clock.now()
    assignment = TrainingAssignment.objects.create(
        person=person,
        course=course,
        assigned_at=now,
        due_at=due_at or now + dt.timedelta(days=course.days_to_complete),
        refresher=refresher,
    )
    _audit_person(
        actor=actor,
        person=person,
        event="training_assign",
        action=Action.CREATE,
        course=course.code,
        due=assignment.due_at.isoformat(),
        refresher=refresher,
    )
    return assignment


@transaction.atomic
def training_complete(
    *,
    actor: User | None,
    person: Person,
    course: TrainingCourse,
    completed_at: dt.datetime | None = None,
    source: str = "hr",
) -> TrainingCompletion:
    """Record a completion; closes the open assignment and, for courses with
    a refresher period, assigns the next refresher due that long after."""
    _require(actor, Perm.WORKFORCE_TRAINING_MANAGE)
    now = clock.now()
    completed_at = completed_at or now
    if completed_at > now:
        raise InvalidState("A completion cannot lie in the future.")
    assignment = (
        TrainingAssignment.objects.select_for_update()
        .filter(person=person, course=course, completed_at__isnull=True)
        .first()
    )
    if assignment is not None:
        assignment.completed_at = completed_at
        assignment.save(update_fields=["completed_at"])
    completion = TrainingCompletion.objects.create(
        person=person,
        course=course,
        assignment=assignment,
        completed_at=completed_at,
        recorded_by=actor,
        source=source[:40],
    )
    _audit_person(
        actor=actor,
        person=person,
        event="training_complete",
        action=Action.CREATE,
        course=course.code,
        source=source[:40],
    )
    if course.refresher_months:
        training_assign(
            actor=None,
            person=person,
            course=course,
            due_at=add_months(completed_at, course.refresher_months),
            refresher=True,
        )
    if person.user is not None:
        policy.forget_state(person.user)
    return completion


# --- Badges and devices -----------------------------------------------------


@transaction.atomic
def item_issue(
    *, actor: User | None, person: Person, kind: str, identifier: str, description: str = ""
) -> IssuedItem:
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    item = IssuedItem(
        person=person, kind=kind, identifier=identifier, description=description, issued_at=clock.now()
    )
    item.full_clean()
    item.save()
    _audit_person(actor=actor, person=person, event="item_issue", kind=kind, identifier=identifier)
    return item


@transaction.atomic
def recovery_item_close(*, actor: User | None, item: RecoveryItem, status: str) -> RecoveryItem:
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    if status not in {RecoveryItem.Status.RECOVERED, RecoveryItem.Status.LOST}:
        raise InvalidState("A recovery item closes as recovered or lost.")
    locked = RecoveryItem.objects.select_for_update().select_related("termination").get(pk=item.pk)
    if locked.status != RecoveryItem.Status.OPEN:
        raise InvalidState("This item is already closed.")
    now = clock.now()
    locked.status, locked.closed_at = status, now
    locked.save(update_fields=["status", "closed_at"])
    if locked.issued_item_id is not None:
        IssuedItem.objects.filter(pk=locked.issued_item_id, returned_at__isnull=True).update(returned_at=now)
    audit_record(
        action=Action.UPDATE,
        actor=actor,
        resource_type="WorkforceRecoveryItem",
        resource_id=locked.pk,
        detail={"status": status, "person_id": locked.termination.person_id},
    )
    return locked


# --- Termination ------------------------------------------------------------


@transaction.atomic
def termination_schedule(
    *, actor: User | None, person: Person, effective_at: dt.datetime, reason: str = ""
) -> Termination:
    """Plan the end of access. A moment now or in the past takes effect at once;
    a future one is applied by the worker (`safeward workforce apply-due`) and,
    should the worker be late, refused on the request path from that moment."""
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = Person.objects.select_for_update().get(pk=person.pk)
    if locked.status == Person.Status.TERMINATED:
        raise InvalidState("This person has already left.")
    if actor is not None and actor.pk == locked.user_id:
        raise SeparationOfDuties("You cannot terminate yourself.")
    now = clock.now()
    for previous in Termination.objects.select_for_update().filter(
        person=locked, status=Termination.Status.SCHEDULED
    ):
        previous.status = Termination.Status.CANCELLED
        previous.save(update_fields=["status"])
    termination = Termination.objects.create(
        person=locked, effective_at=effective_at, reason=reason[:300], requested_by=actor, requested_at=now
    )
    locked.access_ends_at = effective_at
    locked.end_date = timezone.localtime(effective_at - dt.timedelta(microseconds=1)).date()
    locked.save(update_fields=["access_ends_at", "end_date"])
    _audit_person(
        actor=actor,
        person=locked,
        event="termination_schedule",
        reason=reason,
        fields=["end_date"],
        effective_at=effective_at.isoformat(),
        immediate=effective_at <= now,
    )
    if effective_at <= now:
        termination_apply(actor=actor, termination=termination, via="immediate")
        termination.refresh_from_db()
    person.access_ends_at, person.end_date = locked.access_ends_at, locked.end_date
    return termination


@transaction.atomic
def termination_cancel(*, actor: User | None, termination: Termination, reason: str = "") -> Termination:
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = Termination.objects.select_for_update().select_related("person").get(pk=termination.pk)
    if locked.status != Termination.Status.SCHEDULED:
        raise InvalidState("Only a scheduled termination can be cancelled.")
    if locked.effective_at <= clock.now():
        raise InvalidState("This termination has already taken effect.")
    locked.status = Termination.Status.CANCELLED
    locked.save(update_fields=["status"])
    Person.objects.filter(pk=locked.person_id).update(access_ends_at=None, end_date=None)
    _audit_person(actor=actor, person=locked.person, event="termination_cancel", reason=reason)
    return locked


@dataclass(frozen=True)
class TerminationResult:
    sessions_ended: int
    tokens_revoked: int
    roles_revoked: list[str]
    cutoffs: dict[str, int]
    recovery_items: int


@transaction.atomic
def termination_apply(*, actor: User | None, termination: Termination, via: str) -> TerminationResult | None:
    """The moment of leaving: disable the account, end every session, revoke
    every OAuth token and role, run the registered cut-offs (break-glass),
    list badges and devices for recovery. Idempotent: a termination already
    applied is left alone (returns None)."""
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = Termination.objects.select_for_update().get(pk=termination.pk)
    if locked.status != Termination.Status.SCHEDULED:
        return None
    person = Person.objects.select_for_update(of=("self",)).select_related("user").get(pk=locked.person_id)
    now = clock.now()
    sessions_ended = tokens_revoked = 0
    roles_revoked: list[str] = []
    cutoffs: dict[str, int] = {}
    user = person.user
    reason = "termination"
    if user is not None:
        if user.is_active:
            sessions_ended = identity_services.user_deactivate(actor=None, user=user, reason=reason)
        else:
            sessions_ended = identity_services.user_sessions_end_all(
                actor=None, user=user, reason="account_disabled"
            )
        tokens_revoked = identity_services.user_tokens_revoke(actor=None, user=user, reason=reason)
        for assignment in _open_assignments(user):
            identity_services.role_revoke(actor=None, assignment=assignment, reason=reason)
            roles_revoked.append(assignment.role.code)
        for name, cutoff in sorted(extensions.termination_cutoffs().items()):
            cutoffs[name] = cutoff(user=user, reason=reason)
        policy.forget_state(user)
    hooks: dict[str, int] = {}
    for name, hook in sorted(extensions.person_change_hooks().items()):
        hooks[name] = hook(person=person, event="termination", reason=reason)
    recovery = 0
    for item in IssuedItem.objects.filter(person=person, returned_at__isnull=True):
        RecoveryItem.objects.create(
            termination=locked,
            issued_item=item,
            kind=item.kind,
            identifier=item.identifier,
            description=item.description,
        )
        recovery += 1
    for source_name, source in sorted(extensions.recovery_sources().items()):
        for line in source(person):
            RecoveryItem.objects.create(
                termination=locked,
                kind=line.kind[:10],
                identifier=line.identifier[:64],
                description=line.description[:160],
                source=source_name[:40],
            )
            recovery += 1
    locked.status = Termination.Status.APPLIED
    locked.applied_at = now
    locked.applied_via = via[:20]
    locked.sessions_ended = sessions_ended
    locked.tokens_revoked = tokens_revoked
    locked.save(update_fields=["status", "applied_at", "applied_via", "sessions_ended", "tokens_revoked"])
    person.status = Person.Status.TERMINATED
    person.terminated_at = now
    if person.access_ends_at is None or person.access_ends_at > now:
        person.access_ends_at = now
    person.save(update_fields=["status", "terminated_at", "access_ends_at"])
    _audit_person(
        actor=actor,
        person=person,
        event="termination_apply",
        reason=locked.reason,
        via=via,
        sessions_ended=sessions_ended,
        oauth_revoked=tokens_revoked,
        roles_revoked=sorted(roles_revoked),
        cutoffs=sorted(f"{name}:{count}" for name, count in cutoffs.items()),
        person_hooks=sorted(f"{name}:{count}" for name, count in hooks.items()),
        recovery_items=recovery,
    )
    return TerminationResult(sessions_ended, tokens_revoked, sorted(roles_revoked), cutoffs, recovery)


def terminations_apply_due() -> int:
    """The worker: apply every scheduled termination whose moment has come,
    each in its own transaction. Returns how many were applied."""
    applied = 0
    due = Termination.objects.filter(status=Termination.Status.SCHEDULED, effective_at__lte=clock.now())
    for termination in due.order_by("effective_at"):
        if termination_apply(actor=None, termination=termination, via="worker") is not None:
            applied += 1
    return applied


def termination_enforce_on_request(*, user: User) -> bool:
    """Called on the request path when the person's end moment has passed but
    the worker has not run yet: apply the termination now. Returns True if
    one was applied."""
    termination = (
        Termination.objects.filter(
            person__user=user, status=Termination.Status.SCHEDULED, effective_at__lte=clock.now()
        )
        .order_by("effective_at")
        .first()
    )
    if termination is None:
        return False
    return termination_apply(actor=None, termination=termination, via="request") is not None


@transaction.atomic
def access_after_termination_record(*, user: User, channel: str) -> None:
    """A terminated account tried to sign in or use a session: a LOGIN
    event, DENIED, with `detail.reason = "workforce_terminated"` — the event the
    detection rules alert on (docs/workforce.md)."""
    person_id = Person.objects.filter(user=user).values_list("pk", flat=True).first()
    audit_record(
        action=Action.LOGIN,
        outcome=Outcome.DENIED,
        actor=user,
        resource_type=PERSON,
        resource_id=person_id or "",
        detail={"reason": "workforce_terminated", "channel": channel},
    )


# --- Access reviews ---------------------------------------------------------


def _escalation_period() -> dt.timedelta:
    return dt.timedelta(days=settings.SAFEWARD_REVIEW_ESCALATION_DAYS)


@transaction.atomic
def review_campaign_create(*, actor: User | None, name: str, deadline: dt.datetime) -> ReviewCampaign:
    """One item per open role of every active person with an account; the
    reviewer is the person's manager (HR when the person has none)."""
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    now = clock.now()
    if deadline <= now:
        raise InvalidState("The deadline must lie in the future.")
    campaign = ReviewCampaign.objects.create(
        name=name[:120], created_by=actor, created_at=now, deadline=deadline
    )
    people = Person.objects.filter(status=Person.Status.ACTIVE, user__isnull=False).select_related(
        "manager__user"
    )
    items = 0
    for person in people:
        assert person.user_id is not None
        reviewer_id = person.manager.user_id if person.manager is not None else None
        if reviewer_id == person.user_id:
            reviewer_id = None
        for assignment in RoleAssignment.objects.filter(
            user_id=person.user_id, status=RoleAssignment.Status.ACTIVE
        ).select_related("role"):
            ReviewItem.objects.create(
                campaign=campaign,
                person=person,
                role_assignment=assignment,
                role_code=assignment.role.code,
                reviewer_id=reviewer_id,
                first_reviewer_id=reviewer_id,
                due_at=deadline,
            )
            items += 1
    audit_record(
        action=Action.CREATE,
        actor=actor,
        resource_type="WorkforceReviewCampaign",
        resource_id=campaign.pk,
        detail={"items": items, "deadline": deadline.isoformat()},
    )
    return campaign


def review_item_may_decide(*, actor: User, item: ReviewItem) -> bool:
    if item.decision != ReviewItem.Decision.PENDING or item.person.user_id == actor.pk:
        return False
    if item.reviewer_id is None:
        return actor.has_perm(Perm.WORKFORCE_PERSON_MANAGE)
    return item.reviewer_id == actor.pk


@transaction.atomic
def review_item_decide(*, actor: User, item: ReviewItem, decision: str, comment: str = "") -> ReviewItem:
    """The reviewer attests the role is still needed, or revokes it."""
    locked = ReviewItem.objects.select_for_update().select_related("person", "campaign").get(pk=item.pk)
    if locked.person.user_id == actor.pk:
        raise SeparationOfDuties("Nobody reviews their own access.")
    if locked.decision != ReviewItem.Decision.PENDING:
        raise InvalidState("This item has already been decided.")
    if not review_item_may_decide(actor=actor, item=locked):
        raise NotPermitted("You are not the reviewer of this item.")
    if decision not in {ReviewItem.Decision.ATTESTED, ReviewItem.Decision.REVOKED}:
        raise InvalidState("Attest or revoke.")
    if decision == ReviewItem.Decision.REVOKED:
        assignment = RoleAssignment.objects.get(pk=locked.role_assignment_id)
        if assignment.status in {RoleAssignment.Status.ACTIVE, RoleAssignment.Status.PENDING}:
            identity_services.role_revoke(
                actor=None, assignment=assignment, reason=f"access review: {locked.campaign.name}"[:300]
            )
    locked.decision = decision
    locked.decided_by = actor
    locked.decided_at = clock.now()
    locked.comment = comment[:300]
    locked.save(update_fields=["decision", "decided_by", "decided_at", "comment"])
    audit_record(
        action=Action.UPDATE,
        actor=actor,
        resource_type="WorkforceReviewItem",
        resource_id=locked.pk,
        reason=comment,
        detail={
            "event": "review_decide",
            "decision": decision,
            "role": locked.role_code,
            "person_id": locked.person_id,
            "escalation_level": locked.escalation_level,
        },
    )
    return locked


def _next_reviewer_id(item: ReviewItem) -> int | None:
    """Level 0 (manager) -> the manager's manager; otherwise HR (None)."""
    if item.escalation_level == 0 and item.person.manager is not None:
        grand = item.person.manager.manager
        if grand is not None and grand.user_id is not None and grand.user_id != item.person.user_id:
            return grand.user_id
    return None


def review_items_escalate_due() -> int:
    """Every pending item past its deadline moves up one level: manager ->
    manager's manager -> HR. HR items stay with HR (their lateness shows in the
    auditor report). Returns how many items escalated."""
    now = clock.now()
    escalated = 0
    due = ReviewItem.objects.filter(
        decision=ReviewItem.Decision.PENDING, due_at__lt=now, reviewer__isnull=False
    )
    for item_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            item = (
                ReviewItem.objects.select_for_update(of=("self",))
                .select_related("person__manager__manager")
                .get(pk=item_id)
            )
            if item.decision != ReviewItem.Decision.PENDING or item.reviewer_id is None:
                continue
            before = item.reviewer_id
            item.reviewer_id = _next_reviewer_id(item)
            item.escalation_level += 1
            item.escalated_at = now
            item.due_at = now + _escalation_period()
            item.save(update_fields=["reviewer", "escalation_level", "escalated_at", "due_at"])
            audit_record(
                action=Action.UPDATE,
                resource_type="WorkforceReviewItem",
                resource_id=item.pk,
                detail={
                    "event": "review_escalate",
                    "reviewer_before": before,
                    "reviewer_after": item.reviewer_id,
                    "to_hr": item.reviewer_id is None,
                    "escalation_level": item.escalation_level,
                },
            )
            escalated += 1
    return escalated


@transaction.atomic
def review_campaign_close(*, actor: User | None, campaign: ReviewCampaign) -> ReviewCampaign:
    _require(actor, Perm.WORKFORCE_PERSON_MANAGE)
    locked = ReviewCampaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.items.filter(decision=ReviewItem.Decision.PENDING).exists():
        raise InvalidState("Every item must be decided before the campaign closes.")
    locked.status = ReviewCampaign.Status.CLOSED
    locked.save(update_fields=["status"])
    audit_record(
        action=Action.UPDATE,
        actor=actor,
        resource_type="WorkforceReviewCampaign",
        resource_id=locked.pk,
        detail={"event": "review_campaign_close"},
    )
    return locked
