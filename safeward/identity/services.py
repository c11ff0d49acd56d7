"""Writes about accounts, roles, sessions, zones and departments. Each service takes the
acting user, checks what it must, changes state and records its audit event
in one transaction."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.crypto import get_random_string

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.identity.errors import InvalidState, NotPermitted, SeparationOfDuties
from safeward.identity.models import (
    DRILL_USERNAME_PREFIX,
    Department,
    NetworkZone,
    Role,
    RoleAssignment,
    SingleSessionRole,
    StaffProfile,
    User,
    UserSession,
)
from safeward.identity.network import zone_table
from safeward.identity.permissions import Perm
from safeward.identity.selectors import single_session_role_codes, user_permissions_forget, user_role_codes


def _require(actor: User | None, perm: Perm) -> None:
    """`actor=None` is the command line run by the operator at the server (bootstrap)."""
    if actor is not None and not actor.has_perm(perm):
        raise NotPermitted(f"{perm} is required")


def _forget_cached_permissions(user: User) -> None:
    user_permissions_forget(user=user)


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    department: Department | None = None,
    job_title: str = "",
    password: str | None = None,
    drill: bool = False,
) -> User:
    """A new account. Without a password it gets an unusable one and is set up
    by an administrator's reset; MFA enrolment is forced at first login.

    Usernames starting with `drill.` are reserved for attack-drill accounts
    (`drill=True`, made only by the drill tooling): detection hides alerts
    about drill accounts from the queues, so a real account must never carry
    the prefix."""
    _require(actor, Perm.IDENTITY_USER_MANAGE)
    if username.lower().startswith(DRILL_USERNAME_PREFIX) != drill:
        message = (
            f"Drill accounts' usernames start with '{DRILL_USERNAME_PREFIX}'."
            if drill
            else f"Usernames starting with '{DRILL_USERNAME_PREFIX}' are reserved for attack drills."
        )
        raise ValidationError({"username": message})
    user = User(username=username, first_name=first_name, last_name=last_name, email=email)
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    StaffProfile.objects.create(user=user, department=department, job_title=job_title)
    audit_record(
        action=Action.ACCOUNT_CREATE,
        actor=actor,
        resource_type="User",
        resource_id=user.pk,
        fields=["username", "first_name", "last_name", "email", "department", "job_title"],
    )
    return user


@transaction.atomic
def user_set_password(
    *, actor: User | None, user: User, password: str, keep_session_id: str | None = None
) -> None:
    """A new password ends the account's other sessions (whoever knew the old
    password may hold one); the session that changed it (the `UserSession`
    with id `keep_session_id`) goes on."""
    if actor is not None and actor.pk != user.pk:
        _require(actor, Perm.IDENTITY_USER_MANAGE)
    _password_store(
        actor=actor,
        user=user,
        password=password,
        keep_session_id=keep_session_id,
        detail={"by_self": actor is not None and actor.pk == user.pk},
    )


@transaction.atomic
def user_password_reset(*, user: User, password: str) -> None:
    """A new password set through the e-mailed reset link: whoever holds the
    link acts as the account, so the event names the account as its actor."""
    _password_store(
        actor=user,
        user=user,
        password=password,
        keep_session_id=None,
        detail={"by_self": True, "via": "reset_link"},
    )


def _password_store(
    *, actor: User | None, user: User, password: str, keep_session_id: str | None, detail: dict[str, object]
) -> None:
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    others = UserSession.objects.select_for_update().filter(user=user, ended_at__isnull=True)
    if keep_session_id:
        others = others.exclude(pk=keep_session_id)
    ended = _sessions_end_recorded(list(others), actor=actor, user=user, reason="password_changed")
    audit_record(
        action=Action.PASSWORD_CHANGE,
        actor=actor,
        resource_type="User",
        resource_id=user.pk,
        detail={**detail, "sessions_ended": ended},
    )


@transaction.atomic
def role_request(*, actor: User | None, user: User, role: Role, reason: str = "") -> RoleAssignment:
    """Grant a role. Ordinary roles take effect at once; privileged roles stay
    pending until a second authorised person approves them. Nobody grants a
    role to themselves."""
    _require(actor, Perm.IDENTITY_ROLE_REQUEST)
    if actor is not None and actor.pk == user.pk:
        raise SeparationOfDuties("Nobody can grant a role to themselves.")
    if (
        RoleAssignment.objects.select_for_update()
        .filter(
            user=user, role=role, status__in=[RoleAssignment.Status.PENDING, RoleAssignment.Status.ACTIVE]
        )
        .exists()
    ):
        raise InvalidState(f"{user.username} already has or awaits the role {role.name}.")
    now = clock.now()
    # The command line bootstraps the first administrators, so it approves too.
    pending = role.privileged and actor is not None
    assignment = RoleAssignment.objects.create(
        user=user,
        role=role,
        status=RoleAssignment.Status.PENDING if pending else RoleAssignment.Status.ACTIVE,
        reason=reason[:300],
        requested_by=actor,
        requested_at=now,
        decided_at=None if pending else now,
    )
    _forget_cached_permissions(user)
    audit_record(
        action=Action.ROLE_REQUEST if pending else Action.ROLE_GRANT,
        actor=actor,
        resource_type="RoleAssignment",
        resource_id=assignment.pk,
        reason=reason,
        detail={"user_id": user.pk, "role": role.code, "privileged": role.privileged},
    )
    return assignment


def _decide(*, actor: User, assignment: RoleAssignment) -> RoleAssignment:
    _require(actor, Perm.IDENTITY_ROLE_APPROVE)
    locked = RoleAssignment.objects.select_for_update().select_related("role", "user").get(pk=assignment.pk)
    if locked.status != RoleAssignment.Status.PENDING:
        raise InvalidState("This request has already been decided.")
    if actor.pk in {locked.user_id, locked.requested_by_id}:
        raise SeparationOfDuties(
            "A privileged role needs approval by someone other than the requester and the grantee."
        )
    return locked


@transaction.atomic
def role_approve(*, actor: User, assignment: RoleAssignment) -> RoleAssignment:
    locked = _decide(actor=actor, assignment=assignment)
    locked.status = RoleAssignment.Status.ACTIVE
    locked.decided_by = actor
    locked.decided_at = clock.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    _forget_cached_permissions(locked.user)
    audit_record(
        action=Action.ROLE_APPROVE,
        actor=actor,
        resource_type="RoleAssignment",
        resource_id=locked.pk,
        detail={"user_id": locked.user_id, "role": locked.role.code},
    )
    return locked


@transaction.atomic
def role_reject(*, actor: User, assignment: RoleAssignment, reason: str = "") -> RoleAssignment:
    locked = _decide(actor=actor, assignment=assignment)
    locked.status = RoleAssignment.Status.REJECTED
    locked.decided_by = actor
    locked.decided_at = clock.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        action=Action.ROLE_REJECT,
        actor=actor,
        resource_type="RoleAssignment",
        resource_id=locked.pk,
        reason=reason,
        detail={"user_id": locked.user_id, "role": locked.role.code},
    )
    return locked


@transaction.atomic
def role_revoke(*, actor: User | None, assignment: RoleAssignment, reason: str = "") -> RoleAssignment:
    _require(actor, Perm.IDENTITY_ROLE_REQUEST)
    locked = RoleAssignment.objects.select_for_update().select_related("role", "user").get(pk=assignment.pk)
    if locked.status not in {RoleAssignment.Status.ACTIVE, RoleAssignment.Status.PENDING}:
        raise InvalidState("Only an active or pending role can be revoked.")
    locked.status = RoleAssignment.Status.REVOKED
    locked.revoked_by = actor
    locked.revoked_at = clock.now()
    locked.save(update_fields=["status", "revoked_by", "revoked_at"])
    _forget_cached_permissions(locked.user)
    audit_record(
        action=Action.ROLE_REVOKE,
        actor=actor,
        resource_type="RoleAssignment",
        resource_id=locked.pk,
        reason=reason,
        detail={"user_id": locked.user_id, "role": locked.role.code},
    )
    return locked


def _end_sessions(sessions: Iterable[UserSession], reason: str) -> int:
    ended = 0
    now = clock.now()
    keys = []
    for user_session in sessions:
        user_session.ended_at = now
        user_session.end_reason = reason
        user_session.save(update_fields=["ended_at", "end_reason"])
        keys.append(user_session.session_key)
        ended += 1
    Session.objects.filter(session_key__in=keys).delete()
    return ended


@transaction.atomic
def session_start(
    *,
    user: User,
    session_key: str,
    client_ip: str | None,
    network_zone: str,
    user_agent: str,
    mfa_at_now: bool,
) -> UserSession:
    now = clock.now()
    user_session = UserSession.objects.create(
        user=user,
        session_key=session_key,
        created_at=now,
        last_seen_at=now,
        mfa_at=now if mfa_at_now else None,
        client_ip=client_ip,
        network_zone=network_zone,
        user_agent=user_agent[:300],
    )
    audit_record(
        action=Action.LOGIN,
        actor=user,
        resource_type="UserSession",
        resource_id=str(user_session.pk),
        detail={"mfa": mfa_at_now},
    )
    return user_session


@transaction.atomic
def sessions_supersede(*, user: User, keep: UserSession) -> int:
    """One session at a time for the roles the security officer chose
    (ADR 0009): a new sign-in ends the account's other open sessions. The
    newest sign-in wins, so a forgotten session at another workstation never
    keeps its owner out; the one who is pushed out learns at once."""
    if not set(user_role_codes(user=user)) & single_session_role_codes():
        return 0
    # The account row lock orders simultaneous sign-ins: each sees the other's session.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    older = list(UserSession.objects.filter(user=user, ended_at__isnull=True).exclude(pk=keep.pk))
    return _sessions_end_recorded(
        older, actor=user, user=user, reason="superseded", detail={"by_session": str(keep.pk)}
    )


def _sessions_end_recorded(
    sessions: list[UserSession],
    *,
    actor: User | None,
    user: User,
    reason: str,
    detail: dict[str, object] | None = None,
) -> int:
    """End `sessions` and record one `session_end` event each."""
    _end_sessions(sessions, reason)
    for user_session in sessions:
        audit_record(
            action=Action.SESSION_END,
            actor=actor,
            resource_type="UserSession",
            resource_id=str(user_session.pk),
            detail={"user_id": user.pk, "reason": reason, **(detail or {})},
        )
    return len(sessions)


@transaction.atomic
def single_session_roles_set(*, actor: User | None, role_codes: Iterable[str]) -> list[str]:
    """Choose the roles whose holders may have one session at a time."""
    _require(actor, Perm.SECURITY_CONFIG_MANAGE)
    wanted = sorted(set(role_codes))
    roles = {role.code: role for role in Role.objects.filter(code__in=wanted)}
    unknown = [code for code in wanted if code not in roles]
    if unknown:
        raise ValidationError(f"Unknown role(s): {', '.join(code[:40] for code in unknown)}.")
    before = sorted(single_session_role_codes())
    SingleSessionRole.objects.exclude(role__code__in=wanted).delete()
    now = clock.now()
    for code in wanted:
        SingleSessionRole.objects.get_or_create(role=roles[code], defaults={"set_by": actor, "set_at": now})
    audit_record(
        action=Action.CONFIG_CHANGE,
        actor=actor,
        resource_type="SessionPolicy",
        detail={"single_session_roles": wanted, "before": before},
    )
    return wanted


@transaction.atomic
def session_end(*, actor: User, user_session: UserSession, reason: str = "ended_by_user") -> None:
    """End one session: the owner may end their own; others need the revoke permission."""
    if actor.pk != user_session.user_id:
        _require(actor, Perm.IDENTITY_SESSION_REVOKE)
    if user_session.ended_at is not None:
        return
    _end_sessions([user_session], reason)
    audit_record(
        action=Action.SESSION_END,
        actor=actor,
        resource_type="UserSession",
        resource_id=str(user_session.pk),
        detail={"user_id": user_session.user_id, "reason": reason},
    )


@transaction.atomic
def session_expire(*, user_session: UserSession, reason: str) -> None:
    """The session guard found a session past its time or no longer valid."""
    if user_session.ended_at is not None:
        return
    _end_sessions([user_session], reason)
    audit_record(
        action=Action.SESSION_TIMEOUT if reason.startswith("timeout") else Action.SESSION_END,
        actor=user_session.user,
        resource_type="UserSession",
        resource_id=str(user_session.pk),
        detail={"reason": reason},
    )


@transaction.atomic
def user_sessions_end_all(*, actor: User | None, user: User, reason: str) -> int:
    """End every session of the account at once; effective on its next request
    because the session guard also compares against `sessions_valid_after`."""
    if actor is None or actor.pk != user.pk:
        _require(actor, Perm.IDENTITY_SESSION_REVOKE)
    User.objects.filter(pk=user.pk).update(sessions_valid_after=clock.now())
    ended = _end_sessions(
        UserSession.objects.select_for_update().filter(user=user, ended_at__isnull=True), reason
    )
    audit_record(
        action=Action.SESSION_END,
        actor=actor,
        resource_type="User",
        resource_id=user.pk,
        reason=reason,
        detail={"all_sessions": True, "ended": ended},
    )
    return ended


@transaction.atomic
def user_lock(*, actor: User | None, user: User, reason: str) -> None:
    _require(actor, Perm.IDENTITY_USER_MANAGE)
    if actor is not None and actor.pk == user.pk:
        raise SeparationOfDuties("You cannot lock your own account.")
    User.objects.filter(pk=user.pk).update(locked_at=clock.now(), lock_reason=reason[:200])
    audit_record(
        action=Action.ACCOUNT_LOCK, actor=actor, resource_type="User", resource_id=user.pk, reason=reason
    )
    user_sessions_end_all(actor=None, user=user, reason="account_locked")


@transaction.atomic
def user_unlock(*, actor: User | None, user: User) -> None:
    _require(actor, Perm.IDENTITY_USER_MANAGE)
    if actor is not None and actor.pk == user.pk:
        raise SeparationOfDuties("You cannot unlock your own account.")
    User.objects.filter(pk=user.pk).update(locked_at=None, lock_reason="")
    audit_record(action=Action.ACCOUNT_UNLOCK, actor=actor, resource_type="User", resource_id=user.pk)


@transaction.atomic
def zone_save(
    *, actor: User | None, name: str, cidrs: list[str], clinical: bool, description: str = ""
) -> NetworkZone:
    _require(actor, Perm.IDENTITY_ZONE_MANAGE)
    normalised = [str(ipaddress.ip_network(cidr.strip(), strict=False)) for cidr in cidrs if cidr.strip()]
    zone, created = NetworkZone.objects.update_or_create(
        name=name, defaults={"cidrs": normalised, "clinical": clinical, "description": description}
    )
    audit_record(
        action=Action.CONFIG_CHANGE,
        actor=actor,
        resource_type="NetworkZone",
        resource_id=zone.pk,
        detail={"zone": name, "cidrs": normalised, "clinical": clinical, "created": created},
    )
    transaction.on_commit(zone_table.clear)
    return zone


@transaction.atomic
def department_ensure(*, actor: User | None, code: str, name: str, actor_username: str = "") -> int:
    """The id of the department `code`, created with `name` when there is
    none. A creation is recorded in this transaction; finding the department
    records nothing. `actor=None` with `actor_username` is a system actor
    that has no account (the FHIR import, `system:fhir-import`); a user needs
    the permission that manages staff profiles, which name departments."""
    _require(actor, Perm.IDENTITY_USER_MANAGE)
    # get_or_create: a concurrent creation of the same code is found, not duplicated.
    department, created = Department.objects.get_or_create(code=code, defaults={"name": name})
    if created:
        audit_record(
            action=Action.CREATE,
            actor=actor,
            actor_username=actor_username,
            resource_type="Department",
            resource_id=department.pk,
            fields=["code", "name"],
            detail={"department": code, "name": name},
        )
    return department.pk


def random_password() -> str:
    """A strong one-time password for an administrator's reset."""
    return get_random_string(24)


