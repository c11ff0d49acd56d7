"""Workforce's control tests (issue 18; contract: safeward/compliance.py;
ADR 0920): training current, access reviews on time, no leaver with live
access, every account governed by a workforce record. People are named by
employee number and username, never by name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings

from safeward.compliance import Check, control
from safeward.identity import selectors as identity_selectors
from safeward.workforce import selectors


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@control(
    "workforce.training_current",
    title="Security training current",
    maps=(
        "hipaa:164.308(a)(5)",
        "iso27001-2022:A.6.3",
        "csf2:PR.AT-01",
        "csf2:PR.AT-02",
        "hicp:10.M.C",
        "hicp:1.M.D",
    ),
)
def training_current(now: dt.datetime) -> Iterator[Check]:
    """Every active person has completed every training assignment whose due
    date has passed (overdue training also narrows access on every request,
    docs/workforce.md; this shows who is in that state)."""
    for person in selectors.training_standing(now=now):
        yield Check(
            "person",
            str(person.person_id),
            person.username or person.employee_number,
            passed=person.overdue == 0,
            evidence={
                "employee_number": person.employee_number,
                "overdue_assignments": person.overdue,
                "overdue_since": _iso(person.overdue_since),
                "days_overdue": (now - person.overdue_since).days if person.overdue_since else 0,
            },
        )


@control(
    "workforce.access_reviews_on_time",
    title="Access reviews done on time",
    maps=(
        "hipaa:164.308(a)(4)(ii)(C)",
        "hipaa:164.308(a)(3)(ii)(B)",
        "iso27001-2022:A.5.18",
        "csf2:PR.AA-05",
        "hicp:3.L.C",
    ),
)
def access_reviews_on_time(now: dt.datetime) -> Iterator[Check]:
    """Every active person whose account holds roles had them reviewed (an
    item attested or revoked) within SAFEWARD_ACCESS_REVIEW_INTERVAL_DAYS, or
    was activated less than that long ago, and has no review item left
    pending past its due time."""
    interval = dt.timedelta(days=settings.SAFEWARD_ACCESS_REVIEW_INTERVAL_DAYS)
    for person in selectors.review_standing(
        user_ids=identity_selectors.user_ids_with_active_roles(), now=now
    ):
        recent = person.last_decided_at is not None and now - person.last_decided_at <= interval
        new_starter = person.activated_at is not None and now - person.activated_at <= interval
        yield Check(
            "person",
            str(person.person_id),
            person.username,
            passed=(recent or new_starter) and person.overdue == 0,
            evidence={
                "employee_number": person.employee_number,
                "last_reviewed_at": _iso(person.last_decided_at),
                "activated_at": _iso(person.activated_at),
                "interval_days": interval.days,
                "overdue_items": person.overdue,
                "oldest_overdue_due_at": _iso(person.oldest_overdue_due_at),
            },
        )


@control(
    "workforce.no_access_after_termination",
    title="No terminated person with live access",
    maps=(
        "hipaa:164.308(a)(3)(ii)(C)",
        "iso27001-2022:A.5.18",
        "iso27001-2022:A.5.16",
        "csf2:PR.AA-01",
        "csf2:PR.AA-05",
        "hicp:3.S.B",
        "hicp:3.M.B",
    ),
)
def no_access_after_termination(now: dt.datetime) -> Iterator[Check]:
    """Every person whose access has ended (terminated, or the end moment
    passed) has a disabled account, no live session, no session used after
    the end moment, and no live OAuth2 token."""
    leavers = selectors.leavers_with_accounts(now=now)
    access = identity_selectors.accounts_access(
        user_ids=[leaver.user_id for leaver in leavers],
        now=now,
        idle=dt.timedelta(minutes=settings.SAFEWARD_SESSION_IDLE_MINUTES),
        lifetime=dt.timedelta(hours=settings.SAFEWARD_SESSION_ABSOLUTE_HOURS),
    )
    for leaver in leavers:
        account = access[leaver.user_id]
        ended = leaver.ended_at
        used_after = account.last_seen_at is not None and ended is not None and account.last_seen_at > ended
        problems = [
            text
            for text, present in (
                ("account still enabled", account.is_active),
                ("live sessions", account.live_sessions > 0),
                ("session used after access ended", used_after),
                ("live OAuth2 tokens", account.live_tokens > 0),
            )
            if present
        ]
        yield Check(
            "person",
            str(leaver.person_id),
            account.username,
            passed=not problems,
            evidence={
                "employee_number": leaver.employee_number,
                "status": leaver.status,
                "access_ended_at": _iso(ended),
                "account_active": account.is_active,
                "live_sessions": account.live_sessions,
                "last_session_use": _iso(account.last_seen_at),
                "live_tokens": account.live_tokens,
                "problems": problems,
            },
        )


@control(
    "workforce.accounts_have_workforce_record",
    title="Every active account governed by a workforce record",
    maps=(
        "hipaa:164.308(a)(3)(ii)(A)",
        "hipaa:164.312(a)(2)(i)",
        "iso27001-2022:A.5.16",
        "csf2:PR.AA-01",
        "hicp:3.M.A",
    ),
)
def accounts_have_workforce_record(now: dt.datetime) -> Iterator[Check]:
    """Every active account belongs to a person in the workforce record, so
    onboarding gates, training, access reviews and termination reach it.
    Bootstrap and service accounts fail here on purpose: each needs an
    exception with a reason, an approver and an expiry, which is its review."""
    for user_id, username, person_id in selectors.active_accounts_people():
        yield Check(
            "account",
            str(user_id),
            username,
            passed=person_id is not None,
            evidence={"person_id": person_id},
        )
