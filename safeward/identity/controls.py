"""Identity's control tests (issue 18; the contract is safeward/compliance.py,
what each proves and why these mappings: ADR 0920). Each reads live state
through identity's selectors, writes nothing, and names accounts by id and
username only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings

from safeward.compliance import Check, control
from safeward.identity import selectors
from safeward.identity.permissions import CLINICAL_SCOPE, Perm


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@control(
    "identity.mfa_on_active_accounts",
    title="MFA on every active account",
    maps=(
        "hipaa:164.312(d)",
        "hicp:3.M.C",
        "hicp:3.M.D",
        "iso27001-2022:A.8.5",
        "iso27001-2022:A.5.17",
        "csf2:PR.AA-03",
        "onc:170.315(d)(13)",
    ),
)
def mfa_on_active_accounts(now: dt.datetime) -> Iterator[Check]:
    """Every account that can sign in (active, not locked) has an
    authenticator app or a security key enrolled; recovery codes alone do not
    count. SafeWard asks for the second factor at every sign-in, so an
    account without one cannot finish signing in; the test shows which
    accounts are in that state."""
    for account in selectors.accounts_active_factors():
        yield Check(
            "account",
            str(account.user_id),
            account.username,
            passed=bool(account.factor_types),
            evidence={"second_factors": list(account.factor_types)},
        )


@control(
    "identity.sessions_time_out",
    title="Sessions time out (idle and absolute limits)",
    maps=(
        "hipaa:164.312(a)(2)(iii)",
        "onc:170.315(d)(5)",
        "iso27001-2022:A.8.5",
        "csf2:PR.AA-03",
        "hicp:3.M.C",
    ),
)
def sessions_time_out(now: dt.datetime) -> Iterator[Check]:
    """The configured idle time-out and absolute session lifetime are within
    the control's thresholds, and no session begun in the last
    SAFEWARD_CONTROL_LOOKBACK_DAYS and not ended served a request after its
    absolute lifetime (the session guard would have ended it: one that did
    shows the guard is not enforcing)."""
    idle = settings.SAFEWARD_SESSION_IDLE_MINUTES
    idle_max = settings.SAFEWARD_CONTROL_SESSION_IDLE_MAX_MINUTES
    absolute = settings.SAFEWARD_SESSION_ABSOLUTE_HOURS
    absolute_max = settings.SAFEWARD_CONTROL_SESSION_ABSOLUTE_MAX_HOURS
    yield Check(
        "setting",
        "SAFEWARD_SESSION_IDLE_MINUTES",
        "idle time-out",
        passed=idle <= idle_max,
        evidence={"configured_minutes": idle, "threshold_minutes": idle_max},
    )
    yield Check(
        "setting",
        "SAFEWARD_SESSION_ABSOLUTE_HOURS",
        "absolute session lifetime",
        passed=absolute <= absolute_max,
        evidence={"configured_hours": absolute, "threshold_hours": absolute_max},
    )
    lifetime = dt.timedelta(hours=absolute)
    since = now - dt.timedelta(days=settings.SAFEWARD_CONTROL_LOOKBACK_DAYS)
    past_lifetime = selectors.sessions_past_lifetime(lifetime=lifetime, since=since)
    names = selectors.usernames(user_ids=[span.user_id for span in past_lifetime])
    for span in past_lifetime:
        yield Check(
            "session",
            span.id,
            f"session of {names.get(span.user_id, span.user_id)}",
            passed=False,
            evidence={
                "user_id": span.user_id,
                "created_at": _iso(span.created_at),
                "last_seen_at": _iso(span.last_seen_at),
                "used_past_lifetime_seconds": int(
                    (span.last_seen_at - span.created_at - lifetime).total_seconds()
                ),
                "lifetime_hours": absolute,
            },
        )


def _it_administration() -> str:
    return str(Perm.IDENTITY_USER_MANAGE)


@control(
    "identity.it_admins_without_clinical_access",
    title="No IT administrator holds clinical permissions",
    maps=(
        "hipaa:164.308(a)(4)(ii)(B)",
        "hipaa:164.312(a)(1)",
        "iso27001-2022:A.5.3",
        "iso27001-2022:A.8.2",
        "csf2:PR.AA-05",
        "hicp:3.L.B",
        "onc:170.315(d)(1)",
    ),
)
def it_admins_without_clinical_access(now: dt.datetime) -> Iterator[Check]:
    """Separation of duties: every active account that administers accounts
    (a role granting `identity:user:manage`, the IT administrator's) holds no
    clinical permission through any of its active roles."""
    for holder in selectors.holders_of_permission_roles(permission=_it_administration()):
        clinical = sorted(
            {
                perm
                for perms in holder.roles.values()
                for perm in perms
                if perm.split(":", 1)[0] == CLINICAL_SCOPE
            }
        )
        yield Check(
            "account",
            str(holder.user_id),
            holder.username,
            passed=not clinical,
            evidence={
                "roles": sorted(holder.roles),
                "clinical_permissions": clinical,
                "clinical_roles": sorted(
                    code
                    for code, perms in holder.roles.items()
                    if any(p.split(":", 1)[0] == CLINICAL_SCOPE for p in perms)
                ),
            },
        )


@control(
    "identity.privileged_roles_two_person",
    title="Two-person approval for every privileged role assignment",
    maps=(
        "hipaa:164.308(a)(4)(ii)(C)",
        "hipaa:164.308(a)(3)(ii)(A)",
        "iso27001-2022:A.8.2",
        "iso27001-2022:A.5.3",
        "iso27001-2022:A.5.18",
        "csf2:PR.AA-05",
        "hicp:3.M.B",
        "onc:170.315(d)(1)",
    ),
)
def privileged_roles_two_person(now: dt.datetime) -> Iterator[Check]:
    """Every active assignment of a privileged role was requested by one
    person and approved by another, neither of them the grantee. A grant made
    at the command line (bootstrap, no requester) has no second person and
    fails: record an exception for the first administrators, with its reason
    and expiry, or re-grant through the two-person flow."""
    for grant in selectors.privileged_assignments_active():
        people = {"requested_by": grant.requested_by_id, "approved_by": grant.decided_by_id}
        problems = []
        if grant.requested_by_id is None:
            problems.append("granted at the command line")
        if grant.decided_by_id is None:
            problems.append("no approver")
        elif grant.decided_by_id in {grant.requested_by_id, grant.user_id}:
            problems.append("approved by the requester or the grantee")
        if grant.requested_by_id is not None and grant.requested_by_id == grant.user_id:
            problems.append("requested by the grantee")
        yield Check(
            "role_assignment",
            str(grant.assignment_id),
            f"{grant.role} for {grant.username}",
            passed=not problems,
            evidence={
                **people,
                "grantee": grant.user_id,
                "role": grant.role,
                "requested_at": _iso(grant.requested_at),
                "approved_at": _iso(grant.decided_at),
                "problems": problems,
            },
        )