# --- Account state driven by the workforce record (added for issue 7) -------


@transaction.atomic
def user_activate(*, actor: User | None, user: User, reason: str = "") -> None:
    """Enable a disabled account. The workforce app calls this only once the
    person's onboarding gates pass (safeward/workforce/services.py)."""
    _require(actor, Perm.IDENTITY_USER_MANAGE)
    if actor is not None and actor.pk == user.pk:
        raise SeparationOfDuties("You cannot activate your own account.")
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.is_active = True
    _forget_cached_permissions(user)
    audit_record(
        action=Action.ACCOUNT_UPDATE,
        actor=actor,
        resource_type="User",
        resource_id=user.pk,
        reason=reason,
        fields=["is_active"],
        detail={"is_active_before": False, "is_active_after": True},
    )


@transaction.atomic
def user_deactivate(*, actor: User | None, user: User, reason: str) -> int:
    """Disable an account and end every session it has; returns the number of
    sessions ended. The session guard refuses a disabled account on its next
    request, and allauth refuses it at login."""
    _require(actor, Perm.IDENTITY_USER_MANAGE)
    if actor is not None and actor.pk == user.pk:
        raise SeparationOfDuties("You cannot disable your own account.")
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    _forget_cached_permissions(user)
    audit_record(
        action=Action.ACCOUNT_UPDATE,
        actor=actor,
        resource_type="User",
        resource_id=user.pk,
        reason=reason,
        fields=["is_active"],
        detail={"is_active_before": True, "is_active_after": False},
    )
    return user_sessions_end_all(actor=None, user=user, reason="account_disabled")


@transaction.atomic
def user_credential_check_require(*, actor: User | None, user: User, reason: str) -> None:
    """Mark the account as governed by a registered credential check (a
    vendor's account, ADR 1210): from now on every request that presents it
    asks the check. Never cleared, so a binding can only make checks stricter."""
    if user.credential_checked:
        return
    User.objects.filter(pk=user.pk).update(credential_checked=True)
    user.credential_checked = True
    audit_record(
        action=Action.ACCOUNT_UPDATE,
        actor=actor,
        resource_type="User",
        resource_id=user.pk,
        reason=reason[:300],
        fields=["credential_checked"],
        detail={"credential_checked_before": False, "credential_checked_after": True},
    )


@transaction.atomic
def user_tokens_revoke(*, actor: User | None, user: User, reason: str) -> int:
    """Revoke every OAuth2 token and pending authorization code of the account
    (django-oauth-toolkit); returns how many tokens were revoked."""
    from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

    _require(actor, Perm.IDENTITY_SESSION_REVOKE)
    revoked = 0
    for refresh_token in get_refresh_token_model().objects.filter(user=user, revoked__isnull=True):
        refresh_token.revoke()  # also deletes its access token
        revoked += 1
    for access_token in get_access_token_model().objects.filter(user=user):
        access_token.revoke()
        revoked += 1
    get_grant_model().objects.filter(user=user).delete()
    audit_record(
        action=Action.SESSION_END,
        actor=actor,
        resource_type="User",
        resource_id=user.pk,
        reason=reason,
        detail={"oauth_revoked": revoked},
    )
    return revoked
